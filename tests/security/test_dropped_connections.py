"""Issue 11, finding 11: after PostgreSQL drops its connections (a restart, a failover, an idle
timeout, ``pg_terminate_backend``), the next request on each worker failed with a 500: the pool
handed out a dead connection. Now the pool's checkout check (``psc_idp/pool_liveness.py``: the
socket polled, no round trip) replaces the dead one.

PostgreSQL only: SQLite has no server connection to drop.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
import sqlalchemy as sa

from psc_idp.oidc import urls
from tests.security.flows import DEMO_ID, DEMO_REDIRECT, s256


def _authorize(base: str) -> int:
    """An authorization request: it writes a login transaction (a database round trip)."""
    answer = requests.get(base + urls.WALLET_AUTHORIZE, timeout=10, params={
        "response_type": "code", "client_id": DEMO_ID, "redirect_uri": DEMO_REDIRECT,
        "scope": "openid scope_all", "acr_values": "eidas1", "state": "s1234567",
        "nonce": "n1234567", "code_challenge": s256("v" * 50),
        "code_challenge_method": "S256"})
    return answer.status_code


def _terminate_our_connections(url: str) -> int:
    """Drop every connection to the test's own database except this one."""
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            return len(conn.execute(sa.text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()")).all())
    finally:
        engine.dispose()


@pytest.mark.postgresql_only
def test_requests_succeed_after_postgresql_drops_the_pooled_connections(backend, make_live):
    name, url = backend
    assert name == "postgresql"
    live = make_live()
    base = live.base_url
    with ThreadPoolExecutor(4) as pool:  # several pooled connections, as a busy worker has
        assert set(pool.map(lambda _: _authorize(base), range(8))) == {200}

    assert _terminate_our_connections(url) >= 1

    statuses = [_authorize(base) for _ in range(6)]
    with ThreadPoolExecutor(4) as pool:
        statuses += list(pool.map(lambda _: _authorize(base), range(8)))
    assert statuses == [200] * len(statuses), statuses
    token = requests.post(base + urls.TOKEN, data={"grant_type": "authorization_code",
                                                   "code": "nope", "redirect_uri": DEMO_REDIRECT},
                          auth=(DEMO_ID, "demo-rp-secret"), timeout=10)
    assert token.status_code == 400, token.text  # invalid_grant: answered, not a 500


@pytest.mark.postgresql_only
def test_a_dropped_connection_looks_dead_without_a_round_trip(backend):
    """``pool_liveness.looks_dead``: alive while the server keeps it, dead once the server
    said farewell (``pg_terminate_backend``) or once closed; SQLite never looks dead."""
    import sqlite3
    import time

    import psycopg

    from psc_idp.pool_liveness import looks_dead

    _, url = backend
    conn = psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"))
    try:
        assert not looks_dead(conn)
        conn.execute("SELECT 1")
        conn.rollback()
        assert not looks_dead(conn)
        pid = conn.info.backend_pid
        with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"),
                             autocommit=True) as killer:
            killer.execute("SELECT pg_terminate_backend(%s)", (pid,))
        deadline = time.monotonic() + 5
        while not looks_dead(conn) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert looks_dead(conn)
    finally:
        conn.close()
    assert looks_dead(conn)
    assert not looks_dead(sqlite3.connect(":memory:"))
