"""Attempt counters that hold under any concurrency, on SQLite and PostgreSQL, across processes
and instances sharing the database.

Every limit on guessing a secret (PIN, one-time code, activation codes, card proofs) and on what
a stranger may start (pending pushes, CIBA requests) goes through this module. The rule is the
same everywhere: **the database decides, in one statement**. Never a value read into Python,
compared, then written back (two requests read the same value and both pass): each function
below is a single conditional ``UPDATE`` (or upsert) whose ``WHERE`` holds the limit, so the
database serialises the requests on the row (PostgreSQL's row lock, SQLite's single writer)
and re-evaluates the condition for each.

- ``reserve(row, counter, limit)``: count the attempt **before** checking it::

      UPDATE t SET n = n + 1 WHERE id = :id AND n < :limit [AND …] RETURNING n

  committed at once, so a parallel request sees it before the (slow) check runs. ``None``:
  the limit is reached; refuse without checking (the activation codes). The e-CPS PIN, whose
  check is a keyed hash of microseconds (``hashing.py``), is instead checked and counted under
  its device row's lock in the answer's own transaction (``device_store.py``): 50 parallel
  wrong PINs still make exactly 3 checks and leave exactly 3 counted, without the early
  commit.
- ``reset`` / ``release``: a right answer clears the counter, or gives its slot back.
- ``transition(row, where, **values)``: compare-and-set (a challenge answered once, a device
  blocked once, an activation verified once). True for the one request that made the change.
- ``claim(row, column, value)``: a monotonic claim (``SET c = :v WHERE c < :v``): a TOTP step
  is accepted once, ever, per device.
- ``take(key, limit, window)`` / ``give_back`` / ``forget``: a keyed budget in
  ``attempt_budget`` for attempts that belong to no row of ours (anonymous one-time codes per
  login and per professional): at most ``limit`` per window; the window doubles each time a
  new one opens, up to ``max_window``, until ``forget`` (a success) starts afresh.
- ``serialise(row)``: hold the row's lock until the transaction ends (``SELECT … FOR UPDATE``
  on PostgreSQL, a no-op ``UPDATE`` taking SQLite's write lock), so a count followed by an
  insert (the pending-push cap) cannot interleave with another request doing the same.

``reserve``, ``claim`` and ``take`` commit the caller's session right after their statement
(callers use them before writing anything that must not be committed yet): the count must be
visible to every other request before the check it guards. The others leave the commit to the
caller; on PostgreSQL the row stays locked until then.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm.attributes import set_committed_value

from ..db import db
from ..prepared import Prepared, request_connection
from .models import AttemptBudget


def _table(row: Any) -> sa.Table:
    return type(row).__table__


def _returning() -> bool:
    """SQLite ≥ 3.35 and PostgreSQL support ``UPDATE … RETURNING``."""
    return bool(db.session.get_bind().dialect.update_returning)


def _increment(table: sa.Table, key: Any, counter: str, *where: Any) -> int | None:
    """``UPDATE table SET counter = counter + 1 WHERE key AND where RETURNING counter``."""
    column = table.c[counter]
    statement = sa.update(table).where(key, *where).values({counter: column + 1})
    if _returning():
        return db.session.execute(statement.returning(column)).scalar_one_or_none()
    # SQLite before 3.35: the write lock is held until the commit, so the re-read is ours
    if db.session.execute(statement).rowcount != 1:
        return None
    return db.session.scalar(sa.select(column).where(key))


def reserve(row: Any, counter: str, limit: int, *conditions: Any) -> int | None:
    """Count one attempt on ``row.<counter>`` if it is below ``limit`` (and ``conditions``
    hold): the new count, or None (limit reached: do not check). Committed at once."""
    table = _table(row)
    value = _increment(table, table.c.id == row.id, counter, table.c[counter] < limit,
                       *conditions)
    db.session.commit()
    if value is not None:
        set_committed_value(row, counter, value)
    return value


def reset(row: Any, counter: str) -> None:
    """A right answer: the counter starts again from 0."""
    table = _table(row)
    db.session.execute(sa.update(table).where(table.c.id == row.id).values({counter: 0}))
    set_committed_value(row, counter, 0)


def release(row: Any, counter: str) -> None:
    """Give back the slot ``reserve`` took for an attempt that turned out right."""
    table = _table(row)
    column = table.c[counter]
    db.session.execute(sa.update(table).where(table.c.id == row.id, column > 0)
                       .values({counter: column - 1}))
    set_committed_value(row, counter, max(getattr(row, counter) - 1, 0))


def bump(rows: list[Any], counter: str) -> None:
    """Count one more (informational: limits nothing) on each row, in one statement."""
    if not rows:
        return
    table = _table(rows[0])
    column = table.c[counter]
    db.session.execute(sa.update(table).where(table.c.id.in_([r.id for r in rows]))
                       .values({counter: column + 1}))


def transition(row: Any, where: dict[str, Any], **values: Any) -> bool:
    """Compare-and-set: write ``values`` only if the row's columns still equal ``where``
    (None: IS NULL). True for the one request that made the change."""
    table = _table(row)
    conditions = [table.c[name].is_(None) if value is None else table.c[name] == value
                  for name, value in where.items()]
    changed = db.session.execute(sa.update(table).where(table.c.id == row.id, *conditions)
                                 .values(values)).rowcount == 1
    if changed:
        for name, value in values.items():
            set_committed_value(row, name, value)
    return changed


def claim(row: Any, column: str, value: int) -> bool:
    """Raise ``row.<column>`` to ``value`` if it is below: True once per value, ever (a TOTP
    step). Committed at once."""
    table = _table(row)
    changed = db.session.execute(sa.update(table).where(
        table.c.id == row.id, table.c[column] < value).values({column: value})).rowcount == 1
    db.session.commit()
    if changed:
        set_committed_value(row, column, value)
    return changed


def serialise(row: Any) -> None:
    """Lock ``row`` (an ORM row) until the transaction ends: whoever holds it counts and
    inserts alone. Pending ORM changes are flushed first, as a session statement would."""
    db.session.flush()
    lock_row(_table(row), row.id)


_ROW_LOCKS: dict[str, tuple[Prepared, Prepared]] = {}
"""Per table: PostgreSQL's ``SELECT … FOR UPDATE`` and SQLite's no-op ``UPDATE``, built once."""


def lock_row(table: sa.Table, row_id: Any) -> None:
    """``serialise`` by table and id, for callers holding a frozen row (the e-CPS push path):
    one prepared statement on the request's connection."""
    locks = _ROW_LOCKS.get(table.name)
    if locks is None:
        key = table.c.id == sa.bindparam("row_id")
        locks = _ROW_LOCKS[table.name] = (
            Prepared(sa.select(table.c.id).where(key).with_for_update()),
            # SQLite: any write takes the database's single write lock, held until commit
            Prepared(sa.update(table).where(key).values(id=table.c.id)))
    connection = request_connection()
    lock = locks[0] if connection.dialect.name == "postgresql" else locks[1]
    lock.execute({"row_id": row_id}, connection)


# ----------------------------------------------------------------------------- keyed budgets
_budget = AttemptBudget.__table__
FORGET_AFTER = timedelta(days=2)
"""A budget whose window ended this long ago is deleted (when another budget opens): its
doubling starts afresh."""


def _insert_if_absent(**values: Any) -> bool:
    """``INSERT … ON CONFLICT (key) DO NOTHING``: True if this request inserted the row."""
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return db.session.execute(insert(_budget).values(**values)
                              .on_conflict_do_nothing(index_elements=["key"])
                              .returning(_budget.c.key)).first() is not None


def take(key: str, limit: int, window: timedelta, now: datetime,
         max_window: timedelta | None = None) -> int | None:
    """One attempt from the budget ``key`` (at most ``limit`` per window): the count in this
    window, or None (spent: refuse without checking). The first attempt opens a window of
    ``window``; each later window is twice the previous (up to ``max_window``) until
    ``forget``. Every step is one atomic statement; committed at once."""
    if len(key) > 120:
        raise ValueError("budget keys have at most 120 characters")
    ceiling = max_window or window
    value: int | None = None
    for _ in range(10):  # another request may open the window between two statements
        value = _increment(_budget, _budget.c.key == key, "used", _budget.c.used < limit,
                           _budget.c.window_ends > now)
        if value is not None:
            break
        current = db.session.execute(sa.select(_budget.c.used, _budget.c.rounds,
                                               _budget.c.window_ends)
                                     .where(_budget.c.key == key)).one_or_none()
        if current is None:
            db.session.execute(sa.delete(_budget).where(
                _budget.c.window_ends < now - FORGET_AFTER))
            if _insert_if_absent(key=key, used=1, rounds=0, window_ends=now + window):
                value = 1
                break
            continue
        if current.window_ends > now:
            if current.used >= limit:
                break  # spent in this window
            continue  # the row appeared (or was given back) since the update: try again
        rounds = current.rounds + 1
        ends = now + min(window * 2 ** min(rounds, 16), ceiling)
        if db.session.execute(sa.update(_budget).where(
                _budget.c.key == key, _budget.c.window_ends == current.window_ends)
                .values(used=1, rounds=rounds, window_ends=ends)).rowcount == 1:
            value = 1
            break
    db.session.commit()
    return value


def give_back(key: str) -> None:
    """Return an attempt ``take`` gave but that was not used (refused for another reason)."""
    db.session.execute(sa.update(_budget).where(_budget.c.key == key, _budget.c.used > 0)
                       .values(used=_budget.c.used - 1))


def forget(key: str) -> None:
    """A success: the budget starts afresh (windows back to their first length)."""
    db.session.execute(sa.delete(_budget).where(_budget.c.key == key))


def window_ends(key: str) -> datetime | None:
    """When the budget's current window ends (for the message "try again at…")."""
    return db.session.scalar(sa.select(_budget.c.window_ends).where(_budget.c.key == key))
