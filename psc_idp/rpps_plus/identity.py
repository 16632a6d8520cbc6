"""The identity key: the matching rule's data as one value the database can keep unique.

The matching rule (``service.py``) compares the family name and the first given name folded
(upper case, no accents, single spaces, ``’`` as ``'``), the birth date and the birth place
code. Their SHA-256 is stored on a person RPPS+ created or matched
(``professional.identity_key``, unique) and on a registration
(``rpps_plus_registration.identity_key``, unique among the waiting ones): the unique indexes
turn "one person" and "one waiting request per person" into single atomic inserts, on SQLite
and PostgreSQL and across instances, where a look-up then an insert would race.
"""

from __future__ import annotations

import hashlib
from datetime import date

from .form import fold


def identity_key(family_name: str, given_names: str, birth_date: date | None,
                 birth_place_code: str) -> str | None:
    """Hex SHA-256 of the folded matching data; None when some of it is missing (such a
    person is never matched, so never keyed)."""
    words = (given_names or "").split()
    if birth_date is None or not words or not (family_name or "").strip():
        return None
    parts = (fold(family_name), fold(words[0]), birth_date.isoformat(), birth_place_code or "")
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def key_of(row: object) -> str | None:
    """The key of a registration (``given_names``) or a directory person (``given_name``)."""
    given = getattr(row, "given_names", None)
    if given is None:
        given = getattr(row, "given_name", "")
    return identity_key(getattr(row, "family_name", ""), given or "",
                        getattr(row, "birth_date", None), getattr(row, "birth_place_code", ""))
