"""A bare Flask app on in-memory SQLite holding the demo directory, one per test."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from psc_idp.db import db
from psc_idp.directory.loader import load_demo_directory
from psc_idp.directory.models import Professional
from tests.bare_app import app  # noqa: F401  (the fixture)

FEDERATION_ID = "550dc1c8-d97b-4b1e-ac8c-8eb4471cf9dd"


@pytest.fixture
def session(app) -> Session:  # noqa: F811
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
