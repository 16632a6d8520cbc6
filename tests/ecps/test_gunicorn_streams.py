"""``psc-idp serve --workers N`` (gunicorn) with e-CPS waits: open event streams and long-polls
hold a thread each, not a process, so the provider keeps answering everything else.

One gunicorn worker with 8 threads: six waiting connections (event streams and a long-poll)
stay open while discovery and a whole e-CPS login (whose page listens to its own stream) go
through. With ``sync`` workers the same scenario has every request wait behind the streams.
The server runs as a subprocess on the test's backend (SQLite and PostgreSQL); its log must
show no error when the clients leave mid-stream.
"""

from __future__ import annotations

import re
import signal
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
from tests.served import Served, serve_subprocess


@pytest.fixture
def gunicorn(backend: tuple[str, str], make_app: Any, tmp_path: Path) -> Iterator[Served]:
    make_app(demo=False)  # the schema migrated and the tables emptied on this backend
    settings = {"PSC_IDP_SERVER__THREADS": "8", "PSC_IDP_ECPS__STREAM_HEARTBEAT": "1",
                # all seven waits below held (by default half of the threads may wait and the
                # rest answer at once: tests/security/test_wait_starvation.py)
                "PSC_IDP_WAITS__MAX_OPEN": "7", "PSC_IDP_WAITS__PER_LOGIN": "6"}
    with serve_subprocess(backend[1], tmp_path, free_port(), args=("--workers", "1"),
                          extra_env=settings) as served:
        yield served


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
