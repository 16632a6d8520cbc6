"""Reading the directory inside a Flask app context (``db.session``).

The login form, CIBA ``login_hint`` and the CLI all take what a person typed; ``find_by_identifier``
normalises it first (national id or bare RPPS, check digit verified) so a typo is a clean "not
found" rather than a query on garbage.
"""

from __future__ import annotations

from sqlalchemy import select

from ..db import db
from .models import Professional
from .national_id import parse_identifier


def find_by_national_id(national_id: str) -> Professional | None:
    """The professional whose national identifier (``8`` + RPPS) is exactly ``national_id``."""
    return db.session.scalar(select(Professional).filter_by(national_id=national_id))


def find_by_identifier(text: str) -> Professional | None:
    """Accepts a national id or an RPPS, with stray whitespace; None if malformed or unknown."""
    national_id = parse_identifier(text)
    if national_id is None:
        return None
    return find_by_national_id(national_id)


def list_professionals() -> list[Professional]:
    """Everyone in the directory, by family name, given name then national id (stable order)."""
    query = select(Professional).order_by(
        Professional.family_name, Professional.given_name, Professional.national_id)
    return list(db.session.scalars(query))
