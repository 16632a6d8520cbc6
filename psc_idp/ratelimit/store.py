"""A ``limits`` storage kept in psc-idp's own database, so that every process and instance on
that database shares the counters without another server (Redis is optional).

One row per counter and window: ``rate_limit_counter(key, count, expires_at)``. ``incr`` is a
single atomic upsert, on SQLite and PostgreSQL alike::

    INSERT INTO rate_limit_counter (key, count, expires_at) VALUES (:key, :amount, :now + :expiry)
    ON CONFLICT (key) DO UPDATE SET
        count      = CASE WHEN expires_at <= :now THEN :amount ELSE count + :amount END,
        expires_at = CASE WHEN expires_at <= :now THEN :now + :expiry ELSE expires_at END
    RETURNING count

so two requests never read the same count (PostgreSQL locks the conflicting row, SQLite has one
writer), and a window that ended starts afresh in the same statement. This is the fixed-window
semantics of ``limits``' own Redis and memory storages (the window opens at the first hit and
lasts ``expiry`` seconds).

A count runs on the request's own database session and **commits it at once**, as
``credentials/attempts.py`` does: the count is visible to every other request before the work
it guards (an argon2 check, messages sent), and the request needs no second connection (a
second one per request could exhaust a small pool under load, and on SQLite would wait for the
request's own write lock). So callers count before writing anything that must not be
committed yet: psc-idp counts at the start of the requests it limits, or after their commit.
"""

from __future__ import annotations

import hashlib
import random
import time

import sqlalchemy as sa
from limits.storage import Storage
from sqlalchemy import Float, Integer, String
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Mapped, Session, mapped_column

from ..db import db
from ..prepared import Prepared, request_connection

KEY_LENGTH = 200
PURGE_EVERY = 200
"""On average once in this many increments, counters whose window ended a minute ago are
deleted (a counter lives one window: the table stays as small as the current abuse)."""


class RateLimitCounter(db.Model):
    """One abuse-limit counter in its current fixed window (``ratelimit/store.py``)."""

    __tablename__ = "rate_limit_counter"

    key: Mapped[str] = mapped_column(String(KEY_LENGTH), primary_key=True)
    """The ``limits`` key (limit, identifiers, window); hashed when longer than 200."""
    count: Mapped[int] = mapped_column(Integer, default=0)
    expires_at: Mapped[float] = mapped_column(Float, index=True)
    """When the window ends, in seconds since the epoch (the machine's clock, not the
    emulated one: abuse is measured in real time)."""


_table = RateLimitCounter.__table__
_LIVE = (_table.c.key == sa.bindparam("b_key"), _table.c.expires_at > sa.bindparam("b_now"))
_COUNT = Prepared(sa.select(_table.c.count).where(*_LIVE))
"""A counter's value while its window lasts: read on every guarded request (prebuilt)."""
_EXPIRY = Prepared(sa.select(_table.c.expires_at).where(*_LIVE))


def _key(key: str) -> str:
    if len(key) <= KEY_LENGTH:
        return key
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()


class SqlStorage(Storage):
    """``limits`` storage over the app's database session (SQLite or PostgreSQL)."""

    STORAGE_SCHEME = None  # built by psc-idp over its session, never from a URL

    def __init__(self, wrap_exceptions: bool = False):
        super().__init__(None, wrap_exceptions=wrap_exceptions)

    @property
    def session(self) -> Session:
        return db.session  # type: ignore[return-value]

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        return SQLAlchemyError

    def incr(self, key: str, expiry: int | float, amount: int = 1) -> int:
        session = self.session
        dialect = session.get_bind().dialect.name
        now = time.time()
        insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(_table)
        ended = _table.c.expires_at <= now
        count = sa.case((ended, max(amount, 0)),
                        else_=sa.case((_table.c.count + amount < 0, 0),
                                      else_=_table.c.count + amount))
        statement = insert.values(key=_key(key), count=max(amount, 0),
                                  expires_at=now + expiry).on_conflict_do_update(
            index_elements=["key"],
            set_={"count": count,
                  "expires_at": sa.case((ended, now + expiry), else_=_table.c.expires_at)},
        ).returning(_table.c.count)
        try:
            value = session.execute(statement).scalar_one()
            if random.randrange(PURGE_EVERY) == 0:
                session.execute(sa.delete(_table).where(_table.c.expires_at < now - 60))
            session.commit()
        except SQLAlchemyError:
            session.rollback()
            raise
        return int(value)

    def get(self, key: str) -> int:
        value = _COUNT.execute({"b_key": _key(key), "b_now": time.time()},
                               request_connection()).scalar()
        return int(value or 0)

    def get_expiry(self, key: str) -> float:
        now = time.time()
        value = _EXPIRY.execute({"b_key": _key(key), "b_now": now},
                                request_connection()).scalar()
        return float(value) if value is not None else now

    def check(self) -> bool:
        try:
            self.session.execute(sa.select(sa.literal(1)))
        except SQLAlchemyError:
            return False
        return True

    def reset(self) -> int | None:
        count = self.session.execute(sa.delete(_table)).rowcount
        self.session.commit()
        return count

    def clear(self, key: str) -> None:
        self.session.execute(sa.delete(_table).where(_table.c.key == _key(key)))
        self.session.commit()
