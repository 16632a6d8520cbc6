"""The e-CPS login's challenge statements in Core, built once as ``Prepared``
(``prepared.py``: compiled once per dialect, run on the request connection's cursor, same
transaction): SELECTs into frozen rows, and every status change
as one conditional UPDATE (``… WHERE id = :id AND status = 'pending'``) whose row count says
whether this request made it, so an answer, a withdrawal or an expiry happens once however
many requests race for it, on SQLite and PostgreSQL.

``login_look`` is what the waiting login reads at each look (status, finish, events): the
challenge, whether its professional still has a usable e-CPS, and the professional's
identifier and refusal columns, in one statement.

The ORM model (``models.EcpsChallenge``) stays for CIBA's polling state and the admin side.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from ..db import db
from ..directory.models import Professional
from ..prepared import Prepared
from .models import EcpsChallenge, EcpsDevice

_TABLE = EcpsChallenge.__table__
_DEV, _PRO = EcpsDevice.__table__, Professional.__table__


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


@dataclass(frozen=True, slots=True)
class ProfessionalFlags:
    """What a login needs of the professional to finish: who, and whether they may sign in
    (the attributes ``directory.lookup.login_refusal`` reads)."""

    id: int
    national_id: str
    means_blocked: bool
    ended_on: date | None


@dataclass(frozen=True, slots=True)
class LoginLook:
    challenge: ChallengeRow
    usable_device: bool
    """The professional has at least one usable e-CPS now (not revoked, blocked, expired or
    in its activation delay)."""
    professional: ProfessionalFlags


_FIELDS = list(ChallengeRow.__dataclass_fields__)
_COLUMNS = [_TABLE.c[n] for n in _FIELDS]
_SELECT = sa.select(*_COLUMNS).where(_TABLE.c.id == sa.bindparam("cid"))
_INSERT = _TABLE.insert()
_SETTLE = (_TABLE.update()
           .where(_TABLE.c.id == sa.bindparam("cid"), _TABLE.c.status == "pending")
           .values(status=sa.bindparam("status")))
_ANSWER = (_TABLE.update()
           .where(_TABLE.c.id == sa.bindparam("cid"), _TABLE.c.status == "pending")
           .values(status=sa.bindparam("status"), device_id=sa.bindparam("device_id"),
                   answered_at=sa.bindparam("answered_at")))
_SET_DATA = (_TABLE.update().where(_TABLE.c.id == sa.bindparam("cid"))
             .values(data=sa.bindparam("data", type_=_TABLE.c.data.type)))
_NOW = sa.bindparam("now", type_=sa.DateTime())
_USABLE = sa.exists().where(_DEV.c.professional_id == _TABLE.c.professional_id,
                            _DEV.c.revoked_at.is_(None), _DEV.c.blocked_at.is_(None),
                            _DEV.c.expires_at > _NOW, _DEV.c.usable_from <= _NOW)
_LOOK = (sa.select(*_COLUMNS, _USABLE.label("usable_device"),
                   _PRO.c.national_id.label("p_national_id"),
                   _PRO.c.means_blocked.label("p_means_blocked"),
                   _PRO.c.ended_on.label("p_ended_on"))
         .select_from(_TABLE.join(_PRO, _PRO.c.id == _TABLE.c.professional_id))
         .where(_TABLE.c.id == sa.bindparam("cid")))


# Compiled once per dialect, run on the request connection's cursor (``prepared.py``).
_SELECT, _INSERT, _SETTLE, _ANSWER, _SET_DATA, _LOOK = (
    Prepared(statement) for statement in (_SELECT, _INSERT, _SETTLE, _ANSWER, _SET_DATA, _LOOK))

def challenge(challenge_id: str) -> ChallengeRow | None:
    row = _SELECT.execute({"cid": challenge_id[:36]}).first()
    return ChallengeRow(**row._mapping) if row is not None else None


def login_look(challenge_id: str, now: datetime) -> LoginLook | None:
    """The challenge, whether a usable e-CPS remains, and its professional: one statement."""
    row = _LOOK.execute({"cid": challenge_id[:36], "now": now}).first()
    if row is None:
        return None
    m: Any = row._mapping
    return LoginLook(ChallengeRow(**{n: m[n] for n in _FIELDS}), bool(m["usable_device"]),
                     ProfessionalFlags(m["professional_id"], m["p_national_id"],
                                       bool(m["p_means_blocked"]), m["p_ended_on"]))


def insert(row: ChallengeRow) -> None:
    """A new challenge (pending ORM rows flushed first: it points to the professional)."""
    if db.session.new:
        db.session.flush()
    values = dataclasses.asdict(row)
    _INSERT.execute(values)


def settle(row: ChallengeRow, status: str, **values: Any) -> ChallengeRow | None:
    """``pending`` → ``status`` (approved, denied, cancelled, expired) if still pending: the
    row as it now is, or None when another request changed it first. ``values``: the
    answer's ``device_id`` and ``answered_at`` (both or none)."""
    if values:
        params = {"cid": row.id, "status": status, "device_id": values["device_id"],
                  "answered_at": values["answered_at"]}
        changed = _ANSWER.execute(params).rowcount == 1
    else:
        changed = _SETTLE.execute({"cid": row.id, "status": status}).rowcount == 1
    return dataclasses.replace(row, status=status, **values) if changed else None


def set_data(row: ChallengeRow, data: dict[str, Any]) -> ChallengeRow:
    """The origin's state (CIBA's polling state) replaced: the row as it now is."""
    _SET_DATA.execute({"cid": row.id, "data": data})
    return dataclasses.replace(row, data=data)


def effective_status(row: ChallengeRow, now: datetime) -> str:
    """The status, ``expired`` for a pending row past its expiry (not written: see
    ``settle``)."""
    return "expired" if row.status == "pending" and now >= row.expires_at else row.status
