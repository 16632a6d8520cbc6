"""The e-CPS login's challenge statements in Core: one SELECT into a frozen row, and every
status change as one conditional UPDATE (``… WHERE id = :id AND status = 'pending'``) whose
row count says whether this request made it, so an answer, a withdrawal or an expiry happens
once however many requests race for it, on SQLite and PostgreSQL.

The ORM model (``models.EcpsChallenge``) stays for creation, CIBA and the admin side.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from ..db import db
from .models import EcpsChallenge

_TABLE = EcpsChallenge.__table__
_SELECT = sa.select(*_TABLE.columns)


@dataclass(frozen=True)
class ChallengeRow:
    """One ``ecps_challenge`` row, with the attribute names of the model."""

    id: str
    professional_id: int
    client_id: str
    service_name: str
    binding_code: str
    origin: str
    status: str
    device_id: str | None
    created_at: datetime
    expires_at: datetime
    answered_at: datetime | None
    data: dict[str, Any]


def challenge(challenge_id: str) -> ChallengeRow | None:
    row = db.session.execute(_SELECT.where(_TABLE.c.id == challenge_id[:36])).first()
    return ChallengeRow(**row._mapping) if row is not None else None


def settle(row: ChallengeRow, status: str, **values: Any) -> ChallengeRow | None:
    """``pending`` → ``status`` (approved, denied, cancelled, expired) if still pending: the
    row as it now is, or None when another request changed it first."""
    changed = db.session.execute(
        sa.update(_TABLE).where(_TABLE.c.id == row.id, _TABLE.c.status == "pending")
        .values(status=status, **values)).rowcount == 1
    return dataclasses.replace(row, status=status, **values) if changed else None


def effective_status(row: ChallengeRow, now: datetime) -> str:
    """The status, ``expired`` for a pending row past its expiry (not written: see
    ``settle``)."""
    return "expired" if row.status == "pending" and now >= row.expires_at else row.status
