"""A bare Flask app on in-memory SQLite with psc-idp's tables: for the directory and claims
tests, which need the models but none of the provider."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask

import psc_idp.directory.models  # noqa: F401  (registers the tables)
from psc_idp.db import db


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
