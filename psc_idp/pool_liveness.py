"""A pooled PostgreSQL connection is checked for life at checkout without a round trip.

When PostgreSQL drops a connection (``pg_terminate_backend``, a restart, a failover of the
server process, ``idle_session_timeout``), the backend sends a FATAL error message and closes
the socket. A connection idle in the pool never has anything to read otherwise (the pool's
connections never ``LISTEN``; ``wakeups.py`` listens on its own), so a readable socket, a
closed connection or a libpq status other than OK means "dead". The check is one ``poll()``
system call instead of ``pool_pre_ping``'s ``SELECT 1`` round trip per checkout (four per
code-flow login, nine per e-CPS login: issue 15). Go's MySQL driver checks its idle
connections the same way before reuse.

A dead connection found raises ``InvalidatePoolError``: SQLAlchemy replaces it at once and
invalidates the pool's other connections of the same age (they died with it), exactly what
``pool_pre_ping`` did. What neither check can see (a network path that silently stops) fails
the statement, as it would after a successful ping.
"""

from __future__ import annotations

import logging
import select
from typing import Any

from sqlalchemy import event, exc
from sqlalchemy.pool import Pool

log = logging.getLogger("psc_idp.db")

_DEAD_EVENTS = select.POLLIN | select.POLLHUP | select.POLLERR | select.POLLNVAL


def looks_dead(dbapi_connection: Any) -> bool:
    """True when a psycopg connection idle in the pool can no longer be used: closed, in a
    bad libpq state, or with bytes waiting (the server's farewell, or its end of file).
    Other drivers (SQLite) have no server to lose: never dead."""
    pgconn = getattr(dbapi_connection, "pgconn", None)
    if pgconn is None:
        return False
    from psycopg.pq import ConnStatus  # psycopg only once a PostgreSQL connection exists

    if dbapi_connection.closed or pgconn.status != ConnStatus.OK:
        return True
    poller = select.poll()
    poller.register(pgconn.socket, _DEAD_EVENTS)
    return bool(poller.poll(0))


def install() -> None:
    """Check every pool's connections at checkout (``create_app``; idempotent)."""
    if not event.contains(Pool, "checkout", _replace_dead_connection):
        event.listen(Pool, "checkout", _replace_dead_connection)


def _replace_dead_connection(dbapi_connection: Any, record: Any, proxy: Any) -> None:
    """Pool ``checkout`` hook: a dead connection is replaced before the request uses it."""
    if looks_dead(dbapi_connection):
        log.warning("a pooled database connection was closed by the server: replaced, with "
                    "the pool's older connections")
        raise exc.InvalidatePoolError("connection closed by the server")
