"""Finding 6 (blind SSRF): psc-idp's own outgoing calls refuse internal destinations after DNS
resolution when the guard is on (production), with an allow-list for test set-ups."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

import pytest

from psc_idp import outbound
from psc_idp.config import load_settings


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
