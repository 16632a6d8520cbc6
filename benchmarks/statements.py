"""SQL statements and database round trips per login kind and endpoint, over real HTTP.

Serves a psc-idp app (mode ``test``) with werkzeug in a thread, runs each login kind twice (the
first warms caches and keys; the second is counted) and prints a Markdown table: kind, endpoint,
statements, round trips. The same code counts for the statement-budget tests
(tests/statement_budget/); docs/statement-budget.md says what is counted and how.

    .venv/bin/python benchmarks/statements.py                  # SQLite, temp file
    .venv/bin/python benchmarks/statements.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test
    .venv/bin/python benchmarks/statements.py --json           # counts as JSON (to set budgets)
    .venv/bin/python benchmarks/statements.py --statements     # also every statement counted
    .venv/bin/python benchmarks/statements.py --compare before.json after.json
    .venv/bin/python benchmarks/statements.py --budgets sqlite.json postgresql.json  # test budgets

Server CPU per endpoint, averaged over many logins, with the same counts:
benchmarks/endpoint_costs.py (built on this module).

With ``--database-url`` on PostgreSQL a throwaway database is created on that server and
dropped after (the URL names the server and a database to connect to for that).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import secrets
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # appended: a PYTHONPATH naming another checkout wins
    sys.path.append(str(REPO))

os.environ.setdefault("AUTHLIB_INSECURE_TRANSPORT", "1")

REALM = "/auth/realms/esante-wallet"
GP = "810099900010"  # a demo persona (médecin généraliste)
PIN = "1234"
AUTOLOGIN_CLIENT = ("budget-autologin", "budget-autologin-secret-1",
                    "http://127.0.0.1:5997/cb")
CIBA = "urn:openid:params:grant-type:ciba"
_DML = re.compile(r"\s*(INSERT|UPDATE|DELETE|REPLACE)\b", re.I)


# ----------------------------------------------------------------------------- counting
@dataclass
class Endpoint:
    """What one endpoint cost during a login (summed over its requests)."""

    requests: int = 0
    statements: list[str] = field(default_factory=list)
    begins: int = 0
    commits: int = 0
    rollbacks: int = 0
    pings: int = 0
    cpu: float = 0.0
    """Seconds of the serving thread's CPU (``time.thread_time``) from the WSGI call to the
    close of the response body (benchmarks/endpoint_costs.py reports it; not a budget)."""

    @property
    def round_trips(self) -> int:
        return len(self.statements) + self.begins + self.commits + self.rollbacks + self.pings


@dataclass
class Measurement:
    """One login: its endpoints in the order first seen."""

    kind: str
    endpoints: dict[str, Endpoint] = field(default_factory=dict)

    @property
    def statements(self) -> int:
        return sum(len(e.statements) for e in self.endpoints.values())

    @property
    def round_trips(self) -> int:
        return sum(e.round_trips for e in self.endpoints.values())

    def as_dict(self) -> dict[str, Any]:
        return {"statements": self.statements, "round_trips": self.round_trips,
                "endpoints": {name: {"requests": e.requests, "statements": len(e.statements),
                                     "round_trips": e.round_trips, "begin": e.begins,
                                     "commit": e.commits, "rollback": e.rollbacks,
                                     "ping": e.pings}
                              for name, e in self.endpoints.items()}}

    def report(self, with_statements: bool = True) -> str:
        """The per-endpoint breakdown, and every statement: what a failing budget prints."""
        lines = [f"{self.kind}: {self.statements} statements, {self.round_trips} round trips"]
        for name, e in self.endpoints.items():
            lines.append(f"  {name}  ×{e.requests}: {len(e.statements)} statements, "
                         f"{e.round_trips} round trips (BEGIN {e.begins}, COMMIT {e.commits}, "
                         f"ROLLBACK {e.rollbacks}, ping {e.pings})")
            if with_statements:
                lines.extend(f"      {i}. {short(s)}" for i, s in enumerate(e.statements, 1))
        return "\n".join(lines)


def short(statement: str) -> str:
    """A statement as a reader scans it: a SELECT's column list as its count."""
    found = _SELECT_LIST.match(statement)
    if found:
        columns = found.group(2).count(",") + 1
        rest = statement[found.end():]
        statement = f"{found.group(1)}SELECT <{columns} columns> FROM {rest}"  # noqa: S608
    return statement


_SELECT_LIST = re.compile(r"(.*?)\bSELECT (.+?) FROM ", re.S)


class StatementCounter:
    """Counts, per endpoint, what the request threads send to the database.

    Only threads serving a request while a measurement is open count (a thread-local label set
    by a WSGI wrapper): back-channel logout dispatchers, the wakeups LISTEN thread and the
    test's own setup queries never do. Statements: SQLAlchemy's ``before_cursor_execute`` on
    SQLite; on PostgreSQL the psycopg cursors themselves (a cursor factory set at checkout), so
    psycopg used directly under SQLAlchemy counts too. BEGIN is counted where the driver sends
    it (psycopg: before the first statement of a transaction; sqlite3: before the first write),
    COMMIT/ROLLBACK when a transaction was open (both drivers skip them otherwise, and so does
    the pool's reset on return), the pool's pre-ping as one round trip (its BEGIN apart).
    SAVEPOINT / RELEASE / ROLLBACK TO are statements."""

    def __init__(self, app: Any):
        from sqlalchemy import event

        from psc_idp.db import db

        self.app = app
        self._local = threading.local()
        self._lock = threading.Lock()
        self.current: Measurement | None = None
        self._cursor_classes: dict[type, type] = {}
        with app.app_context():
            engines = list(db.engines.values())
        for engine in engines:
            postgresql = engine.dialect.name == "postgresql"
            if not postgresql:
                event.listen(engine, "before_cursor_execute", self._sqlalchemy_statement)
            else:
                event.listen(engine.pool, "connect", self._install_cursor_factory)
                event.listen(engine.pool, "checkout", self._install_cursor_factory)
            event.listen(engine, "commit", self._commit)
            event.listen(engine, "rollback", self._rollback)
            event.listen(engine.pool, "reset", self._reset)
            self._wrap_ping(engine.dialect)
        adapter = app.url_map
        inner = app.wsgi_app

        def labelled(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
            label = self._label(adapter, environ)
            self._local.label = label
            endpoint = self._local.started = self._endpoint()
            self._local.cpu = time.thread_time()
            if endpoint is not None:
                with self._lock:
                    endpoint.requests += 1
            try:
                body = inner(environ, start_response)
            except BaseException:
                self._local.label = None
                raise
            return self._closing(body)

        app.wsgi_app = labelled

    # ------------------------------------------------------------------ measurements
    @contextlib.contextmanager
    def measure(self, kind: str) -> Iterator[Measurement]:
        measurement = Measurement(kind)
        self.current = measurement
        try:
            yield measurement
        finally:
            self.current = None

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """Requests made inside are not part of the login (moving the test clock)."""
        current, self.current = self.current, None
        try:
            yield
        finally:
            self.current = current

    # ------------------------------------------------------------------ request threads
    @staticmethod
    def _label(url_map: Any, environ: dict[str, Any]) -> str:
        method = environ.get("REQUEST_METHOD", "GET")
        try:
            rule, _ = url_map.bind_to_environ(environ).match(method=method, return_rule=True)
            path = rule.rule
        except Exception:  # a 404/405 still counts, under its path
            path = environ.get("PATH_INFO", "")
        return f"{method} {path.replace(REALM, '{realm}')}"

    def _closing(self, body: Any) -> Iterator[bytes]:
        try:
            yield from body
        finally:
            close = getattr(body, "close", None)
            if close is not None:
                close()
            endpoint = self._local.started  # a request begun while paused costs nothing
            if endpoint is not None:
                spent = time.thread_time() - self._local.cpu
                with self._lock:
                    endpoint.cpu += spent
            self._local.label = self._local.started = None

    def _endpoint(self) -> Endpoint | None:
        label = getattr(self._local, "label", None)
        current = self.current
        if label is None or current is None:
            return None
        with self._lock:
            endpoint = current.endpoints.get(label)
            if endpoint is None:
                endpoint = current.endpoints[label] = Endpoint()
            return endpoint

    # ------------------------------------------------------------------ events
    def _sqlalchemy_statement(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        endpoint = self._endpoint()
        if endpoint is None:
            return
        raw = conn.connection.dbapi_connection
        with self._lock:
            if _DML.match(statement) and not raw.in_transaction and raw.isolation_level is not None:
                endpoint.begins += 1
            endpoint.statements.append(" ".join(statement.split()))

    def _dbapi_statement(self, raw: Any, query: Any) -> None:
        endpoint = self._endpoint()
        if endpoint is None:
            return
        from psycopg.pq import TransactionStatus

        text = query if isinstance(query, str) else (
            query.decode() if isinstance(query, bytes) else query.as_string(raw))
        with self._lock:
            if not raw.autocommit and raw.info.transaction_status == TransactionStatus.IDLE:
                endpoint.begins += 1
            if getattr(self._local, "pinging", False):
                endpoint.pings += 1
            else:
                endpoint.statements.append(" ".join(text.split()))

    def _install_cursor_factory(self, raw: Any, record: Any, proxy: Any = None) -> None:
        factory = raw.cursor_factory
        if not getattr(factory, "_counts_statements", False):
            raw.cursor_factory = _counting_cursor(factory, self)

    @staticmethod
    def _open(raw: Any) -> bool:
        info = getattr(raw, "info", None)
        if info is not None and hasattr(info, "transaction_status"):  # psycopg
            from psycopg.pq import TransactionStatus

            return info.transaction_status != TransactionStatus.IDLE
        return bool(getattr(raw, "in_transaction", False))  # sqlite3

    def _commit(self, conn: Any) -> None:
        endpoint = self._endpoint()
        if endpoint is not None and self._open(conn.connection.dbapi_connection):
            with self._lock:
                endpoint.commits += 1

    def _rollback(self, conn: Any) -> None:
        endpoint = self._endpoint()
        if endpoint is not None and self._open(conn.connection.dbapi_connection):
            with self._lock:
                endpoint.rollbacks += 1

    def _reset(self, raw: Any, record: Any, state: Any = None) -> None:
        endpoint = self._endpoint()
        if endpoint is not None and raw is not None and self._open(raw):
            with self._lock:
                endpoint.rollbacks += 1

    def _wrap_ping(self, dialect: Any) -> None:
        ping = dialect.do_ping
        local = self._local
        counter = self

        def counted_ping(raw: Any) -> Any:
            local.pinging = True
            try:
                return ping(raw)
            finally:
                local.pinging = False
                if dialect.name != "postgresql":  # psycopg's cursor counted it already
                    endpoint = counter._endpoint()
                    if endpoint is not None:
                        with counter._lock:
                            endpoint.pings += 1

        dialect.do_ping = counted_ping


def _counting_cursor(base: type, counter: StatementCounter) -> type:
    """A subclass of the connection's cursor class that reports to ``counter`` (one per base
    class and counter, kept on the counter)."""
    made = counter._cursor_classes.get(base)
    if made is None:
        class Counting(base):  # type: ignore[misc, valid-type]
            _counts_statements = True

            def execute(self, query: Any, *args: Any, **kwargs: Any) -> Any:
                counter._dbapi_statement(self.connection, query)
                return super().execute(query, *args, **kwargs)

            def executemany(self, query: Any, *args: Any, **kwargs: Any) -> Any:
                counter._dbapi_statement(self.connection, query)
                return super().executemany(query, *args, **kwargs)

        made = counter._cursor_classes[base] = Counting
    return made


# ----------------------------------------------------------------------------- the logins
class Login:
    """Everything a login kind needs: the served app's URL, the app, a folder, the counter."""

    def __init__(self, base_url: str, app: Any, home: Path, counter: StatementCounter):
        self.base_url = base_url.rstrip("/")
        self.issuer = self.base_url + REALM
        self.app = app
        self.home = home
        self.counter = counter
        self._phone: Any = None

    # ------------------------------------------------------------------ pieces
    def actions(self) -> Any:
        """A fresh browser (no IdP session cookie): every login takes the same path."""
        import requests

        from tests.psc_actions import PscActions

        psc = PscActions(self.issuer, browser=requests.Session())
        psc.browser.trust_env = False
        with self.counter.paused():
            psc.metadata  # noqa: B018 - discovery is the RP's, once, not the login's
        return psc

    def phone(self) -> Any:
        if self._phone is None:
            from clients.ecps_app.phone import EcpsPhone

            with self.counter.paused():
                phone = EcpsPhone(self.base_url, self.home / "phone", GP)
                phone.activate(PIN)
            self._phone = phone
        return self._phone

    def register_autologin(self) -> None:
        from psc_idp.admin.clients import upsert_client
        from psc_idp.config import ClientSeed
        from psc_idp.db import db

        cid, secret, redirect = AUTOLOGIN_CLIENT
        with self.app.app_context():
            upsert_client(ClientSeed(client_id=cid, client_secret=secret,
                                     redirect_uris=[redirect], test_autologin=True),
                          self.app.extensions["psc_idp"].settings, source="test")
            db.session.commit()

    def move_clock(self, seconds: float) -> None:
        import requests

        with self.counter.paused():
            answer = requests.post(self.base_url + "/api/admin/clock",
                                   json={"advance_seconds": seconds}, timeout=10)
        assert answer.status_code == 200, answer.text

    # ------------------------------------------------------------------ kinds
    def code_persona(self) -> None:
        """authorize (persona page) → persona POST (code) → token → userinfo."""
        psc = self.actions()
        rp = psc.client()
        psc.full_login(rp)
        info = rp.get(psc.metadata["userinfo_endpoint"], timeout=10)
        assert info.status_code == 200, info.text[:300]

    def code_autologin(self) -> None:
        """authorize with login_hint for a test_autologin client (code at once) → token →
        userinfo."""
        psc = self.actions()
        rp = psc.client(*AUTOLOGIN_CLIENT)
        start = psc.start(rp, login_hint=GP)
        answer = psc.open(start.url)
        assert answer.status_code == 302 and "code=" in answer.headers["Location"], \
            answer.text[:300]
        psc.tokens(rp, start, answer.headers["Location"])
        info = rp.get(psc.metadata["userinfo_endpoint"], timeout=10)
        assert info.status_code == 200, info.text[:300]

    def refresh(self) -> None:
        """One refresh-token grant (the code login before it is not counted)."""
        psc = self.actions()
        rp = psc.client()
        with self.counter.paused():
            _, token = psc.full_login(rp)
        refreshed = rp.refresh_token(psc.metadata["token_endpoint"],
                                     refresh_token=token["refresh_token"])
        assert refreshed["access_token"], refreshed

    def ecps_push(self, poll_status: bool = False) -> None:
        """authorize (persona page) → the e-CPS means' page → push sent (303) → waiting page
        → the phone lists and approves → finish (code) → token → userinfo. ``poll_status``: the
        waiting page also asks …/status?wait=0 before the answer (pending) and after it
        (success), as the browser's page and benchmarks/load.py do."""
        import html

        phone = self.phone()
        psc = self.actions()
        rp = psc.client()
        start = psc.start(rp, login_hint=GP)
        page = psc.open(start.url)
        assert page.status_code == 200, page.text[:300]
        link = re.search(r'id="means-ecps" href="([^"]+)"', page.text)
        assert link, "no e-CPS link on the login page"
        form = psc.open(self.base_url + html.unescape(link.group(1))
                        if link.group(1).startswith("/") else html.unescape(link.group(1)))
        uid = re.search(r'/login/([^/"]+)/', form.text)
        csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
        assert form.status_code == 200 and uid and csrf, form.text[:300]
        sent = psc.browser.post(f"{self.base_url}/login/{uid.group(1)}/ecps",
                                data={"national_id": GP, "csrf": csrf.group(1)},
                                allow_redirects=False, timeout=10)
        assert sent.status_code == 303, sent.text[:300]
        finish = self.base_url + sent.headers["Location"]
        waiting = psc.open(finish)
        assert waiting.status_code == 200, waiting.text[:300]
        status = finish.rsplit("/", 1)[0] + "/status?wait=0"
        if poll_status:
            assert psc.open(status).json()["status"] == "pending"
        [challenge] = phone.pending()
        phone.answer(challenge, "approve", PIN)
        if poll_status:
            assert psc.open(status).json()["status"] == "success"
        done = psc.open(finish)
        assert done.status_code == 302, done.text[:300]
        psc.tokens(rp, start, done.headers["Location"])
        info = rp.get(psc.metadata["userinfo_endpoint"], timeout=10)
        assert info.status_code == 200, info.text[:300]

    def ciba_poll(self) -> None:
        """backchannel request → one poll (pending) → the phone lists and approves → the
        interval passes (clock moved, not counted) → poll (tokens) → userinfo."""
        from authlib.integrations.base_client import OAuthError
        from authlib.integrations.requests_client import OAuth2Session

        from tests.psc_actions import DEMO_CLIENT

        phone = self.phone()
        psc = self.actions()
        session = OAuth2Session(DEMO_CLIENT[0], DEMO_CLIENT[1],
                                token_endpoint_auth_method="client_secret_basic")
        auth = session.client_auth(session.token_endpoint_auth_method)
        ack = session.post(psc.metadata["backchannel_authentication_endpoint"], auth=auth,
                           withhold_token=True, timeout=10,
                           data={"scope": "openid scope_all", "acr_values": "eidas1",
                                 "binding_message": "42", "login_hint": GP,
                                 "channel": "MOBILE"})
        assert ack.status_code == 200, ack.text
        auth_req_id = ack.json()["auth_req_id"]
        try:
            session.fetch_token(psc.metadata["token_endpoint"], grant_type=CIBA,
                                auth_req_id=auth_req_id)
            raise AssertionError("tokens before the phone answered")
        except OAuthError as pending:
            assert pending.error == "authorization_pending", pending.error
        [challenge] = phone.pending()
        phone.answer(challenge, "approve", PIN)
        self.move_clock(ack.json()["interval"])
        token = session.fetch_token(psc.metadata["token_endpoint"], grant_type=CIBA,
                                    auth_req_id=auth_req_id)
        assert token["access_token"], token
        info = session.get(psc.metadata["userinfo_endpoint"], timeout=10)
        assert info.status_code == 200, info.text[:300]


KINDS: dict[str, Callable[[Login], None]] = {
    "code_persona": Login.code_persona,
    "code_autologin": Login.code_autologin,
    "refresh": Login.refresh,
    "ecps_push": Login.ecps_push,
    "ciba_poll": Login.ciba_poll,
}
"""The login kinds with a budget (tests/statement_budget/test_budget.py), run by default."""

OTHER_KINDS: dict[str, Callable[[Login], None]] = {
    "ecps_push_polled": lambda login: login.ecps_push(poll_status=True),
}
"""Variants not run by default: ``ecps_push_polled`` is the e-CPS push login with the waiting
page's two status polls (tests/statement_budget/test_status_poll.py budgets that endpoint)."""

ALL_KINDS = {**KINDS, **OTHER_KINDS}


@contextlib.contextmanager
def steady_caches(app: Any) -> Iterator[None]:
    """The process's time-bounded caches kept warm while measuring: the counts are those of a
    login in the steady state, where a refill is shared by every login of the cache's lifetime
    (on a loaded machine a 1 s TTL would otherwise expire between warm-up and count, at random).
    The client cache's TTL (1 s on SQLite) and the persona summaries' (5 s) are stretched, and on
    PostgreSQL the client cache must be serving (its listener hearing) before the warm-up: it
    empties itself when hearing starts. Caches an older checkout lacks are skipped."""
    saved: list[tuple[Any, str, Any]] = []

    def stretch(owner: Any, name: str) -> None:
        if owner is not None and hasattr(owner, name):
            saved.append((owner, name, getattr(owner, name)))
            setattr(owner, name, 3600.0)

    try:
        from psc_idp.oidc import client_cache
    except ImportError:
        client_cache = None  # type: ignore[assignment]
    cache = client_cache.cache_of(app) if client_cache is not None else None
    stretch(cache, "ttl")
    from psc_idp.directory import lookup

    stretch(lookup, "_SUMMARY_TTL")
    try:
        if cache is not None:
            deadline = time.monotonic() + 10
            while not cache.serving():
                assert time.monotonic() < deadline, "the client cache never started serving"
                time.sleep(0.02)
        yield
    finally:
        for owner, name, value in reversed(saved):
            setattr(owner, name, value)


def measure(login: Login, kind: str) -> Measurement:
    """The kind once to warm up (caches, keys, the first connections), then counted."""
    return measure_rounds(login, kind, 1)[0]


def measure_rounds(login: Login, kind: str, rounds: int) -> list[Measurement]:
    """The kind once to warm up, then ``rounds`` times, each counted on its own."""
    run = ALL_KINDS[kind]
    if kind == "code_autologin":
        login.register_autologin()
    measurements = []
    with steady_caches(login.app):
        run(login)
        for _ in range(rounds):
            with login.counter.measure(kind) as measurement:
                run(login)
            measurements.append(measurement)
    return measurements


# ----------------------------------------------------------------------------- standalone
@contextlib.contextmanager
def served_app(database_url: str | None, workdir: Path) -> Iterator[tuple[str, Any]]:
    """An initialised test-mode app on ``database_url`` (a throwaway database on that
    PostgreSQL server) or a SQLite file in ``workdir``, served on a free port."""
    import socket

    import sqlalchemy as sa
    from werkzeug.serving import make_server

    from psc_idp.admin.cli import initialise
    from psc_idp.app import create_app
    from psc_idp.db import db
    from psc_idp.schema import upgrade

    dropped: tuple[Any, str] | None = None
    if database_url and not database_url.startswith("sqlite"):
        name = f"psc_statements_{uuid.uuid4().hex[:10]}"
        admin = sa.create_engine(database_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        dropped = (admin, name)
        url = database_url.rsplit("/", 1)[0] + "/" + name
    else:
        url = database_url or f"sqlite:///{workdir / 'psc-idp.db'}"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = create_app(mode="test", database_url=url, keys_dir=str(workdir / "keys"),
                     instance_dir=str(workdir / "instance"), log_level="WARNING",
                     secret_key="statements-" + secrets.token_hex(16),
                     public_url=f"http://127.0.0.1:{port}")
    try:
        upgrade(app)
        initialise(app, True)
        server = make_server("127.0.0.1", port, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                  daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{port}", app
        finally:
            server.shutdown()
            thread.join(timeout=5)
    finally:
        from psc_idp.sessions.backchannel import stop_dispatchers

        stop_dispatchers()
        app.extensions["psc_idp"].wakeups.close()
        with app.app_context():
            db.engine.dispose()
        if dropped is not None:
            admin, name = dropped
            with admin.connect() as conn:
                conn.execute(sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                     "WHERE datname = :d"), {"d": name})
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
            admin.dispose()


def markdown(results: list[Measurement]) -> str:
    lines = ["| kind | endpoint | requests | statements | round trips |",
             "|---|---|---:|---:|---:|"]
    for m in results:
        for name, e in m.endpoints.items():
            lines.append(f"| {m.kind} | `{name}` | {e.requests} | {len(e.statements)} | "
                         f"{e.round_trips} |")
        lines.append(f"| **{m.kind}** | **total** | | **{m.statements}** | "
                     f"**{m.round_trips}** |")
    return "\n".join(lines)


def compare(before: dict[str, Any], after: dict[str, Any]) -> str:
    """Two ``--json`` outputs side by side: per kind and endpoint, statements and round trips
    before → after (an endpoint missing on one side shows as –)."""
    lines = ["| kind | endpoint | statements before | after | round trips before | after |",
             "|---|---|---:|---:|---:|---:|"]
    for kind, old in before["kinds"].items():
        new = after["kinds"].get(kind, {"endpoints": {}, "statements": "–",
                                        "round_trips": "–"})
        names = list(old["endpoints"]) + [n for n in new["endpoints"]
                                          if n not in old["endpoints"]]
        for name in names:
            o = old["endpoints"].get(name, {})
            n = new["endpoints"].get(name, {})
            lines.append(f"| {kind} | `{name}` | {o.get('statements', '–')} | "
                         f"{n.get('statements', '–')} | {o.get('round_trips', '–')} | "
                         f"{n.get('round_trips', '–')} |")
        lines.append(f"| **{kind}** | **total** | **{old['statements']}** | "
                     f"**{new['statements']}** | **{old['round_trips']}** | "
                     f"**{new['round_trips']}** |")
    return "\n".join(lines)


def budgets(sqlite: dict[str, Any], postgresql: dict[str, Any]) -> str:
    """The budget constants of tests/statement_budget/test_budget.py from two ``--json``
    outputs (SQLite, PostgreSQL): to paste when counts went down."""
    names = {"code_persona": "CODE_PERSONA", "code_autologin": "CODE_AUTOLOGIN",
             "refresh": "REFRESH", "ecps_push": "ECPS_PUSH", "ciba_poll": "CIBA_POLL"}
    lines = []
    for kind, name in names.items():
        a, b = sqlite["kinds"][kind], postgresql["kinds"][kind]
        lines.append(f'{name} = {{"sqlite": Budget({a["statements"]}, {a["round_trips"]}), '
                     f'"postgresql": Budget({b["statements"]}, {b["round_trips"]})}}')
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--database-url", help="PostgreSQL server (a throwaway database is made "
                    "on it) or a sqlite:/// URL; default: a SQLite file in a temp folder")
    ap.add_argument("--json", action="store_true", help="the counts as JSON")
    ap.add_argument("--statements", action="store_true", help="also list every statement")
    ap.add_argument("--kind", action="append", choices=sorted(ALL_KINDS),
                    help="only these kinds (repeatable; default: the budgeted ones)")
    ap.add_argument("--compare", nargs=2, metavar=("BEFORE.json", "AFTER.json"),
                    help="print two --json outputs side by side (runs nothing)")
    ap.add_argument("--budgets", nargs=2, metavar=("SQLITE.json", "POSTGRESQL.json"),
                    help="print the test budgets from two --json outputs (runs nothing)")
    args = ap.parse_args()
    if args.budgets:
        sqlite, postgresql = (json.loads(Path(p).read_text()) for p in args.budgets)
        print(budgets(sqlite, postgresql))
        return
    if args.compare:
        before, after = (json.loads(Path(p).read_text()) for p in args.compare)
        print(compare(before, after))
        return

    import logging

    import psc_idp

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="psc-statements-") as tmp:
        workdir = Path(tmp)
        with served_app(args.database_url, workdir) as (base_url, app):
            counter = StatementCounter(app)
            login = Login(base_url, app, workdir, counter)
            results = [measure(login, kind) for kind in (args.kind or list(KINDS))]
            backend = app.extensions["psc_idp"].settings.resolved_database_url().split(":")[0]
    if args.json:
        print(json.dumps({"backend": backend, "psc_idp": str(Path(psc_idp.__file__).parent),
                          "kinds": {m.kind: m.as_dict() for m in results}}, indent=2))
        return
    print(f"<!-- psc_idp from {Path(psc_idp.__file__).parent}, backend {backend} -->")
    print(markdown(results))
    if args.statements:
        for m in results:
            print("\n```\n" + m.report() + "\n```")


if __name__ == "__main__":
    main()
