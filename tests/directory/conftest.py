"""A bare Flask app on in-memory SQLite with the directory tables, one per test."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

import psc_idp.directory.models  # noqa: F401  (registers the tables)
from psc_idp.db import db
from psc_idp.directory.models import Activity, Practice, Professional, Structure


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
    return db.session


@pytest.fixture
def row_counts(session: Session) -> Callable[[], dict[str, int]]:
    """How many rows each directory table holds: proves a failed load wrote nothing."""

    def count() -> dict[str, int]:
        return {model.__name__: session.scalar(select(func.count()).select_from(model))
                for model in (Structure, Professional, Practice, Activity)}

    return count
