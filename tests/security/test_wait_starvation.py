"""Waits cannot starve the server (issue 11, "Security under concurrency and abuse", item 3).

One ``GET /auth`` makes a login; its waiting page's event stream and status long-poll (and a
phone's) each held a server thread for up to a minute, so ~64 idle requests held every
thread of ``psc-idp serve --workers 2`` and discovery stopped answering for everyone.
``psc_idp/waits.py`` bounds the waits held per process, per login or device and per address;
a wait that finds no room is answered at once (429/503 for a stream, the current status with
``retry_after`` for a long-poll).

The attacker here is 200 raw-socket connections from 50 loopback addresses (127.0.0.2–51),
each re-asking after ``Retry-After`` as long as the test runs, on three logins with a real
pending push (the typed national id of a professional with an e-CPS: public numbers) and on a
means with nothing to wait on (``ecps_otp/events``). Meanwhile discovery, token and userinfo
must answer within 2 s, the extra waits must be answered at once, and a real e-CPS login
(its phone approving) must still complete. On the code before ``waits.py`` the gunicorn test
fails: discovery does not answer within 2 s.
"""

from __future__ import annotations

import contextlib
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

from clients.ecps_app.phone import AutoResponder, EcpsPhone, read_events
from psc_idp import waits
from psc_idp.db import db
from tests.conftest import free_port
from tests.psc_actions import PscActions
from tests.served import Served, serve_subprocess

GP = "810099900010"  # the legitimate professional
NURSE = "810099900119"  # whose public number the attacker types (3 pushes at most)
PIN = "1234"
FAST = 2.0
"""Seconds within which discovery, token, userinfo and every refused wait must answer."""


# ----------------------------------------------------------------------------- the budget
def test_budget_bounds_per_key_address_and_process() -> None:
    budget = waits.WaitBudget(max_open=3, per_address=2, per_key=2, retry_after=5)
    a = budget.try_acquire("login:a", "10.0.0.1")
    b = budget.try_acquire("login:a", "10.0.0.2")
    assert a.granted and b.granted
    third = budget.try_acquire("login:a", "10.0.0.3")
    assert (third.granted, third.reason, third.status, third.retry_after) == (
        False, "login", 429, 5)
    c = budget.try_acquire("login:b", "10.0.0.1")
    assert c.granted
    assert budget.try_acquire("login:c", "10.0.0.1").reason == "address"
    full = budget.try_acquire("device:d")  # phones: not counted per address
    assert (full.granted, full.reason, full.status) == (False, "busy", 503)
    a.release()
    a.release()  # idempotent
    assert budget.open_waits() == 2
    d = budget.try_acquire("device:d")
    assert d.granted
    for permit in (b, c, d):
        permit.release()
    assert budget.open_waits() == 0 and not budget._keys and not budget._addresses
    waits.NO_WAIT.release()  # a request that does not wait has nothing to give back


# ----------------------------------------------------------------------------- the attacker
@dataclass
class Attack:
    """``connections`` raw HTTP/1.1 connections, each asking one of ``paths`` again and again
    (with its login's cookies) until ``stop``, from rotating loopback source addresses."""

    host: str
    port: int
    targets: list[tuple[str, str]]
    """(path, Cookie header)"""
    connections: int = 200
    addresses: int = 50
    stop_event: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    answers: list[tuple[str, int, float]] = field(default_factory=list)
    """(kind, status, seconds to the status line): kind held_stream, held_poll, refused,
    short_poll, ended_stream, other."""
    streams_open: int = 0
    max_streams_open: int = 0
    sockets: set[socket.socket] = field(default_factory=set)
    threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> Attack:
        for i in range(self.connections):
            thread = threading.Thread(target=self._run, args=(i,), daemon=True,
                                      name=f"attacker-{i}")
            thread.start()
            self.threads.append(thread)
        return self

    def stop(self) -> None:
        self.stop_event.set()
        with self.lock:
            for sock in list(self.sockets):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
        for thread in self.threads:
            thread.join(timeout=10)
        assert not any(t.is_alive() for t in self.threads), "attacker threads left running"

    def count(self, kind: str) -> int:
        with self.lock:
            return sum(1 for k, _, _ in self.answers if k == kind)

    def _run(self, i: int) -> None:
        source = f"127.0.0.{2 + i % self.addresses}"
        path, cookie = self.targets[i % len(self.targets)]
        while not self.stop_event.is_set():
            pause = self._once(source, path, cookie)
            if pause:
                self.stop_event.wait(pause)

    def _once(self, source: str, path: str, cookie: str) -> float:
        """One request; returns the pause before the next (Retry-After for a refusal)."""
        try:
            sock = socket.create_connection((self.host, self.port), timeout=70,
                                            source_address=(source, 0))
        except OSError:
            return 0.5
        with self.lock:
            self.sockets.add(sock)
        try:
            if self.stop_event.is_set():
                return 0
            started = time.monotonic()
            sock.sendall((f"GET {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
                          f"Cookie: {cookie}\r\nAccept: */*\r\nConnection: close\r\n\r\n"
                          ).encode())
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = sock.recv(4096)
                if not chunk:
                    return 0.5
                data += chunk
            took = time.monotonic() - started
            head, _, rest = data.partition(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            status = int(lines[0].split()[1])
            headers = {k.strip().lower(): v.strip() for k, _, v in
                       (line.partition(":") for line in lines[1:])}
            retry_after = float(headers.get("retry-after", "0") or 0)
            if status == 200 and headers.get("content-type", "").startswith("text/event"):
                return self._hold_stream(sock, rest, took, waits="/ecps/" in path)
            body = rest + _read_all(sock)
            if status in (429, 503):
                self._note("refused", status, took)
                return retry_after or 1
            if status == 200 and b'"retry_after"' in body:
                self._note("short_poll", status, took)
                return retry_after or 1
            self._note("held_poll" if status == 200 else "other", status, took)
            return 0.2 if status == 200 else 1
        except OSError:
            return 0.5
        finally:
            with self.lock:
                self.sockets.discard(sock)
            sock.close()

    def _hold_stream(self, sock: socket.socket, rest: bytes, took: float, waits: bool
                     ) -> float:
        """Read a stream to its end; ``waits``: a push is pending (counted while open)."""
        count = 1 if waits else 0
        with self.lock:
            self.streams_open += count
            self.max_streams_open = max(self.max_streams_open, self.streams_open)
        try:
            body = rest + _read_all(sock)
        finally:
            with self.lock:
                self.streams_open -= count
        # a means with nothing to wait on: its status, then the end, at once
        self._note("ended_stream" if b"event: status" in body and len(body) < 2000
                   and b"heartbeat" not in body else "held_stream", 200, took)
        return 0.2

    def _note(self, kind: str, status: int, took: float) -> None:
        with self.lock:
            self.answers.append((kind, status, took))


def _read_all(sock: socket.socket) -> bytes:
    data = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except OSError:
            return data
        if not chunk:
            return data
        data += chunk


def _cookie_header(session: requests.Session) -> str:
    return "; ".join(f"{c.name}={c.value}" for c in session.cookies)


def _pending_login(base: str, issuer: str, national_id: str) -> tuple[requests.Session, str]:
    """A login whose e-CPS push to ``national_id`` waits: the browser and the login's uid."""
    psc = PscActions(issuer, browser=requests.Session())
    psc.browser.trust_env = False
    page = psc.open(psc.start(psc.client()).url)
    assert page.status_code == 200, page.text[:300]
    uid = re.search(r'/login/([^/"]+)/', page.text).group(1)
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    sent = psc.browser.post(f"{base}/login/{uid}/ecps",
                            data={"csrf": csrf, "national_id": national_id},
                            allow_redirects=False, timeout=10)
    assert sent.status_code == 303, sent.text[:300]
    return psc.browser, uid


def _attack_targets(base: str, issuer: str) -> list[tuple[str, str]]:
    targets = []
    for _ in range(3):  # the most pushes one professional may have waiting
        browser, uid = _pending_login(base, issuer, NURSE)
        cookie = _cookie_header(browser)
        targets += [(f"/login/{uid}/ecps/events", cookie),
                    (f"/login/{uid}/ecps/status?wait=5", cookie),
                    (f"/login/{uid}/ecps/events", cookie),
                    (f"/login/{uid}/ecps_otp/events", cookie)]
    return targets


def _timed(label: str, call: Callable[[], requests.Response], timings: dict[str, float]
           ) -> requests.Response:
    started = time.monotonic()
    response = call()
    timings[label] = time.monotonic() - started
    return response


def _ordinary_traffic(issuer: str) -> dict[str, float]:
    """Discovery, a persona code flow (authorize, login), token and userinfo, each timed."""
    timings: dict[str, float] = {}
    discovery = _timed("discovery", lambda: requests.get(
        issuer + "/.well-known/wallet-openid-configuration", timeout=FAST * 3), timings)
    assert discovery.status_code == 200
    psc = PscActions(issuer, browser=requests.Session())
    psc._metadata = discovery.json()
    rp = psc.client()
    start = psc.start(rp)
    page = _timed("authorize", lambda: psc.open(start.url), timings)
    assert page.status_code == 200
    done = _timed("login", lambda: psc.pick_persona(page), timings)
    assert done.status_code == 302
    tokens: dict[str, Any] = {}

    def token() -> requests.Response:
        tokens.update(psc.tokens(rp, start, done.headers["Location"], timeout=FAST * 3))
        return requests.Response()

    _timed("token", token, timings)
    assert tokens["access_token"]
    userinfo = _timed("userinfo", lambda: rp.get(psc.metadata["userinfo_endpoint"],
                                                 timeout=FAST * 3), timings)
    assert userinfo.status_code == 200
    return timings


def _ecps_login(base: str, issuer: str, phone: EcpsPhone, timeout: float = 40) -> float:
    """The legitimate professional's e-CPS login, its page doing what ecps-wait.js does (the
    stream, else the long-poll, asking again after ``retry_after``), its phone approving;
    returns the seconds from the push to the code at the RP."""
    psc = PscActions(issuer, browser=requests.Session())
    rp = psc.client()
    start = psc.start(rp, login_hint=GP)
    page = psc.open(start.url)
    uid = re.search(r'/login/([^/"]+)/', page.text).group(1)
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    with AutoResponder(phone, "approve", pin=PIN, transport="stream") as responder:
        started = time.monotonic()
        sent = psc.browser.post(f"{base}/login/{uid}/ecps",
                                data={"csrf": csrf, "national_id": GP},
                                allow_redirects=False, timeout=10)
        assert sent.status_code == 303, sent.text[:300]
        status = "pending"
        stream = psc.browser.get(f"{base}/login/{uid}/ecps/events", stream=True,
                                 timeout=(5, 30))
        if stream.status_code == 200:
            for name, body in read_events(stream):
                if name == "status" and body["status"] != "pending":
                    status = body["status"]
                    break
            stream.close()
        else:
            assert stream.status_code in (429, 503), stream.status_code
            assert stream.headers["Retry-After"]
        wait = 20
        while status == "pending":
            assert time.monotonic() - started < timeout, f"phone: {responder.errors}"
            answer = psc.browser.get(f"{base}/login/{uid}/ecps/status", params={"wait": wait},
                                     timeout=30)
            wait = 20
            if answer.status_code in (429, 503):  # no room: after Retry-After, the status
                time.sleep(float(answer.headers["Retry-After"]))  # without waiting (always
                wait = 0  # answered), as ecps-wait.js does
                continue
            body = answer.json()
            status = body["status"]
            if status == "pending" and "retry_after" in body:
                time.sleep(body["retry_after"])
        assert status == "success", (status, responder.errors)
    done = psc.browser.get(f"{base}/login/{uid}/ecps/finish", allow_redirects=False,
                           timeout=10)
    assert done.status_code == 302, done.text[:300]
    took = time.monotonic() - started
    assert psc.tokens(rp, start, done.headers["Location"])["access_token"]
    return took


def _check_refusals(attack: Attack, max_open: int) -> None:
    with attack.lock:
        answers = list(attack.answers)
    quick = [took for kind, _, took in answers if kind in ("refused", "short_poll",
                                                            "ended_stream")]
    assert len(quick) >= 100, {k: attack.count(k) for k in
                               ("refused", "short_poll", "held_stream", "held_poll", "other")}
    quick.sort()
    assert quick[int(len(quick) * 0.95)] < FAST, quick[-20:]
    assert attack.count("other") == 0, [a for a in answers if a[0] == "other"][:5]
    assert attack.max_streams_open <= max_open, attack.max_streams_open


# ----------------------------------------------------------------------------- gunicorn
@pytest.fixture
def gunicorn(backend: tuple[str, str], make_app: Any, tmp_path: Path) -> Iterator[Served]:
    make_app(demo=False)  # the schema migrated and the tables emptied on this backend
    settings = {"PSC_IDP_SERVER__THREADS": "8", "PSC_IDP_ECPS__STREAM_HEARTBEAT": "1"}
    with serve_subprocess(backend[1], tmp_path, free_port(), args=("--workers", "1"),
                          extra_env=settings) as served:
        yield served


def test_open_waits_leave_the_server_answering(gunicorn: Served, tmp_path: Path) -> None:
    base, issuer = gunicorn.base_url, gunicorn.issuer
    gp = EcpsPhone(base, tmp_path / "gp", GP)
    gp.activate(PIN)
    nurse = EcpsPhone(base, tmp_path / "nurse", NURSE)
    nurse.activate(PIN)
    attack = Attack("127.0.0.1", int(base.rsplit(":", 1)[1]), _attack_targets(base, issuer))
    attack.start()
    try:
        time.sleep(3)  # every connection has asked at least once
        for _ in range(2):
            timings = _ordinary_traffic(issuer)
            assert max(timings.values()) < FAST, timings
        took = _ecps_login(base, issuer, gp)
        assert took < 30
        assert _ordinary_traffic(issuer)["discovery"] < FAST
    finally:
        attack.stop()
    _check_refusals(attack, max_open=4)  # 8 threads: 4 wait slots
    assert attack.count("held_stream") + attack.count("held_poll") >= 1

    # The slots came back: once the streams noticed their clients left (heartbeat 1 s) and
    # the long-polls ended (5 s), four streams are held again (two per device), and a fifth
    # wait is refused.
    time.sleep(6)
    held = [requests.get(base + "/api/mobile/v1/challenges/stream", stream=True,
                         timeout=(5, 30),
                         headers={"Authorization": "Bearer " + phone._load()["device_token"]})
            for phone in (gp, gp, nurse, nurse)]
    browser, uid = _pending_login(base, issuer, GP)
    try:
        assert [r.status_code for r in held] == [200] * 4
        fifth = browser.get(f"{base}/login/{uid}/ecps/events", timeout=5)
        assert fifth.status_code == 503, fifth.text
        assert fifth.json()["error"] == "temporarily_unavailable"
        assert fifth.headers["Retry-After"] == "2"
        refused = browser.get(f"{base}/login/{uid}/ecps/status", params={"wait": 20},
                              timeout=5)  # before any database work
        assert refused.status_code == 503 and refused.headers["Retry-After"] == "2"
        now = browser.get(f"{base}/login/{uid}/ecps/status", timeout=5)  # no wait: no slot
        assert now.status_code == 200 and now.json()["status"] == "pending"
    finally:
        for response in held:
            response.close()
    log = gunicorn.log.read_text()
    for bad in ("Traceback", "ERROR", "WORKER TIMEOUT", "CRITICAL"):
        assert bad not in log, log[-3000:]


# ----------------------------------------------------------------------------- Flask's server
def test_the_budget_holds_in_the_threaded_server(make_live: Any, tmp_path: Path) -> None:
    """``workers = 0``: a thread per request, so the bound is what keeps 1,000 waits from
    running the database pool dry; the waits hold no pooled connection while they sleep."""
    live = make_live(server={"threads": 8}, ecps={"stream_heartbeat": 1})
    base, issuer, app = live.base_url, live.issuer, live.app
    gp = EcpsPhone(base, tmp_path / "gp", GP)
    gp.activate(PIN)
    EcpsPhone(base, tmp_path / "nurse", NURSE).activate(PIN)
    targets = _attack_targets(base, issuer)

    def open_waits() -> int:
        with app.app_context():
            return waits.budget().open_waits()

    # Four sleeping waits (the process's budget) hold no database connection.
    sleepers = Attack("127.0.0.1", live.port, [t for t in targets if "ecps/events" in t[0]],
                      connections=4, addresses=4).start()
    try:
        deadline = time.monotonic() + 10
        while open_waits() < 4 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert open_waits() == 4
        time.sleep(0.5)
        with app.app_context():
            assert db.engine.pool.checkedout() == 0
    finally:
        sleepers.stop()

    attack = Attack("127.0.0.1", live.port, targets, connections=120, addresses=30).start()
    try:
        time.sleep(2)
        assert open_waits() <= 4
        timings = _ordinary_traffic(issuer)
        assert max(timings.values()) < FAST, timings
        assert _ecps_login(base, issuer, gp) < 30
        assert open_waits() <= 4
    finally:
        attack.stop()
    _check_refusals(attack, max_open=4)
    deadline = time.monotonic() + 10  # streams notice their clients left at the next beat
    while open_waits() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert open_waits() == 0  # every slot was given back


def test_a_long_poll_without_room_answers_at_once(make_live: Any, tmp_path: Path) -> None:
    """A long-poll refused for its login's or device's share answers at once with the status
    and ``retry_after``; a stream 429 with ``Retry-After`` (French description)."""
    live = make_live(waits={"per_login": 1, "retry_after": 3})
    phone = EcpsPhone(live.base_url, tmp_path / "gp", GP)
    phone.activate(PIN)
    headers = {"Authorization": "Bearer " + phone._load()["device_token"]}
    url = live.base_url + "/api/mobile/v1/challenges"
    held = requests.get(url + "/stream", stream=True, timeout=(5, 30), headers=headers)
    try:
        assert held.status_code == 200
        started = time.monotonic()
        short = requests.get(url, params={"wait": 20}, headers=headers, timeout=10)
        assert time.monotonic() - started < FAST
        assert short.status_code == 200 and short.headers["Retry-After"] == "3"
        assert short.json()["retry_after"] == 3 and short.json()["challenges"] == []
        refused = requests.get(url + "/stream", headers=headers, timeout=10)
        assert refused.status_code == 429 and refused.headers["Retry-After"] == "3"
        assert "réessayez dans 3 s" in refused.json()["error_description"]
        no_wait = requests.get(url, headers=headers, timeout=10)  # wait=0 needs no slot
        assert no_wait.status_code == 200 and "retry_after" not in no_wait.json()
        # the phone client waits out retry_after itself instead of asking again at once
        started = time.monotonic()
        assert phone.pending(wait=2) == []
        assert time.monotonic() - started >= 1.9
    finally:
        held.close()

    browser, uid = _pending_login(live.base_url, live.issuer, GP)
    page_url = f"{live.base_url}/login/{uid}/ecps"
    held = browser.get(page_url + "/events", stream=True, timeout=(5, 30))
    try:
        assert held.status_code == 200
        started = time.monotonic()
        short = browser.get(page_url + "/status", params={"wait": 20}, timeout=10)
        assert time.monotonic() - started < FAST
        assert short.status_code == 200 and short.headers["Retry-After"] == "3"
        assert short.json()["status"] == "pending" and short.json()["retry_after"] == 3
        refused = browser.get(page_url + "/events", timeout=10)
        assert refused.status_code == 429 and refused.json()["error"] == "too_many_waits"
    finally:
        held.close()
    assert live.app.extensions["psc_idp"].settings.waits.resolved(32) == (16, 4, 1)


# ----------------------------------------------------------------------------- the page's script
@pytest.mark.browser
def test_the_waiting_page_polls_while_an_attacker_holds_the_slots(make_live: Any, chromium: Any,
                                                                  tmp_path: Path) -> None:
    """One wait slot, held by an attacker's stream: the page's stream is refused (503), its
    long-poll too, so ecps-wait.js asks for the status every ``Retry-After`` seconds
    (``short-poll``) and still takes the browser to the RP once the phone approves."""
    from psc_idp.admin.clients import upsert_client
    from psc_idp.config import ClientSeed

    live = make_live(waits={"max_open": 1, "retry_after": 1})
    callback = live.base_url + "/rp-callback"  # not served: the URL is what matters
    with live.app.app_context():
        upsert_client(ClientSeed(client_id="js-rp", client_secret="js-rp-secret-1",
                                 name="Service JS", redirect_uris=[callback]),
                      live.app.extensions["psc_idp"].settings, source="test")
        db.session.commit()
    gp = EcpsPhone(live.base_url, tmp_path / "gp", GP)
    gp.activate(PIN)
    EcpsPhone(live.base_url, tmp_path / "nurse", NURSE).activate(PIN)
    browser, uid = _pending_login(live.base_url, live.issuer, NURSE)
    attack = Attack("127.0.0.1", live.port, [(f"/login/{uid}/ecps/events",
                                              _cookie_header(browser))],
                    connections=1, addresses=1).start()
    seen: dict[str, Any] = {}

    def approve() -> None:
        try:
            seen["phone"] = gp.answer_next("approve", PIN, wait=30)["binding_code"]
        except Exception as exc:  # reported by the assertions below
            seen["phone_error"] = repr(exc)

    psc = PscActions(live.issuer)
    start = psc.start(psc.client("js-rp", "js-rp-secret-1", callback))
    context = chromium.new_context(locale="fr-FR")
    phone_thread = threading.Thread(target=approve)
    try:
        deadline = time.monotonic() + 10
        while attack.max_streams_open < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert attack.max_streams_open == 1  # the attacker holds the only slot
        page = context.new_page()
        page.set_default_timeout(30_000)
        page.goto(start.url)
        page.click("#means-ecps")
        page.fill("#ecps-national-id", GP)
        page.click("#ecps-send")
        page.wait_for_selector("#binding-code")
        page.wait_for_selector("#ecps-wait[data-transport='short-poll']")
        phone_thread.start()
        page.wait_for_url(re.compile(re.escape(callback) + r"\?.*code="))
    finally:
        context.close()
        attack.stop()
        if phone_thread.is_alive() or phone_thread.ident:
            phone_thread.join(30)
    assert "phone_error" not in seen, seen
    assert attack.count("refused") == 0  # the attacker kept its slot; the page did without
