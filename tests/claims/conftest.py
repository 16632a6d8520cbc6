"""A bare Flask app on in-memory SQLite holding the demo directory, one per test."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

import psc_idp.directory.models  # noqa: F401  (registers the tables)
from psc_idp.db import db
from psc_idp.directory.loader import load_demo_directory
from psc_idp.directory.models import Professional

FEDERATION_ID = "550dc1c8-d97b-4b1e-ac8c-8eb4471cf9dd"


@pytest.fixture
def app() -> Iterator[Flask]:
    app = Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = "sqlite://"
    db.init_app(app)
    with app.app_context():
        db.create_all()
        yield app
        db.session.remove()
        for engine in db.engines.values():
            engine.dispose()


@pytest.fixture
def session(app: Flask) -> Session:
    load_demo_directory(db.session)
    return db.session


@pytest.fixture
def persona(session: Session) -> Callable[[str], Professional]:
    """Look a demo persona up by RPPS."""

    def get(rpps: str) -> Professional:
        professional = session.scalar(select(Professional).filter_by(rpps=rpps))
        assert professional is not None, rpps
        return professional

    return get
