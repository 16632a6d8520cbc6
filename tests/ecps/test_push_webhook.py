"""Push-gateway webhooks: a device registers a URL; each login waiting for it is POSTed there
(a small JSON notice, no secret), after the commit, off the request; failures are logged and
audited and never fail the login. A real local HTTP server receives the POSTs.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests

from clients.ecps_app.phone import EcpsPhone
from psc_idp.audit import AuditEvent
from psc_idp.credentials import webhooks
from psc_idp.credentials.webhooks import WebhookError, validate_url
from psc_idp.db import db
from tests.conftest import free_port
from tests.ecps.test_mobile_api import GP, PIN, push_login
from tests.ecps.test_push_login import ecps_login


class Gateway:
    """A push gateway on 127.0.0.1: records every POST, answers ``status`` after ``delay``."""

    def __init__(self, status: int = 202, delay: float = 0.0):
        self.status, self.delay = status, delay
        self.received: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.arrived = threading.Condition()
        self.release = threading.Event()
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with gateway.arrived:
                    gateway.received.append(json.loads(body))
                    gateway.headers.append(dict(self.headers))
                    gateway.arrived.notify_all()
                if gateway.delay:
                    gateway.release.wait(gateway.delay)
                self.send_response(gateway.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.port = free_port()
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.port}/push/device-1"

    def wait(self, count: int = 1, timeout: float = 15) -> list[dict[str, Any]]:
        with self.arrived:
            assert self.arrived.wait_for(lambda: len(self.received) >= count, timeout), \
                f"{len(self.received)} notification(s), {count} expected"
            return list(self.received)

    def stop(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def gateway():
    made: list[Gateway] = []

    def make(**kwargs: Any) -> Gateway:
        made.append(Gateway(**kwargs))
        return made[-1]

    yield make
    assert webhooks.wait_idle(timeout=15)
    for g in made:
        g.stop()


@pytest.fixture
def phone(live, tmp_path) -> EcpsPhone:
    phone = EcpsPhone(live.base_url, tmp_path / "phone", GP)
    phone.activate(PIN)
    return phone


def _api(live, phone: EcpsPhone, method: str, path: str, **kwargs: Any) -> requests.Response:
    return requests.request(method, live.base_url + "/api/mobile/v1" + path, timeout=10,
                            headers={"Authorization": "Bearer " + phone._load()["device_token"]},
                            **kwargs)


def _register(live, phone: EcpsPhone, url: str) -> requests.Response:
    return _api(live, phone, "PUT", "/device/push-webhook", json={"url": url})


def _audit(live, event: str) -> list[AuditEvent]:
    with live.app.app_context():
        return list(db.session.scalars(db.select(AuditEvent).where(AuditEvent.event == event)))


def test_a_login_is_posted_to_the_devices_gateway(live, phone, gateway):
    hook = gateway()
    answer = _register(live, phone, hook.url)
    assert answer.status_code == 200 and answer.json()["push_webhook"] == hook.url
    assert phone.device()["push_webhook"] == hook.url
    [audited] = _audit(live, "ecps.webhook_set")
    assert audited.details["registered"] is True and audited.subject == GP

    login = ecps_login(live)
    login.push()
    [notice] = hook.wait()
    [pending] = phone.pending()
    assert notice == {"type": "ecps.challenge", "challenge_id": pending["challenge_id"],
                      "service_name": pending["service_name"],
                      "binding_code": pending["binding_code"],
                      "expires_at": pending["expires_at"], "origin": "browser",
                      "device_id": phone.device()["device_id"]}
    assert hook.headers[0]["Content-Type"] == "application/json"
    text = json.dumps(notice)
    for secret in (PIN, phone._load()["device_token"], phone._load()["otp_secret"]):
        assert secret not in text
    # the phone answers as always: the notice only wakes it
    phone.answer(pending, "approve", PIN)
    assert login.finish().status_code == 302
    assert _audit(live, "ecps.webhook_failed") == []


def test_a_failing_gateway_never_fails_the_login(live, phone, gateway):
    hook = gateway(status=500)
    assert _register(live, phone, hook.url).status_code == 200
    login = ecps_login(live)
    login.push()
    hook.wait()
    phone.answer_next("approve", PIN, wait=5)
    assert login.finish().status_code == 302
    assert webhooks.wait_idle(timeout=15)
    [failed] = _audit(live, "ecps.webhook_failed")
    assert failed.outcome == "failure" and failed.subject == GP
    assert failed.details["error"] == "HTTP 500"


def test_an_unreachable_or_slow_gateway_is_dropped_after_its_timeout(make_live, tmp_path,
                                                                      gateway):
    live = make_live(ecps={"webhook_timeout": 1})
    phone = EcpsPhone(live.base_url, tmp_path / "phone", GP)
    phone.activate(PIN)
    slow = gateway(delay=10)  # answers long after the 1 s timeout
    assert _register(live, phone, slow.url).status_code == 200
    push_login(live, GP)
    slow.wait()
    assert webhooks.wait_idle(timeout=15)
    closed = f"http://127.0.0.1:{free_port()}/nobody-listens"
    assert _register(live, phone, closed).status_code == 200
    push_login(live, GP)
    assert webhooks.wait_idle(timeout=15)
    errors = sorted(e.details["error"] for e in _audit(live, "ecps.webhook_failed"))
    assert errors == ["ConnectionError", "ReadTimeout"]
    assert len(phone.pending()) == 2  # both logins wait for the phone regardless


def test_removing_the_webhook_stops_the_notices(live, phone, gateway):
    hook = gateway()
    assert _register(live, phone, hook.url).status_code == 200
    removed = _api(live, phone, "DELETE", "/device/push-webhook")
    assert removed.status_code == 200 and removed.json()["push_webhook"] is None
    push_login(live, GP)
    assert webhooks.wait_idle(timeout=15)
    assert hook.received == []
    assert [e.details["registered"] for e in _audit(live, "ecps.webhook_set")] == [True, False]


def test_nothing_is_sent_for_a_challenge_rolled_back(live, phone, gateway):
    hook = gateway()
    assert _register(live, phone, hook.url).status_code == 200
    from psc_idp.credentials import ecps
    from psc_idp.directory.lookup import find_by_national_id

    with live.app.app_context():
        ecps.create_challenge(find_by_national_id(GP), "psc-demo-rp", "X", "browser")
        db.session.rollback()
        db.session.commit()  # a later commit of the same session sends nothing either
    assert webhooks.wait_idle(timeout=15)
    assert hook.received == []


@pytest.mark.one_backend
@pytest.mark.parametrize("url", [
    "ftp://gateway.example/push", "javascript:alert(1)", "gateway.example/push", "https://",
    "https://user:pw@gateway.example/push", "https://gateway.example/push#frag",
    "https://gateway.example/a b", "https://gateway.example/\x00", "https://gäteway.example/",
    "https://gateway.example:99999/", "https://gateway.example/" + "a" * 500, "",
])
def test_webhook_urls_are_validated(live, phone, url):
    answer = _register(live, phone, url)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"] in ("invalid_webhook", "invalid_request")
    assert phone.device()["push_webhook"] is None


@pytest.mark.one_backend
def test_webhook_url_must_be_a_string(live, phone):
    for body in ({"url": 42}, {"url": None}, {}, ["x"]):
        answer = _api(live, phone, "PUT", "/device/push-webhook", json=body)
        assert answer.status_code == 400 and answer.json()["error"] == "invalid_request"


@pytest.mark.one_backend
def test_webhook_needs_a_device_token(live):
    answer = requests.put(live.base_url + "/api/mobile/v1/device/push-webhook",
                          json={"url": "https://gateway.example/"}, timeout=10)
    assert answer.status_code == 401


@pytest.mark.one_backend
def test_production_accepts_only_https():
    assert validate_url("https://gateway.example/push", https_only=True)
    with pytest.raises(WebhookError, match="https"):
        validate_url("http://gateway.example/push", https_only=True)
    assert validate_url("http://127.0.0.1:8080/push", https_only=False)
