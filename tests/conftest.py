"""Shared fixtures: the provider on SQLite *and* PostgreSQL, served over real HTTP.

- ``backend`` is parametrised (sqlite, postgresql): every test that builds an app runs on both,
  except the tests marked ``one_backend`` (their subject is not the database: a page, a protocol
  refusal decided before any lookup, a TLS handshake, a client program), which run on the first
  backend of ``PSC_TEST_BACKENDS`` only. Limits, single-use values, concurrency and anything that
  stores or looks up a value the caller chose stay on both.
  PostgreSQL is the machine's server on 127.0.0.1:5432 (``PSC_TEST_PG`` to change); a fresh
  database is created for the session and dropped after. It is never skipped: CI must have it.
- ``make_app(**overrides)`` builds an app with the schema migrated by Alembic, the data wiped,
  and the demo directory and clients loaded.
- ``live`` / ``make_live`` serve an app with werkzeug in a thread on a free 127.0.0.1 port.
"""

from __future__ import annotations

import os
import secrets
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from werkzeug.serving import make_server

os.environ.setdefault("AUTHLIB_INSECURE_TRANSPORT", "1")

from psc_idp.app import create_app  # noqa: E402
from psc_idp.db import db, utcnow  # noqa: E402
from psc_idp.directory.lookup import forget_cached_summaries  # noqa: E402
from tests.app_close import close_app  # noqa: E402

PG_ADMIN_URL = os.environ.get("PSC_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
BACKENDS = os.environ.get("PSC_TEST_BACKENDS", "sqlite,postgresql").split(",")


ONE_BACKEND = ("one_backend: the test's subject is not the database (a page, a refusal decided "
               "before any lookup, TLS, a client program): it runs on the first backend of "
               "PSC_TEST_BACKENDS only, its other variants are deselected")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", ONE_BACKEND)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """``one_backend`` tests: the variants on the other backends are deselected at collection
    (never collected then skipped)."""
    kept, dropped = [], []
    for item in items:
        callspec = getattr(item, "callspec", None)
        other = callspec is not None and callspec.params.get("backend", BACKENDS[0]) != BACKENDS[0]
        (dropped if other and item.get_closest_marker("one_backend") else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


@pytest.fixture(scope="session")
def keys_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One key folder for the whole run: key generation is not what is under test here."""
    return tmp_path_factory.mktemp("keys")


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
            ) -> Iterator[tuple[str, str]]:
    name = request.param
    if name == "sqlite":
        path = tmp_path_factory.mktemp("sqlite") / "psc-idp.db"
        yield name, f"sqlite:///{path}"
        return
    dbname = f"psc_idp_test_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{dbname}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + dbname
    try:
        yield name, url
    finally:
        db_engines_dispose()
        with admin.connect() as conn:
            conn.execute(sa.text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :d"),
                {"d": dbname})
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{dbname}"'))
        admin.dispose()


_apps: list[Flask] = []
_migrated: set[str] = set()


def db_engines_dispose() -> None:
    from psc_idp.sessions.backchannel import stop_dispatchers

    stop_dispatchers()  # back-channel logout threads must not outlive their app's engine
    for app in _apps:
        close_app(app)
    _apps.clear()


def _wipe(app: Flask) -> None:
    """Every table emptied, children first. DELETE rather than TRUNCATE on PostgreSQL too: on
    tables of a few rows it takes ~10 ms where TRUNCATE (new files for 30 tables) takes
    200-400 ms, and it does not wait for an exclusive lock."""
    with app.app_context():
        for table in reversed(db.metadata.sorted_tables):
            db.session.execute(table.delete())
        db.session.commit()


class _Snapshot:
    """Every row ``initialise(app, True)`` wrote, to write them again in one transaction: the
    demo directory's ORM load and the demo clients' Argon2 hashes cost ~0.3 s per app (0.5 s
    on PostgreSQL), paid by some 2,000 tests. The first app of each kind in a worker still
    runs the real ``initialise`` (and ``psc-idp init`` has its own tests)."""

    def __init__(self, app: Flask, began: datetime, ended: datetime):
        self.began, self.ended = began, ended
        with app.app_context():
            self.rows = {t.name: [dict(r._mapping) for r in db.session.execute(sa.select(t))]
                         for t in db.metadata.sorted_tables}
        self.stamped = {t.name: [c.name for c in t.columns if isinstance(c.type, sa.DateTime)]
                        for t in db.metadata.sorted_tables}

    def restore(self, app: Flask) -> None:
        # Timestamps initialise took from the clock ("now" then) move to now, as if it had
        # just run; dates from the demo data (outside that window) stay as they are.
        shift = utcnow() - self.began
        with app.app_context():
            for table in db.metadata.sorted_tables:  # parents first
                rows = self.rows.get(table.name)
                if not rows:
                    continue
                stamped = self.stamped[table.name]
                if stamped:
                    rows = [{k: (v + shift if k in stamped and isinstance(v, datetime)
                                 and self.began <= v <= self.ended else v)
                             for k, v in row.items()} for row in rows]
                db.session.execute(table.insert(), rows)
            db.session.commit()


_snapshots: dict[tuple[Any, ...], _Snapshot] = {}


def _initialise(app: Flask, url: str) -> None:
    """``initialise(app, True)`` on the freshly wiped database, or the rows it wrote the last
    time with the same inputs: the database, the settings it reads (mode, the demo clients'
    URLs, the configured clients), the demo directory (a test may patch it) and the schema."""
    from psc_idp.admin.cli import initialise
    from psc_idp.admin.clients import demo_clients
    from psc_idp.admin.pki_cli import ensure_pki
    from psc_idp.directory import demo_data

    settings = app.extensions["psc_idp"].settings
    key = (url, settings.emulation_enabled, settings.is_production,
           repr(demo_clients(settings)), repr(settings.clients),
           repr((demo_data.DEMO_STRUCTURES, demo_data.DEMO_PROFESSIONALS)),
           tuple(db.metadata.tables))
    snapshot = _snapshots.get(key)
    if snapshot is None:
        began = utcnow()
        initialise(app, True)
        _snapshots[key] = _Snapshot(app, began, utcnow())
        return
    snapshot.restore(app)
    forget_cached_summaries()
    ensure_pki(app)  # files in the keys folder; a no-op once made


@pytest.fixture
def make_app(backend: tuple[str, str], keys_dir: Path, tmp_path: Path
             ) -> Iterator[Callable[..., Flask]]:
    """Build a provider app on the current backend with fresh data.

    The apps' connection pools are closed when the test ends: PostgreSQL allows ~100
    connections, and a suite of hundreds of apps would exhaust them otherwise."""
    from psc_idp.schema import upgrade

    _, url = backend

    def build(demo: bool = True, **overrides: Any) -> Flask:
        settings: dict[str, Any] = {
            "mode": "test", "database_url": url, "keys_dir": str(keys_dir),
            "instance_dir": str(tmp_path / "instance"), "log_level": "WARNING",
            "secret_key": "test-secret-" + "x" * 32,
        }
        settings.update(overrides)
        app = create_app(**settings)
        _apps.append(app)
        if url not in _migrated:
            upgrade(app)
            _migrated.add(url)
        _wipe(app)
        forget_cached_summaries()
        if demo:
            _initialise(app, url)
        return app

    yield build
    db_engines_dispose()


class LiveServer:
    """A provider (or any WSGI app) served over HTTP on 127.0.0.1 in a thread."""

    def __init__(self, app: Flask, port: int):
        self.app = app
        self.port = port
        self.base_url = f"http://127.0.0.1:{port}"
        try:
            self._server = make_server("127.0.0.1", port, app, threaded=True)
        except SystemExit as exc:  # werkzeug exits when the port is taken: make it an error
            raise OSError(f"port {port} is already in use") from exc
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    @property
    def issuer(self) -> str:
        return self.base_url + "/auth/realms/esante-wallet"

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(timeout=5)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def on_a_free_port(serve: Callable[[int], Any], port: int | None = None) -> Any:
    """``serve(port)`` on ``port``, or on a free one: free_port() may give a port another
    process takes before the bind (OSError), then another one is tried."""
    for attempt in range(5):
        try:
            return serve(port or free_port())
        except OSError:
            if port is not None or attempt == 4:
                raise
    raise AssertionError("unreachable")


@pytest.fixture
def make_live(make_app: Callable[..., Flask]) -> Iterator[Callable[..., LiveServer]]:
    servers: list[LiveServer] = []

    def start(port: int | None = None, **overrides: Any) -> LiveServer:
        def serve(chosen: int) -> LiveServer:
            settings = dict(overrides)
            settings.setdefault("public_url", f"http://127.0.0.1:{chosen}")
            return LiveServer(make_app(**settings), chosen)

        server = on_a_free_port(serve, port)
        servers.append(server)
        return server

    yield start
    from psc_idp import sse

    # Event streams a test left open (a browser gone mid-wait) end now, before the servers
    # stop and the database pools close under them.
    sse.close_all(timeout=10)
    for server in servers:
        server.stop()


@pytest.fixture
def live(make_live: Callable[..., LiveServer]) -> LiveServer:
    return make_live()


CHROMIUM = os.environ.get("PSC_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    # Without these Chromium keeps calling Google services: the network here is closed.
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    """One headless Chromium (Debian's) for the whole run: Playwright's sync API allows one
    driver per thread, so every browser test shares it."""
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: run scripts/ensure-chromium "
                    "(apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def random_state() -> str:
    return secrets.token_urlsafe(16)
