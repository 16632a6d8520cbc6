"""``psc-idp serve --workers N`` (gunicorn) with e-CPS waits: open event streams and long-polls
hold a thread each, not a process, so the provider keeps answering everything else.

One gunicorn worker with 8 threads: six waiting connections (event streams and a long-poll)
stay open while discovery and a whole e-CPS login (whose page listens to its own stream) go
through. With ``sync`` workers the same scenario has every request wait behind the streams.
The server runs as a subprocess on the test's backend (SQLite and PostgreSQL); its log must
show no error when the clients leave mid-stream.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from clients.ecps_app.phone import EcpsPhone, read_events
from tests.conftest import free_port
from tests.ecps.test_mobile_api import GP, NURSE, PIN
from tests.psc_actions import PscActions

PSC_IDP = Path(sys.executable).with_name("psc-idp")


class Served:
    def __init__(self, base_url: str, proc: subprocess.Popen[str], log: Path):
        self.base_url = base_url
        self.issuer = base_url + "/auth/realms/esante-wallet"
        self.proc = proc
        self.log = log


@pytest.fixture
def gunicorn(backend: tuple[str, str], make_app: Any, tmp_path: Path) -> Iterator[Served]:
    make_app(demo=False)  # the schema migrated and the tables emptied on this backend
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PSC_IDP_")}
    env.update({"PSC_IDP_DATABASE_URL": backend[1], "PSC_IDP_KEYS_DIR": str(tmp_path / "keys"),
                "PSC_IDP_INSTANCE_DIR": str(tmp_path), "PSC_IDP_MODE": "test",
                "PSC_IDP_LOG_LEVEL": "WARNING", "PSC_IDP_PUBLIC_URL": f"http://127.0.0.1:{port}",
                "PSC_IDP_SERVER__THREADS": "8", "XDG_RUNTIME_DIR": str(tmp_path),
                "PSC_IDP_ECPS__STREAM_HEARTBEAT": "1",
                # all seven waits below held (by default half of the threads may wait and the
                # rest answer at once: tests/security/test_wait_starvation.py)
                "PSC_IDP_WAITS__MAX_OPEN": "7", "PSC_IDP_WAITS__PER_LOGIN": "6"})
    init = subprocess.run([str(PSC_IDP), "init"], env=env, capture_output=True, text=True,
                          timeout=120, cwd=tmp_path)
    assert init.returncode == 0, init.stderr
    log = tmp_path / "serve.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([str(PSC_IDP), "serve", "--no-init", "--workers", "1",
                                 "--host", "127.0.0.1", "--port", str(port)], env=env,
                                stdout=out, stderr=subprocess.STDOUT, text=True, cwd=tmp_path)
    served = Served(f"http://127.0.0.1:{port}", proc, log)
    try:
        for _ in range(150):
            try:
                if requests.get(served.issuer + "/.well-known/openid-configuration",
                                timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert proc.poll() is None, log.read_text()
            time.sleep(0.2)
        yield served
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def test_streams_hold_threads_not_the_server(gunicorn: Served, tmp_path: Path) -> None:
    base = gunicorn.base_url
    gp = EcpsPhone(base, tmp_path / "gp", GP)
    gp.activate(PIN)
    nurse = EcpsPhone(base, tmp_path / "nurse", NURSE)
    nurse.activate(PIN)
    token = nurse._load()["device_token"]

    # six waiting connections on the single worker process
    streams = [requests.get(base + "/api/mobile/v1/challenges/stream", stream=True,
                            timeout=(5, 30), headers={"Authorization": f"Bearer {token}"})
               for _ in range(5)]
    for response in streams:
        assert response.status_code == 200
        assert next(read_events(response))[0] == "challenges"
    poll = requests.Session()
    poll_thread_result: dict[str, Any] = {}

    def long_poll() -> None:
        poll_thread_result["answer"] = poll.get(
            base + "/api/mobile/v1/challenges", params={"wait": 3}, timeout=30,
            headers={"Authorization": f"Bearer {token}"})

    poller = threading.Thread(target=long_poll)
    poller.start()

    # meanwhile: discovery, and a whole e-CPS push login
    assert requests.get(gunicorn.issuer + "/.well-known/openid-configuration",
                        timeout=10).status_code == 200
    psc = PscActions(gunicorn.issuer, browser=requests.Session())
    rp = psc.client()
    start = psc.start(rp, login_hint=GP)
    page = psc.open(start.url)
    assert page.status_code == 200
    uid = re.search(r'/login/([^/"]+)/', page.text).group(1)
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    sent = psc.browser.post(f"{base}/login/{uid}/ecps", data={"csrf": csrf, "national_id": GP},
                            allow_redirects=False, timeout=10)
    assert sent.status_code == 303
    waiting = psc.browser.get(f"{base}/login/{uid}/ecps/events", stream=True,
                              timeout=(5, 30))
    events = read_events(waiting)
    assert next(events)[1]["status"] == "pending"
    gp.answer_next("approve", PIN, wait=10)
    assert next(events)[1]["status"] == "success"
    done = psc.browser.get(f"{base}/login/{uid}/ecps/finish", allow_redirects=False,
                           timeout=10)
    assert done.status_code == 302
    tokens = psc.tokens(rp, start, done.headers["Location"])
    assert tokens["access_token"]

    poller.join(timeout=30)
    assert poll_thread_result["answer"].status_code == 200
    for response in streams:  # the phones leave mid-stream
        response.close()
    # the provider notices at the next heartbeats and keeps serving
    time.sleep(2.5)
    assert requests.get(gunicorn.issuer + "/.well-known/openid-configuration",
                        timeout=10).status_code == 200
    log = gunicorn.log.read_text()
    for bad in ("Traceback", "ERROR", "WORKER TIMEOUT", "CRITICAL"):
        assert bad not in log, log[-3000:]


def test_a_stop_ends_the_open_streams(gunicorn: Served, tmp_path: Path) -> None:
    """SIGTERM: the worker ends its event streams (``end`` / ``closing``) and the server stops,
    instead of holding the stop until the streams' maximum duration."""
    phone = EcpsPhone(gunicorn.base_url, tmp_path / "gp", GP)
    phone.activate(PIN)
    events = phone.stream()
    assert next(events)[0] == "challenges"
    gunicorn.proc.send_signal(signal.SIGTERM)
    assert next(events) == ("end", {"reason": "closing"})
    assert gunicorn.proc.wait(timeout=25) == 0
    log = gunicorn.log.read_text()
    for bad in ("Traceback", "ERROR", "WORKER TIMEOUT", "CRITICAL"):
        assert bad not in log, log[-3000:]
