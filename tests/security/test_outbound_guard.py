"""Finding 6 (blind SSRF): psc-idp's own outgoing calls refuse internal destinations after DNS
resolution when the guard is on (production), with an allow-list for test set-ups."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

import pytest
import requests

from psc_idp import outbound
from psc_idp.config import load_settings
from psc_idp.db import db
from tests.sso.conftest import (
    receivers,  # noqa: F401 (a fixture, used by name)
    wait_until,
)


class _Recorder(BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        self.hits.append(self.path)
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def receiver():
    _Recorder.hits = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], _Recorder.hits
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def _settings(guard: bool | None, allowed: list[str] | None = None, mode: str = "test"):
    return SimpleNamespace(is_production=mode == "production", outbound=SimpleNamespace(
        block_private_addresses=guard, allowed_networks=allowed or []))


@pytest.mark.parametrize("address", ["127.0.0.1", "::1", "169.254.169.254", "10.0.0.1",
                                     "192.168.1.10", "172.16.0.1", "0.0.0.0", "100.64.0.1",  # noqa: S104
                                     "::ffff:127.0.0.1", "fe80::1", "fd00::1", "224.0.0.1",
                                     "240.0.0.1", "::"])
def test_internal_addresses_are_refused(address):
    """Checked on the address alone: no connection is ever attempted to these here."""
    with pytest.raises(outbound.DestinationRefused):
        outbound.check_address(address, [])
    outbound.check_address(address, outbound.parse_networks(["0.0.0.0/0", "::/0"]))


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "0x7f000001", "[::1]",
                                  "[::ffff:127.0.0.1]"])
def test_loopback_destinations_are_refused_before_any_byte_is_sent(host, receiver):
    port, hits = receiver
    with pytest.raises(outbound.DestinationRefused):
        outbound.post(_settings(True), f"http://{host}:{port}/hook", json={}, timeout=2)
    with pytest.raises(outbound.DestinationRefused):
        outbound.post(_settings(True), f"https://{host}:{port}/hook", json={}, timeout=2)
    assert hits == []


def test_the_guard_is_on_in_production_and_off_in_demo_unless_set(receiver):
    port, hits = receiver
    url = f"http://127.0.0.1:{port}/hook"
    with pytest.raises(outbound.DestinationRefused):
        outbound.post(_settings(None, mode="production"), url, timeout=2)
    assert outbound.post(_settings(None, mode="test"), url, timeout=2).status_code == 204
    assert outbound.post(_settings(False, mode="production"), url, timeout=2).status_code == 204
    assert hits == ["/hook", "/hook"]


def test_allowed_networks_let_a_test_set_up_through(receiver):
    port, hits = receiver
    settings = _settings(True, ["127.0.0.0/8"])
    answer = outbound.post(settings, f"http://localhost:{port}/allowed", timeout=2)
    assert answer.status_code == 204 and hits == ["/allowed"]


def test_a_name_rebound_to_an_internal_address_at_sending_time_is_refused(receiver,
                                                                           monkeypatch):
    """The address checked is the address connected to: a name that resolved to a public
    address when it was registered and resolves to 127.0.0.1 now is refused now."""
    import socket

    port, hits = receiver
    real = socket.getaddrinfo

    def rebinding(host, *args, **kwargs):
        if host == "hooks.example":
            return real("127.0.0.1", *args, **kwargs)
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    with pytest.raises(outbound.DestinationRefused, match="internal"):
        outbound.post(_settings(True), f"http://hooks.example:{port}/x", timeout=2)
    assert hits == []


def test_public_addresses_are_not_internal():
    import ipaddress

    for value in ("8.8.8.8", "2001:4860:4860::8888", "193.51.24.1"):
        assert not outbound.is_internal(ipaddress.ip_address(value))


def test_settings_hold_the_guard_and_check_the_networks():
    from psc_idp.config import ConfigError

    settings = load_settings({"outbound": {"allowed_networks": ["10.20.0.0/16"]}}, environ={})
    assert settings.outbound.allowed_networks == ["10.20.0.0/16"]
    assert not outbound.guard_enabled(settings)
    with pytest.raises(ConfigError, match="allowed_networks"):
        load_settings({"outbound": {"allowed_networks": ["not-a-network"]}}, environ={})


# ----------------------------------------------------------------------------- wired in
@pytest.mark.one_backend
def test_a_device_cannot_register_an_internal_webhook_when_the_guard_is_on(make_live, tmp_path):
    from clients.ecps_app.phone import EcpsPhone
    from tests.ecps.test_mobile_api import GP, PIN

    live = make_live(outbound={"block_private_addresses": True})
    phone = EcpsPhone(live.base_url, tmp_path / "phone", GP)
    phone.activate(PIN)
    for url in ("http://127.0.0.1:5432/", "http://localhost:6379/x", "http://0x7f000001/",
                "http://[::1]:8080/", "https://127.0.0.1/push"):
        answer = requests.put(live.base_url + "/api/mobile/v1/device/push-webhook",
                              json={"url": url}, timeout=10, headers={
                                  "Authorization": "Bearer " + phone._load()["device_token"]})
        assert answer.status_code == 400, (url, answer.text)
        assert "internal address" in answer.json()["error_description"]
    assert phone.device()["push_webhook"] in (None, "")


@pytest.mark.one_backend
def test_back_channel_logout_to_an_internal_address_is_refused_unless_allowed(make_live,
                                                                              receivers):  # noqa: F811
    from psc_idp.sessions.models import LogoutDelivery
    from tests.sso.test_single_logout import FAST_RETRIES, _logout, _two_rps

    for allowed, expected in (([], "refused"), (["127.0.0.0/8"], "delivered")):
        live = make_live(outbound={"block_private_addresses": True,
                                   "allowed_networks": allowed}, **FAST_RETRIES)
        psc, rps, tokens = _two_rps(live, receivers)
        _logout(psc, tokens[0]["id_token"])
        with live.app.app_context():
            def finished():
                db.session.commit()
                rows = db.session.scalars(db.select(LogoutDelivery)).all()
                return rows if rows and all(r.status != "pending" for r in rows) else None

            rows = wait_until(finished, timeout=30)
        if expected == "refused":
            assert {r.status for r in rows} == {"failed"}
            assert all("internal address" in r.last_error for r in rows)
            assert all(receiver.received == [] for _, receiver in rps)
        else:
            assert {r.status for r in rows} == {"delivered"}
