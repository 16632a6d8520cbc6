"""A bare Flask app on in-memory SQLite with the directory tables, one per test."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from psc_idp.db import db
from psc_idp.directory.models import Activity, Practice, Professional, Structure
from tests.bare_app import app  # noqa: F401  (the fixture)


@pytest.fixture
def session(app) -> Session:  # noqa: F811
    return db.session


@pytest.fixture
def row_counts(session: Session) -> Callable[[], dict[str, int]]:
    """How many rows each directory table holds: proves a failed load wrote nothing."""

    def count() -> dict[str, int]:
        return {model.__name__: session.scalar(select(func.count()).select_from(model))
                for model in (Structure, Professional, Practice, Activity)}

    return count
