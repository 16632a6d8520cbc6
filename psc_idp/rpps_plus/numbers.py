"""RPPS numbers for validated RPPS+ registrations: unique under concurrency.

The next number is one more than the highest already in psc-idp's RPPS+ range; the
``professional.rpps`` and ``national_id`` unique constraints are the arbiter. Two validations
that computed the same number at once both try to insert it: the second insert fails (on
PostgreSQL it waits for the first transaction, then fails), only its savepoint is rolled back,
and it tries the next number. On SQLite the validation's first statement (the conditional
UPDATE of the registration) already holds the database's write lock, so the maximum it reads is
final.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from ..db import db
from ..directory.models import Professional
from ..directory.national_id import is_valid_rpps, make_rpps

SERIAL_BASE = 1_009_800_000
"""RPPS bodies ``1009800001``…``1009899999``: psc-idp's RPPS+ range, below the demo personas'
``100999xxxx`` (real RPPS+ numbers are also ``10…``; the range only keeps ours recognisable)."""
SERIAL_END = 1_009_900_000
ATTEMPTS = 50


def _range_bounds() -> tuple[str, str]:
    return f"{SERIAL_BASE:010d}0", f"{SERIAL_END:010d}0"


def next_rpps() -> str:
    """One more than the highest RPPS of the range in the directory (valid key)."""
    low, high = _range_bounds()
    highest = db.session.scalar(select(func.max(Professional.rpps)).where(
        Professional.rpps >= low, Professional.rpps < high))
    serial = int(highest[:10]) + 1 if highest else SERIAL_BASE + 1
    if serial >= SERIAL_END:
        raise RuntimeError("the RPPS+ number range is exhausted")
    rpps = make_rpps(serial)
    assert is_valid_rpps(rpps)
    return rpps


def insert_with_new_rpps(build: Callable[[str], Professional],
                         stop: Callable[[], bool] | None = None) -> Professional | None:
    """Insert ``build(rpps)`` with a fresh number, retrying on a number taken meanwhile.
    ``stop``: asked after a failed insert; True means another of the row's unique values was
    the conflict (the caller's business): None is returned instead of trying a new number."""
    for _ in range(ATTEMPTS):
        rpps = next_rpps()
        professional = build(rpps)
        try:
            with db.session.begin_nested():
                db.session.add(professional)
                db.session.flush()
        except IntegrityError:  # taken meanwhile: the savepoint's rollback expunged the row
            if stop is not None and stop():
                return None
            continue
        return professional
    raise RuntimeError("no free RPPS+ number after several attempts")
