"""The e-CPS devices' statements on the login's hot path (the phone's bearer token, the
professional's devices, the PIN counter) in SQLAlchemy Core, built once as ``Prepared``
(``prepared.py``: compiled once per dialect, run on the request connection's cursor, same
transaction), returning frozen rows.

The ORM model (``models.EcpsDevice``) stays for activation, renewal, webhooks, revocation and
the admin side: those load the ORM instance by id when they change it.

The PIN counter (``lock_for_pin``, ``count_wrong_pin``, ``clear_pin_failures``) is counted
under the device row's lock: the device is read locked (``SELECT … FOR UPDATE`` on PostgreSQL,
in the answer's first statement; on SQLite a no-op ``UPDATE … RETURNING`` that takes the
database's single write lock), the PIN is checked, then a wrong PIN is counted (and the e-CPS
blocked at the limit) in one ``UPDATE``, all before the lock is released at the commit. Any
number of parallel answers for one device thus check one PIN at a time, each seeing the count
the previous one left: no more than ``ecps.pin_attempts`` wrong PINs are ever checked.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from ..directory.models import Professional
from ..prepared import Prepared, request_connection
from .models import EcpsChallenge, EcpsDevice
from .store import ChallengeRow

_DEV, _CH, _PRO = EcpsDevice.__table__, EcpsChallenge.__table__, Professional.__table__


@dataclass(frozen=True, slots=True)
class DeviceRow:
    """One ``ecps_device`` row, with the attribute names of the model."""

    id: str
    professional_id: int
    name: str
    public_key_pem: str
    token_digest: str
    pin_hash: str
    pin_failures: int
    otp_secret_encrypted: str
    last_otp_step: int
    otp_failures: int
    activated_at: datetime
    usable_from: datetime
    expires_at: datetime
    revoked_at: datetime | None
    blocked_at: datetime | None
    push_webhook: str


_DEVICE_FIELDS = list(DeviceRow.__dataclass_fields__)
_CHALLENGE_FIELDS = list(ChallengeRow.__dataclass_fields__)
_DEVICE_COLUMNS = [_DEV.c[n] for n in _DEVICE_FIELDS]
_DEVICE_LABELLED = [c.label("d_" + c.name) for c in _DEVICE_COLUMNS]
"""The device's columns beside another table's (read back by ``_device(m, "d_")``)."""
_CHALLENGE_LABELLED = [_CH.c[n].label("c_" + n) for n in _CHALLENGE_FIELDS]
"""The challenge's columns beside another table's (``_challenge(m, "c_")``)."""

_BY_TOKEN = sa.select(*_DEVICE_COLUMNS).where(_DEV.c.token_digest == sa.bindparam("digest"))
_BY_ID = sa.select(*_DEVICE_COLUMNS).where(_DEV.c.id == sa.bindparam("device_id"))
_OF_PROFESSIONAL = (sa.select(*_DEVICE_COLUMNS)
                    .where(_DEV.c.professional_id == sa.bindparam("pid"))
                    .order_by(_DEV.c.activated_at))

# Before a push (PostgreSQL): the professional's row locked (the pending-push cap, see
# ``ecps.supersede_pending``) and their devices, in one statement.
_OF_PROFESSIONAL_LOCKING = (
    sa.select(*_DEVICE_LABELLED)
    .select_from(_PRO.outerjoin(_DEV, _DEV.c.professional_id == _PRO.c.id))
    .where(_PRO.c.id == sa.bindparam("pid"))
    .order_by(_DEV.c.activated_at)
    .with_for_update(of=_PRO))

# The phone's long-poll: its device and the professional's pending logins in one statement
# (a device without any: one row whose challenge columns are NULL).
_PENDING_JOIN = sa.and_(_CH.c.professional_id == _DEV.c.professional_id,
                        _CH.c.status == "pending", _CH.c.expires_at > sa.bindparam("now"))
_WITH_PENDING = (
    sa.select(*_DEVICE_LABELLED,
              *_CHALLENGE_LABELLED)
    .select_from(_DEV.outerjoin(_CH, _PENDING_JOIN))
    .order_by(_CH.c.created_at, _CH.c.id))
_BY_TOKEN_WITH_PENDING = _WITH_PENDING.where(_DEV.c.token_digest == sa.bindparam("digest"))
_BY_ID_WITH_PENDING = _WITH_PENDING.where(_DEV.c.id == sa.bindparam("device_id"))
"""The phone's event stream: its device (revoked meanwhile?) and the pending logins."""
_PENDING = (sa.select(*(_CH.c[n] for n in _CHALLENGE_FIELDS))
            .where(_CH.c.professional_id == sa.bindparam("pid"), _CH.c.status == "pending",
                   _CH.c.expires_at > sa.bindparam("now"))
            .order_by(_CH.c.created_at, _CH.c.id))

# The phone's answer: its device, the challenge (if it is this professional's) and the
# professional's national id (the audit subject) in one statement; locked for an approval.
_ANSWER_LOOK = (
    sa.select(*_DEVICE_LABELLED,
              *_CHALLENGE_LABELLED,
              _PRO.c.national_id.label("p_national_id"))
    .select_from(_DEV.join(_PRO, _PRO.c.id == _DEV.c.professional_id)
                 .outerjoin(_CH, sa.and_(_CH.c.id == sa.bindparam("cid"),
                                         _CH.c.professional_id == _DEV.c.professional_id)))
    .where(_DEV.c.token_digest == sa.bindparam("digest")))
_ANSWER_LOOK_LOCKED = _ANSWER_LOOK.with_for_update(of=_DEV)
"""PostgreSQL: the device row stays locked until the answer commits (SQLite ignores it)."""
_BY_ID_LOCKED = _BY_ID.with_for_update()
_LOCK = (_DEV.update().where(_DEV.c.id == sa.bindparam("device_id"))
         .values(pin_failures=_DEV.c.pin_failures).returning(*_DEVICE_COLUMNS))
"""SQLite: a no-op write takes the single write lock; the row as it is under it."""
_WRONG_PIN = (_DEV.update()
              .where(_DEV.c.id == sa.bindparam("device_id"), _DEV.c.blocked_at.is_(None),
                     _DEV.c.revoked_at.is_(None))
              .values(pin_failures=_DEV.c.pin_failures + 1,
                      blocked_at=sa.case((_DEV.c.pin_failures + 1 >= sa.bindparam("limit"),
                                          sa.bindparam("now", type_=sa.DateTime())),
                                         else_=None))
              .returning(_DEV.c.pin_failures, _DEV.c.blocked_at))
_CLEAR_PIN_FAILURES = (_DEV.update().where(_DEV.c.id == sa.bindparam("device_id"))
                       .values(pin_failures=0))
_CLEAR_AND_REHASH = (_DEV.update().where(_DEV.c.id == sa.bindparam("device_id"))
                     .values(pin_failures=0, pin_hash=sa.bindparam("pin_hash")))


# Compiled once per dialect, run on the request connection's cursor (``prepared.py``).
(_BY_TOKEN, _BY_ID, _OF_PROFESSIONAL, _OF_PROFESSIONAL_LOCKING, _BY_TOKEN_WITH_PENDING,
 _BY_ID_WITH_PENDING, _PENDING, _ANSWER_LOOK, _ANSWER_LOOK_LOCKED, _BY_ID_LOCKED, _LOCK,
 _WRONG_PIN, _CLEAR_PIN_FAILURES, _CLEAR_AND_REHASH) = (
    Prepared(statement) for statement in (
        _BY_TOKEN, _BY_ID, _OF_PROFESSIONAL, _OF_PROFESSIONAL_LOCKING, _BY_TOKEN_WITH_PENDING,
        _BY_ID_WITH_PENDING, _PENDING, _ANSWER_LOOK, _ANSWER_LOOK_LOCKED, _BY_ID_LOCKED, _LOCK,
        _WRONG_PIN, _CLEAR_PIN_FAILURES, _CLEAR_AND_REHASH))

def _device(m: Any, prefix: str = "") -> DeviceRow:
    return DeviceRow(**{n: m[prefix + n] for n in _DEVICE_FIELDS})


def _challenge(m: Any, prefix: str = "") -> ChallengeRow | None:
    if m[prefix + "id"] is None:
        return None
    return ChallengeRow(**{n: m[prefix + n] for n in _CHALLENGE_FIELDS})


def by_token_digest(digest: str) -> DeviceRow | None:
    row = _BY_TOKEN.execute({"digest": digest}).first()
    return _device(row._mapping) if row is not None else None


def by_id(device_id: str) -> DeviceRow | None:
    row = _BY_ID.execute({"device_id": device_id[:36]}).first()
    return _device(row._mapping) if row is not None else None


def of_professional(professional_id: int) -> list[DeviceRow]:
    """The professional's devices, oldest activation first."""
    return [_device(r._mapping) for r in _OF_PROFESSIONAL.execute({"pid": professional_id})]


def of_professional_locking(professional_id: int) -> tuple[list[DeviceRow], bool]:
    """``of_professional``, and on PostgreSQL the professional's row locked by the same
    statement until the commit: (devices, True); on SQLite the devices alone: (devices,
    False) (its lock is a write, taken when the push is created)."""
    connection = request_connection()
    if connection.dialect.name != "postgresql":
        return of_professional(professional_id), False
    rows = _OF_PROFESSIONAL_LOCKING.execute({"pid": professional_id}, connection).all()
    return [_device(r._mapping, "d_") for r in rows if r.d_id is not None], True


def pending(professional_id: int, now: datetime) -> list[ChallengeRow]:
    """The professional's pending logins not yet expired, oldest first."""
    return [ChallengeRow(**r._mapping)
            for r in _PENDING.execute({"pid": professional_id, "now": now})]


def by_token_digest_with_pending(digest: str, now: datetime
                                 ) -> tuple[DeviceRow, list[ChallengeRow]] | None:
    """The device and its professional's pending logins (as ``pending``) in one statement."""
    return _with_pending(_BY_TOKEN_WITH_PENDING.execute({"digest": digest, "now": now}).all())


def by_id_with_pending(device_id: str, now: datetime
                       ) -> tuple[DeviceRow, list[ChallengeRow]] | None:
    """As ``by_token_digest_with_pending``, by the device's id."""
    return _with_pending(_BY_ID_WITH_PENDING.execute({"device_id": device_id[:36],
                                                      "now": now}).all())


def _with_pending(rows: list[Any]) -> tuple[DeviceRow, list[ChallengeRow]] | None:
    if not rows:
        return None
    challenges = [_challenge(r._mapping, "c_") for r in rows]
    return _device(rows[0]._mapping, "d_"), [c for c in challenges if c is not None]


@dataclass(frozen=True, slots=True)
class AnswerLook:
    device: DeviceRow
    challenge: ChallengeRow | None
    national_id: str
    locked: bool
    """Read with ``lock=True`` (on PostgreSQL the device row is locked until the commit)."""


def answer_look(digest: str, challenge_id: str, lock: bool) -> AnswerLook | None:
    """The device of this token, the challenge if it belongs to the same professional, and the
    professional's national id; ``lock``: the device row stays locked until the commit (on
    SQLite, see ``lock_for_pin``)."""
    statement = _ANSWER_LOOK_LOCKED if lock else _ANSWER_LOOK
    row = statement.execute({"digest": digest, "cid": challenge_id[:36]}).first()
    if row is None:
        return None
    m = row._mapping
    return AnswerLook(_device(m, "d_"), _challenge(m, "c_"), m["p_national_id"], lock)


def lock_for_pin(look: AnswerLook) -> DeviceRow | None:
    """The device row as it is under its lock, held until the commit: on PostgreSQL taken by
    ``answer_look(lock=True)`` (the row it read is the locked one) or else now; on SQLite a
    no-op write takes the database's write lock now."""
    connection = request_connection()
    if connection.dialect.name == "postgresql":
        if look.locked:
            return look.device
        row = _BY_ID_LOCKED.execute({"device_id": look.device.id}, connection).first()
    else:
        row = _LOCK.execute({"device_id": look.device.id}, connection).first()
    return _device(row._mapping) if row is not None else None


def count_wrong_pin(device_id: str, limit: int, now: datetime) -> tuple[int, datetime | None]:
    """One wrong PIN more (the caller holds the lock): the new count, and when the e-CPS was
    blocked (this count reached ``limit``) or None."""
    row = _WRONG_PIN.execute({"device_id": device_id, "limit": limit, "now": now}).first()
    if row is None:  # blocked or revoked meanwhile: cannot happen under the lock
        return limit, now
    return row.pin_failures, row.blocked_at


def clear_pin_failures(device_id: str, pin_hash: str | None = None) -> None:
    """A right PIN: the count back to 0 (and a legacy hash replaced by ``pin_hash``)."""
    if pin_hash is None:
        _CLEAR_PIN_FAILURES.execute({"device_id": device_id})
    else:
        _CLEAR_AND_REHASH.execute({"device_id": device_id, "pin_hash": pin_hash})
