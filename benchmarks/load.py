"""Load driver: full OpenID Connect code flows (PKCE S256) against psc-idp and node-oidc-provider.

One flow = what a relying party and a browser do for one login:

  psc-idp   GET /auth (200 login page) → POST /login/<uid>/persona (302 to the RP with code)
            → POST <issuer>/protocol/openid-connect/token → GET …/userinfo
  node      GET /auth (303) → GET /interaction/<uid> (200 form) → POST /interaction/<uid> (303)
            → GET /auth/<uid> (303 to the RP with code) → POST /token → GET /me

Every response is checked (status, code and state in the redirect, access_token and id_token in
the token response, userinfo 200 with a ``sub``); a flow failing anywhere is counted as a failure.

N virtual clients are N processes (so the driver's GIL is never the bottleneck), each with one
``requests.Session`` (keep-alive where the server allows it) whose cookies are cleared before each
flow. Each run: a warm-up, then a measurement bounded by ``--duration`` seconds and
``--max-flows`` flows, whichever comes first.

CPU is read from /proc/<pid>/stat (utime + stime) before and after the measurement for:
the server's process tree (gunicorn master + workers; the node process), the PostgreSQL
backends connected to psc-idp's database, and the driver's own client processes.

``--granian URL --granian-pid PID`` adds the same code flow against psc-idp served by granian
(kind ``psc-idp-granian``), measured right after gunicorn's at each N. ``--rounds R`` repeats
each N's measurements R times, interleaved (gunicorn, granian, node, …; the two psc-idp servers
swap places every other round) and the tables show the median of each figure over the rounds.

    python benchmarks/load.py --psc http://127.0.0.1:5000 --psc-pid 123 \\
        --node http://127.0.0.1:3000 --node-pid 456 --pg-db psc_bench --out results.json
"""

from __future__ import annotations

import argparse
import base64
import collections
import functools
import hashlib
import json
import multiprocessing as mp
import os
import platform
import re
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests

CLIENT_ID = "bench-client"
CLIENT_SECRET = "bench-secret"
REDIRECT_URI = "http://127.0.0.1:8080/cb"
PSC_REALM = "/auth/realms/esante-wallet"
PSC_NATIONAL_ID = "810099900010"  # a demo persona (psc_idp/directory/demo_data.py)
TIMEOUT = 15
CLK_TCK = os.sysconf("SC_CLK_TCK")

PSC_FORM = re.compile(r'<form method="post" action="(/login/[^"]+/persona)"')
PSC_CSRF = re.compile(r'name="csrf" value="([^"]+)"')
TOKENISH = re.compile(r"[A-Za-z0-9_-]{16,}")  # ids and codes, so alike failures group together
NODE_FORM = re.compile(r'<form[^>]*action="([^"]+/interaction/[^"]+)"')


class FlowError(Exception):
    """One step of a flow answered something other than what a working provider answers."""


def _expect(resp: requests.Response, status: int, step: str) -> requests.Response:
    if resp.status_code != status:
        body = resp.text[:200].replace("\n", " ")
        raise FlowError(f"{step}: HTTP {resp.status_code} (expected {status}): {body}")
    return resp


def _pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    return verifier, challenge.rstrip(b"=").decode()


def _code_from(location: str, state: str, step: str) -> str:
    if not location.startswith(REDIRECT_URI + "?"):
        raise FlowError(f"{step}: redirect to {location[:120]!r}, not to the client")
    query = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
    if "error" in query:
        raise FlowError(f"{step}: error {query['error']}: {query.get('error_description', '')}")
    if query.get("state") != state:
        raise FlowError(f"{step}: state mismatch")
    if not query.get("code"):
        raise FlowError(f"{step}: no code in {location[:120]!r}")
    return query["code"]


def _tokens_and_userinfo(s: requests.Session, token_url: str, userinfo_url: str, code: str,
                         verifier: str) -> None:
    resp = _expect(s.post(token_url, auth=(CLIENT_ID, CLIENT_SECRET), timeout=TIMEOUT, data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI,
        "code_verifier": verifier}), 200, "token")
    tokens = resp.json()
    if not tokens.get("access_token") or str(tokens.get("id_token", "")).count(".") != 2:
        raise FlowError(f"token: missing access_token or id_token: {sorted(tokens)}")
    resp = _expect(s.get(userinfo_url, timeout=TIMEOUT,
                         headers={"Authorization": f"Bearer {tokens['access_token']}"}),
                   200, "userinfo")
    if not resp.json().get("sub"):
        raise FlowError("userinfo: no sub")


def _psc_authorize(s: requests.Session, base: str) -> tuple[requests.Response, str, str]:
    """PSC's authorization request (wallet host ``/auth``) → the login page, state, verifier."""
    verifier, challenge = _pkce()
    state, nonce = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
    page = _expect(s.get(base + "/auth", allow_redirects=False, timeout=TIMEOUT, params={
        "response_type": "code", "client_id": CLIENT_ID, "redirect_uri": REDIRECT_URI,
        "scope": "openid scope_all", "state": state, "nonce": nonce,
        "code_challenge": challenge, "code_challenge_method": "S256",
        "acr_values": "eidas1"}), 200, "authorize")
    return page, state, verifier


def psc_flow(s: requests.Session, base: str) -> None:
    issuer = base + PSC_REALM
    page, state, verifier = _psc_authorize(s, base)
    action, csrf = PSC_FORM.search(page.text), PSC_CSRF.search(page.text)
    if not (action and csrf):
        raise FlowError("authorize: no persona form on the page")
    done = _expect(s.post(base + action.group(1), allow_redirects=False, timeout=TIMEOUT,
                          data={"csrf": csrf.group(1), "national_id": PSC_NATIONAL_ID}),
                   302, "login")
    code = _code_from(done.headers.get("Location", ""), state, "login")
    _tokens_and_userinfo(s, issuer + "/protocol/openid-connect/token",
                         issuer + "/protocol/openid-connect/userinfo", code, verifier)


def node_flow(s: requests.Session, base: str) -> None:
    verifier, challenge = _pkce()
    state, nonce = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
    start = _expect(s.get(base + "/auth", allow_redirects=False, timeout=TIMEOUT, params={
        "response_type": "code", "client_id": CLIENT_ID, "redirect_uri": REDIRECT_URI,
        "scope": "openid profile email", "state": state, "nonce": nonce,
        "code_challenge": challenge, "code_challenge_method": "S256"}), 303, "authorize")
    page_url = base + start.headers.get("Location", "")
    page = _expect(s.get(page_url, allow_redirects=False, timeout=TIMEOUT), 200, "interaction")
    form = NODE_FORM.search(page.text)
    if not form:
        raise FlowError("interaction: no login form on the page")
    done = _expect(s.post(form.group(1), allow_redirects=False, timeout=TIMEOUT,
                          data={"prompt": "login", "login": "bench-user", "password": "x"}),
                   303, "login")
    resume = _expect(s.get(done.headers.get("Location", ""), allow_redirects=False,
                           timeout=TIMEOUT), 303, "resume")
    code = _code_from(resume.headers.get("Location", ""), state, "resume")
    _tokens_and_userinfo(s, base + "/token", base + "/me", code, verifier)


# ----------------------------------------------------------------------------- e-CPS push
ECPS_PIN = "1234"
ECPS_FLOW_TIMEOUT = 60.0
"""Seconds one e-CPS login may wait for the phone before it counts as a failure."""
MEANS_ECPS = re.compile(r'id="means-ecps" href="([^"]+)"')


def ecps_flow(s: requests.Session, base: str, national_id: str) -> None:
    """A browser's e-CPS push login; the client's virtual phone (``AutoResponder``) approves.

    GET /auth (persona page) → GET /login/<uid>/ecps (form) → POST it (303) → GET …/finish
    (waiting page) → GET …/status?wait=20 until not pending → GET …/finish (302 → code)
    → token → userinfo.
    """
    issuer = base + PSC_REALM
    page, state, verifier = _psc_authorize(s, base)
    link, csrf = MEANS_ECPS.search(page.text), PSC_CSRF.search(page.text)
    if not (link and csrf):
        raise FlowError("authorize: no e-CPS link or CSRF token on the login page")
    form_url = base + link.group(1).replace("&amp;", "&")
    _expect(s.get(form_url, allow_redirects=False, timeout=TIMEOUT), 200, "ecps form")
    sent = _expect(s.post(form_url, allow_redirects=False, timeout=TIMEOUT,
                          data={"csrf": csrf.group(1), "national_id": national_id}),
                   303, "ecps send")
    finish_url = base + sent.headers.get("Location", "")
    waiting = s.get(finish_url, allow_redirects=False, timeout=TIMEOUT)
    if waiting.status_code == 302:  # the phone approved before the waiting page loaded
        done = waiting
    else:
        _expect(waiting, 200, "waiting page")
        if 'id="binding-code"' not in waiting.text:
            raise FlowError("waiting page: no binding code")
        status_url = finish_url.rsplit("/", 1)[0] + "/status"
        deadline = time.monotonic() + ECPS_FLOW_TIMEOUT
        wait = 20
        while True:
            answer = s.get(status_url, params={"wait": wait}, timeout=TIMEOUT + 25)
            wait = 20
            if answer.status_code in (429, 503):  # no room to hold the wait (waits.py)
                time.sleep(min(float(answer.headers.get("Retry-After", 2)), 10))
                wait = 0  # status without waiting next, as ecps-wait.js does
                continue
            body = _expect(answer, 200, "status").json()
            if body.get("status") != "pending":
                break
            if time.monotonic() > deadline:
                raise FlowError("status: the phone did not answer in time")
            if isinstance(body.get("retry_after"), int | float):  # no room to hold the wait:
                time.sleep(min(body["retry_after"], 10))  # ask again later (psc_idp/waits.py)
        if body.get("status") != "success":
            raise FlowError(f"status: {body}")
        done = _expect(s.get(finish_url, allow_redirects=False, timeout=TIMEOUT), 302, "finish")
    code = _code_from(done.headers.get("Location", ""), state, "finish")
    _tokens_and_userinfo(s, issuer + "/protocol/openid-connect/token",
                         issuer + "/protocol/openid-connect/userinfo", code, verifier)


def ecps_candidates() -> list[str]:
    """Demo professionals who may hold an e-CPS (not the one whose means are blocked)."""
    from psc_idp.directory.demo_data import BLOCKED_RPPS, demo_rpps

    return ["8" + demo_rpps(n) for n in range(1, 24) if demo_rpps(n) != BLOCKED_RPPS]


def activate_phones(base: str, home: str, count: int) -> list[str]:
    """One virtual e-CPS per professional (codes read from the outbox: demo mode)."""
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from clients.ecps_app.phone import EcpsPhone, PhoneError

    activated: list[str] = []
    for national_id in ecps_candidates():
        if len(activated) >= count:
            break
        phone = EcpsPhone(base, home, national_id)
        try:
            if not phone.activated:
                phone.activate(ECPS_PIN, device_name="benchmark phone")
            activated.append(national_id)
        except PhoneError as exc:
            print(f"  cannot activate {national_id}: {exc}", file=sys.stderr)
    if len(activated) < count:
        raise SystemExit(f"only {len(activated)} e-CPS activated, {count} needed")
    return activated


def start_phone(base: str, home: str, national_id: str, transport: str) -> Any:
    """The client's phone: approves every login pushed to its professional, in a thread."""
    from clients.ecps_app.phone import AutoResponder, EcpsPhone

    responder = AutoResponder(EcpsPhone(base, home, national_id), "approve", pin=ECPS_PIN,
                              transport=transport)
    return responder.start()


# ----------------------------------------------------------------------------- CPx card
CARD_STEP = re.compile(r'<meta name="psc-idp-card-step" content="([^"]+)"')
PERSONA_UID = re.compile(r'action="/login/([^/"]+)/persona"')


def card_session(card: dict[str, Any]) -> requests.Session:
    """A session that presents the card in its TLS handshakes (the reader's job: PIN checked
    once per client on the chip, then the key unlocked, as the middleware caches it)."""
    import ssl

    from requests.adapters import HTTPAdapter

    context = ssl.create_default_context(cafile=card["ca"])
    context.load_cert_chain(card["cert"], card["key"], password=card["password"])

    class CardAdapter(HTTPAdapter):
        def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
            kwargs["ssl_context"] = context
            super().init_poolmanager(*args, **kwargs)

    session = requests.Session()
    session.trust_env = False
    session.mount("https://", CardAdapter())
    return session


def card_flow(s: requests.Session, base: str, card: dict[str, Any]) -> None:
    """A browser's card login: the card step's TLS handshake on a new connection every time.

    GET /auth (persona page) → GET /login/<uid>/card (card page) → GET <mTLS>/login/<uid>/card/tls
    presenting the card (303, new TLS connection with client authentication) → GET the return
    URL (302 → code) → token → userinfo."""
    issuer = base + PSC_REALM
    page, state, verifier = _psc_authorize(s, base)
    uid = PERSONA_UID.search(page.text)
    if not uid:
        raise FlowError("authorize: no login request id on the page")
    step_page = _expect(s.get(f"{base}/login/{uid.group(1)}/card", allow_redirects=False,
                              timeout=TIMEOUT), 200, "card page")
    step = CARD_STEP.search(step_page.text)
    if not step:
        raise FlowError("card page: no card step URL")
    with card_session(card) as reader:  # a new connection: a full handshake per login
        presented = _expect(reader.get(step.group(1).replace("&amp;", "&"),
                                       allow_redirects=False, timeout=TIMEOUT), 303, "card tls")
    done = _expect(s.get(presented.headers.get("Location", ""), allow_redirects=False,
                         timeout=TIMEOUT), 302, "card return")
    code = _code_from(done.headers.get("Location", ""), state, "card return")
    _tokens_and_userinfo(s, issuer + "/protocol/openid-connect/token",
                         issuer + "/protocol/openid-connect/userinfo", code, verifier)


def unlock_card(folder: str, pin: str, ca_file: str) -> dict[str, Any]:
    """The card's TLS credentials, after the PIN check on its chip."""
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from pathlib import Path

    from psc_idp.credentials.card_chip import Chip

    cert, key, password = Chip.open(Path(folder)).tls_credentials(pin)
    return {"cert": str(cert), "key": str(key), "password": password, "ca": ca_file}


FLOWS = {"psc-idp": psc_flow, "node-oidc-provider": node_flow, "psc-idp-ecps": ecps_flow,
         "psc-idp-card": card_flow, "psc-idp-granian": psc_flow}
ECPS_KIND = "psc-idp-ecps"
CARD_KIND = "psc-idp-card"
GRANIAN_KIND = "psc-idp-granian"
"""The persona code flow against psc-idp served by granian instead of gunicorn."""


# ----------------------------------------------------------------------------- CPU accounting
def _proc_cpu_ticks(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0
    return int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)


def _children_map() -> dict[int, list[int]]:
    """ppid → pids, by scanning /proc (/proc/<pid>/task/*/children is not always built in)."""
    out: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as fh:
                ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        out.setdefault(ppid, []).append(int(name))
    return out


def process_tree(root: int) -> list[int]:
    children, tree, todo = _children_map(), [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, []))
    return tree


def postgres_backends(dbname: str | None) -> list[int]:
    if not dbname:
        return []
    sql = ("select pid from pg_stat_activity where datname = %s and pid <> pg_backend_pid()")
    try:
        import psycopg

        with psycopg.connect(host="127.0.0.1", user="postgres", dbname="postgres",
                             autocommit=True, connect_timeout=5) as conn:
            return [row[0] for row in conn.execute(sql, (dbname,)).fetchall()]
    except Exception as exc:  # noqa: BLE001 - DB CPU is an extra; never fail the run for it
        print(f"warning: cannot list PostgreSQL backends: {exc}", file=sys.stderr)
        return []


def cpu_snapshot(pids: list[int]) -> dict[int, int]:
    return {pid: _proc_cpu_ticks(pid) for pid in pids}


def machine_busy_ms() -> float:
    """CPU time all cores spent not idle since boot (first line of /proc/stat)."""
    with open("/proc/stat") as fh:
        ticks = [int(v) for v in fh.readline().split()[1:]]
    idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)  # idle + iowait
    busy = sum(ticks[:8]) - idle  # user nice system idle iowait irq softirq steal
    return busy * 1000.0 / CLK_TCK


def cpu_ms(before: dict[int, int], after: dict[int, int]) -> float:
    """CPU spent between two snapshots; processes born in between count from zero."""
    ticks = sum(max(0, t - before.get(pid, 0)) for pid, t in after.items())
    return ticks * 1000.0 / CLK_TCK


# ----------------------------------------------------------------------------- one run
@dataclass
class RunResult:
    server: str
    clients: int
    flows: int = 0
    failures: int = 0
    warmup_flows: int = 0
    warmup_failures: int = 0
    seconds: float = 0.0
    flows_per_s: float = 0.0
    p50_ms: float = 0.0
    p95_ms: float = 0.0
    mean_ms: float = 0.0
    server_cpu_ms_per_flow: float = 0.0
    db_cpu_ms_per_flow: float | None = None
    driver_cpu_ms_per_flow: float = 0.0
    server_cpu_cores: float = 0.0
    driver_cpu_cores: float = 0.0
    machine_busy_cores: float = 0.0
    other_load_cores: float = 0.0
    failure_samples: list[str] = field(default_factory=list)


def _take(counter: Any) -> bool:
    with counter.get_lock():
        if counter.value <= 0:
            return False
        counter.value -= 1
        return True


def _client(kind: str, base: str, warm: Any, tickets: Any, deadline: Any,
            barriers: tuple[Any, Any, Any], results: Any, ecps: dict[str, str] | None = None
            ) -> None:
    flow = FLOWS[kind]
    if ecps is not None and kind == CARD_KIND:  # the card, unlocked once (PIN on the chip)
        card = unlock_card(ecps["folder"], ecps["pin"], ecps["ca"])
        flow = functools.partial(card_flow, card=card)  # type: ignore[assignment]
    elif ecps is not None:  # this client's professional and phone
        national_id = ecps["national_id"]
        start_phone(base, ecps["home"], national_id, ecps["transport"])
        flow = functools.partial(ecps_flow, national_id=national_id)  # type: ignore[assignment]
    session = requests.Session()
    session.trust_env = False  # no proxy/netrc lookups per request (≈20 % of the driver's CPU)
    out: dict[str, Any] = {"latencies": [], "failures": [], "warm": 0, "warm_failures": []}

    def one() -> tuple[float, str | None]:
        session.cookies.clear()
        t0 = time.perf_counter()
        try:
            flow(session, base)
            error = None
        except FlowError as exc:
            error = str(exc)
        except Exception as exc:  # connection errors, bad JSON…: a failed flow, never a crash
            error = f"{type(exc).__name__}: {exc}"[:300]
        return (time.perf_counter() - t0) * 1000.0, error

    while _take(warm):
        _, error = one()
        out["warm"] += 1
        if error:
            out["warm_failures"].append(error)
    barriers[0].wait(timeout=120)  # warm-up done: the parent snapshots CPU, sets the deadline
    barriers[1].wait(timeout=120)  # go
    while time.monotonic() < deadline.value and _take(tickets):
        ms, error = one()
        if error:
            out["failures"].append(error)
        else:
            out["latencies"].append(ms)
    results.put(out)
    barriers[2].wait(timeout=120)  # everyone finished: the parent snapshots CPU


def run(kind: str, base: str, server_pid: int, n: int, warmup: int, duration: float,
        max_flows: int, pg_db: str | None, ecps: dict[str, Any] | None = None) -> RunResult:
    ctx = mp.get_context("fork")
    warm = ctx.Value("i", max(warmup, 2 * n))
    tickets = ctx.Value("i", max_flows)
    deadline = ctx.Value("d", time.monotonic() + 3600)
    barriers = (ctx.Barrier(n + 1), ctx.Barrier(n + 1), ctx.Barrier(n + 1))
    results = ctx.Queue()
    if kind == CARD_KIND and ecps is not None:  # every client uses the one card
        phones: list[Any] = [ecps] * n
    else:
        phones = [None] * n if ecps is None else [
            {"national_id": ecps["national_ids"][i], "home": ecps["home"],
             "transport": ecps["transport"]} for i in range(n)]
    procs = [ctx.Process(target=_client, args=(kind, base, warm, tickets, deadline, barriers,
                                               results, phones[i]), daemon=True)
             for i in range(n)]
    for p in procs:
        p.start()
    wait = duration + 120
    barriers[0].wait(timeout=wait)
    driver_pids = [p.pid for p in procs if p.pid]
    server_pids = process_tree(server_pid)
    db_pids = postgres_backends(pg_db)
    before = (cpu_snapshot(server_pids), cpu_snapshot(db_pids), cpu_snapshot(driver_pids))
    busy_before = machine_busy_ms()
    deadline.value = time.monotonic() + duration
    t0 = time.monotonic()
    barriers[1].wait(timeout=wait)
    barriers[2].wait(timeout=wait)
    elapsed = time.monotonic() - t0
    busy = machine_busy_ms() - busy_before
    after = (cpu_snapshot(process_tree(server_pid)),
             cpu_snapshot(sorted(set(db_pids) | set(postgres_backends(pg_db)))),
             cpu_snapshot(driver_pids))
    outs = [results.get(timeout=30) for _ in procs]
    for p in procs:
        p.join(timeout=30)

    latencies = sorted(ms for o in outs for ms in o["latencies"])
    failures = [f for o in outs for f in o["failures"]]
    warm_failures = [f for o in outs for f in o["warm_failures"]]
    res = RunResult(server=kind, clients=n, flows=len(latencies), failures=len(failures),
                    warmup_flows=sum(o["warm"] for o in outs),
                    warmup_failures=len(warm_failures), seconds=round(elapsed, 3))
    kinds = collections.Counter(TOKENISH.sub("…", f) for f in failures + warm_failures)
    res.failure_samples = [f"{count}× {msg}" for msg, count in kinds.most_common(10)]
    done = len(latencies) + len(failures)
    if latencies:
        res.flows_per_s = round(len(latencies) / elapsed, 1)
        res.p50_ms = round(statistics.median(latencies), 1)
        res.p95_ms = round(latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))], 1)
        res.mean_ms = round(statistics.fmean(latencies), 1)
    if done:
        server_ms = cpu_ms(before[0], after[0])
        driver_ms = cpu_ms(before[2], after[2])
        res.server_cpu_ms_per_flow = round(server_ms / done, 2)
        res.driver_cpu_ms_per_flow = round(driver_ms / done, 2)
        res.server_cpu_cores = round(server_ms / 1000 / elapsed, 2)
        res.driver_cpu_cores = round(driver_ms / 1000 / elapsed, 2)
        db_ms = cpu_ms(before[1], after[1]) if pg_db else 0.0
        if pg_db:
            res.db_cpu_ms_per_flow = round(db_ms / done, 2)
        res.machine_busy_cores = round(busy / 1000 / elapsed, 2)
        res.other_load_cores = round(max(0.0, busy - server_ms - db_ms - driver_ms)
                                     / 1000 / elapsed, 2)
    return res


# ----------------------------------------------------------------------------- reporting
MEDIAN_FIELDS = ("flows_per_s", "p50_ms", "p95_ms", "mean_ms", "server_cpu_ms_per_flow",
                 "db_cpu_ms_per_flow", "driver_cpu_ms_per_flow", "server_cpu_cores",
                 "driver_cpu_cores", "machine_busy_cores", "other_load_cores")


def medians(results: list[RunResult]) -> list[RunResult]:
    """One row per (server, N): the median of each figure over the rounds, flows and failures
    summed (a single round is returned as it is)."""
    groups: dict[tuple[str, int], list[RunResult]] = {}
    for r in results:
        groups.setdefault((r.server, r.clients), []).append(r)
    out = []
    for (server, n), rows in groups.items():
        if len(rows) == 1:
            out.append(rows[0])
            continue
        m = RunResult(server=server, clients=n, flows=sum(r.flows for r in rows),
                      failures=sum(r.failures for r in rows),
                      warmup_flows=sum(r.warmup_flows for r in rows),
                      warmup_failures=sum(r.warmup_failures for r in rows),
                      seconds=round(sum(r.seconds for r in rows), 3),
                      failure_samples=[f for r in rows for f in r.failure_samples][:10])
        for name in MEDIAN_FIELDS:
            values = [getattr(r, name) for r in rows if getattr(r, name) is not None]
            if values:
                setattr(m, name, round(statistics.median(values), 2))
        out.append(m)
    return out


def server_comparison(results: list[RunResult], ns: list[int]) -> dict[int, dict[str, float]]:
    """granian / gunicorn at each N: the ratio of the medians (flows/s, server CPU per flow,
    p95), and the median of the round-by-round ratios (``*_paired``: the two servers measured
    back to back share the machine's state of the moment, so these resist its drift best)."""
    by = {(r.server, r.clients): r for r in medians(results)}
    out: dict[int, dict[str, float]] = {}
    for n in ns:
        guni, gran = by.get(("psc-idp", n)), by.get((GRANIAN_KIND, n))
        if not (guni and gran and guni.flows_per_s and guni.server_cpu_ms_per_flow
                and guni.p95_ms):
            continue
        pairs = list(zip([r for r in results if (r.server, r.clients) == ("psc-idp", n)],
                         [r for r in results if (r.server, r.clients) == (GRANIAN_KIND, n)],
                         strict=False))
        out[n] = {"flows_per_s": round(gran.flows_per_s / guni.flows_per_s, 3),
                  "server_cpu_ms_per_flow": round(gran.server_cpu_ms_per_flow
                                                  / guni.server_cpu_ms_per_flow, 3),
                  "p95_ms": round(gran.p95_ms / guni.p95_ms, 3)}
        for name in ("flows_per_s", "server_cpu_ms_per_flow"):
            ratios = [getattr(b, name) / getattr(a, name) for a, b in pairs if getattr(a, name)]
            if ratios:
                out[n][f"{name}_paired"] = round(statistics.median(ratios), 3)
    return out


def _fmt(v: float | None) -> str:
    return "–" if v is None else f"{v:g}"


def markdown(runs: list[RunResult], ns: list[int], rounds: int = 1) -> str:
    results = medians(runs)
    lines = [f"Medians over {rounds} interleaved rounds per N (flows and failures: totals).",
             ""] if rounds > 1 else []
    lines += ["| server | N | flows/s | p50 ms | p95 ms | server CPU ms/flow | DB CPU ms/flow "
             "| driver CPU ms/flow | other load (cores) | flows | failures |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        fail = f"**{r.failures} FAILED**" if r.failures or r.warmup_failures else "0"
        if r.warmup_failures:
            fail += f" (+{r.warmup_failures} in warm-up)"
        lines.append(f"| {r.server} | {r.clients} | {r.flows_per_s:g} | {r.p50_ms:g} | "
                     f"{r.p95_ms:g} | {r.server_cpu_ms_per_flow:g} | "
                     f"{_fmt(r.db_cpu_ms_per_flow)} | {r.driver_cpu_ms_per_flow:g} | "
                     f"{r.other_load_cores:g} | {r.flows} | {fail} |")
    failed = [r for r in results if r.failure_samples]
    if failed:
        lines += ["", "Failures:"]
        lines += [f"- {r.server} N={r.clients}: {sample}" for r in failed
                  for sample in r.failure_samples]
    ratios = ratio_table(results, ns)
    ecps_ratios = ratio_table(results, ns, ECPS_KIND)
    card_ratios = ratio_table(results, ns, CARD_KIND)
    cpu_ratios = ratio_table(results, ns, field="server_cpu_ms_per_flow")
    if ratios or ecps_ratios or card_ratios:
        lines += ["", "| N | psc-idp / node-oidc-provider flows/s | psc-idp e-CPS push / "
                  "node-oidc-provider flows/s | psc-idp card / node-oidc-provider flows/s "
                  "| psc-idp / node-oidc-provider server CPU per flow |",
                  "|---:|---:|---:|---:|---:|"]
        lines += [f"| {n} | {_ratio(ratios.get(n))}{_spread(runs, n)} | "
                  f"{_ratio(ecps_ratios.get(n))}{_spread(runs, n, ECPS_KIND)} | "
                  f"{_ratio(card_ratios.get(n))}{_spread(runs, n, CARD_KIND)} | "
                  f"{_ratio(cpu_ratios.get(n))} |" for n in ns]
        if rounds > 1:
            lines += ["", "In brackets: the lowest and highest of the round-by-round ratios "
                      "(each round's psc-idp measurement against the node-oidc-provider one "
                      "next to it): how far this machine's drift moves the figure."]
    servers = server_comparison(runs, ns)
    if servers:
        granian = ratio_table(results, ns, GRANIAN_KIND)
        lines += ["", "granian / gunicorn: the ratio of the medians (the median of the "
                  "round-by-round ratios)", "",
                  "| N | flows/s | server CPU ms/flow | p95 "
                  "| psc-idp (granian) / node-oidc-provider flows/s |",
                  "|---:|---:|---:|---:|---:|"]
        lines += [f"| {n} | {_ratio(c['flows_per_s'])} ({_ratio(c.get('flows_per_s_paired'))}) "
                  f"| {_ratio(c['server_cpu_ms_per_flow'])} "
                  f"({_ratio(c.get('server_cpu_ms_per_flow_paired'))}) "
                  f"| {_ratio(c['p95_ms'])} | {_ratio(granian.get(n))} |"
                  for n, c in servers.items()]
    return "\n".join(lines)


def _ratio(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}×"


def ratio_table(results: list[RunResult], ns: list[int], kind: str = "psc-idp",
                field: str = "flows_per_s") -> dict[int, float]:
    """``kind`` / node-oidc-provider at each N: the ratio of the medians of ``field``."""
    by = {(r.server, r.clients): r for r in medians(results)}
    out = {}
    for n in ns:
        psc, node = by.get((kind, n)), by.get(("node-oidc-provider", n))
        if psc and node and getattr(node, field) and getattr(psc, field) is not None:
            out[n] = round(getattr(psc, field) / getattr(node, field), 3)
    return out


def round_ratios(runs: list[RunResult], n: int, kind: str = "psc-idp") -> list[float]:
    """``kind`` / node-oidc-provider flows/s round by round at N (the k-th measurement of one
    against the k-th of the other: the rounds are interleaved, so they ran minutes apart)."""
    mine = [r for r in runs if (r.server, r.clients) == (kind, n)]
    node = [r for r in runs if (r.server, r.clients) == ("node-oidc-provider", n)]
    return [round(a.flows_per_s / b.flows_per_s, 3)
            for a, b in zip(mine, node, strict=False) if b.flows_per_s]


def _spread(runs: list[RunResult], n: int, kind: str = "psc-idp") -> str:
    ratios = round_ratios(runs, n, kind)
    return f" ({min(ratios):.2f}–{max(ratios):.2f})" if len(ratios) > 1 else ""


def machine() -> dict[str, Any]:
    model = ""
    try:
        with open("/proc/cpuinfo") as fh:
            model = next((line.split(":", 1)[1].strip() for line in fh
                          if line.startswith("model name")), "")
    except OSError:
        pass
    try:
        node = subprocess.run(["node", "--version"], capture_output=True, text=True,
                              timeout=10).stdout.strip()
    except OSError:
        node = ""
    return {"cpus": os.cpu_count(), "cpu_model": model, "kernel": platform.release(),
            "python": platform.python_version(), "node": node, **_revision()}


def _revision() -> dict[str, Any]:
    """The commit measured, and whether psc_idp/ had uncommitted changes (read-only git)."""
    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], capture_output=True, text=True, timeout=10,
                                  cwd=os.path.dirname(os.path.abspath(__file__))).stdout.strip()
        except OSError:
            return ""
    return {"commit": git("rev-parse", "--short", "HEAD"),
            "psc_idp_uncommitted_changes": bool(git("status", "--porcelain", "--", "../psc_idp"))}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--psc", help="psc-idp base URL (http://127.0.0.1:PORT)")
    ap.add_argument("--psc-pid", type=int, help="PID of the gunicorn master (psc-idp serve)")
    ap.add_argument("--granian", help="psc-idp served by granian: base URL (code flow only)")
    ap.add_argument("--granian-pid", type=int, help="PID of the granian main process")
    ap.add_argument("--rounds", type=int, default=1,
                    help="measurements per server and N, interleaved; tables show medians")
    ap.add_argument("--node", help="node-oidc-provider base URL")
    ap.add_argument("--node-pid", type=int, help="PID of the node process")
    ap.add_argument("--pg-db", help="psc-idp's PostgreSQL database (its backends' CPU)")
    ap.add_argument("--clients", default="1,4,16", help="comma-separated N (default 1,4,16)")
    ap.add_argument("--warmup", type=int, default=20, help="warm-up flows (at least 2N)")
    ap.add_argument("--duration", type=float, default=10.0, help="max seconds per measurement")
    ap.add_argument("--max-flows", type=int, default=1000, help="max flows per measurement")
    ap.add_argument("--ecps", action="store_true",
                    help="also e-CPS push logins on psc-idp (one virtual phone per client)")
    ap.add_argument("--ecps-phone", choices=("stream", "long-poll"), default="stream",
                    help="how the virtual phones wait for logins (default: event stream)")
    ap.add_argument("--ecps-home", help="folder of the phones' state (default: a temp dir)")
    ap.add_argument("--card", help="also card logins on psc-idp with this virtual card "
                    "(a folder written by `psc-idp card issue`)")
    ap.add_argument("--card-pin", default="1234", help="the card's PIN")
    ap.add_argument("--card-ca", help="the provider's root CA (psc-idp pki show: root_ca)")
    ap.add_argument("--out", help="write the results as JSON here")
    args = ap.parse_args(argv)
    ns = [int(n) for n in args.clients.split(",") if n.strip()]
    targets = [(kind, base.rstrip("/"), pid) for kind, base, pid in (
        ("psc-idp", args.psc, args.psc_pid), (GRANIAN_KIND, args.granian, args.granian_pid),
        ("node-oidc-provider", args.node, args.node_pid)) if base]
    ecps: dict[str, Any] | None = None
    if args.ecps:
        if not args.psc:
            ap.error("--ecps needs --psc")
        home = args.ecps_home or tempfile.mkdtemp(prefix="psc-bench-phones-")
        print(f"activating {max(ns)} virtual e-CPS phones", file=sys.stderr, flush=True)
        ecps = {"home": home, "transport": args.ecps_phone,
                "national_ids": activate_phones(args.psc.rstrip("/"), home, max(ns))}
        targets.append((ECPS_KIND, args.psc.rstrip("/"), args.psc_pid))
    card: dict[str, Any] | None = None
    if args.card:
        if not (args.psc and args.card_ca):
            ap.error("--card needs --psc and --card-ca")
        card = {"folder": args.card, "pin": args.card_pin, "ca": args.card_ca}
        targets.append((CARD_KIND, args.psc.rstrip("/"), args.psc_pid))
    if not targets or any(pid is None for _, _, pid in targets):
        ap.error("give --psc and --psc-pid and/or --node and --node-pid")

    if args.rounds < 1:
        ap.error("--rounds must be at least 1")
    results: list[RunResult] = []
    for n, round_targets in _schedule(ns, targets, args.rounds):
        for kind, base, pid in round_targets:
            res = run(kind, base, pid, n, args.warmup, args.duration, args.max_flows,
                      args.pg_db if kind != "node-oidc-provider" else None,
                      ecps if kind == ECPS_KIND else card if kind == CARD_KIND else None)
            results.append(res)
            print(f"  {kind:20} N={n:<3} {res.flows_per_s:8.1f} flows/s  p50 {res.p50_ms:7.1f} "
                  f"ms  p95 {res.p95_ms:7.1f} ms  server {res.server_cpu_ms_per_flow:6.2f} "
                  f"ms/flow  driver {res.driver_cpu_cores:.2f} cores  other load "
                  f"{res.other_load_cores:.2f} cores  failures {res.failures}",
                  file=sys.stderr, flush=True)
            for sample in res.failure_samples:
                print(f"    failure: {sample}", file=sys.stderr)

    report = {
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": machine(),
        "parameters": {"clients": ns, "rounds": args.rounds, "warmup_flows": args.warmup,
                       "duration_s": args.duration, "max_flows": args.max_flows,
                       "driver": "one process per virtual client, requests.Session"},
        "flows": {
            "psc-idp": "GET /auth → POST /login/<uid>/persona → token → userinfo "
                       "(scope openid scope_all, acr_values eidas1)",
            GRANIAN_KIND: "the psc-idp flow, against psc-idp served by granian (WSGI)",
            "node-oidc-provider": "GET /auth → GET /interaction/<uid> → POST it → "
                                  "GET /auth/<uid> → token → /me (scope openid profile email)",
            ECPS_KIND: "GET /auth → GET /login/<uid>/ecps → POST it (303) → GET …/finish → "
                       "GET …/status?wait=20 until approved (the client's virtual phone "
                       "approves with PIN + device signature through the mobile API) → "
                       "GET …/finish (302 code) → token → userinfo",
            CARD_KIND: "GET /auth → GET /login/<uid>/card → GET <mTLS>/login/<uid>/card/tls "
                       "presenting the card (new TLS connection, client authentication) → "
                       "GET the return URL (302 code) → token → userinfo"},
        "ecps_phone_transport": args.ecps_phone if args.ecps else None,
        "runs": [asdict(r) for r in results],
        "ratio_psc_over_node_flows_per_s": {str(k): v for k, v in ratio_table(results,
                                                                             ns).items()},
        "ratio_psc_ecps_over_node_flows_per_s": {
            str(k): v for k, v in ratio_table(results, ns, ECPS_KIND).items()},
        "ratio_psc_card_over_node_flows_per_s": {
            str(k): v for k, v in ratio_table(results, ns, CARD_KIND).items()},
        "ratio_psc_over_node_server_cpu_per_flow": {
            str(k): v for k, v in ratio_table(results, ns,
                                              field="server_cpu_ms_per_flow").items()},
        "round_ratios_psc_over_node_flows_per_s": {
            str(n): round_ratios(results, n) for n in ns} if args.rounds > 1 else None,
        "medians": [asdict(r) for r in medians(results)] if args.rounds > 1 else None,
        "ratio_granian_over_gunicorn": {str(k): v for k, v in
                                        server_comparison(results, ns).items()} or None,
        "failed": any(r.failures or r.warmup_failures for r in results),
    }
    if args.out:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        with open(args.out, "w") as fh:
            json.dump(report, fh, indent=2, ensure_ascii=False)
            fh.write("\n")
    print(markdown(results, ns, args.rounds))
    return 1 if report["failed"] else 0


def _schedule(ns: list[int], targets: list[tuple[str, str, int]], rounds: int
              ) -> list[tuple[int, list[tuple[str, str, int]]]]:
    """Each N's rounds back to back (slow drifts of the shared machine hit every server alike),
    gunicorn and granian swapping places every other round (neither always runs first)."""
    out = []
    for n in ns:
        for r in range(rounds):
            order = list(targets)
            kinds = [kind for kind, _, _ in order]
            if r % 2 and "psc-idp" in kinds and GRANIAN_KIND in kinds:
                i, j = kinds.index("psc-idp"), kinds.index(GRANIAN_KIND)
                order[i], order[j] = order[j], order[i]
            out.append((n, order))
    return out


if __name__ == "__main__":
    sys.exit(main())
