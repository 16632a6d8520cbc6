"""Production mode with the e-CPS means only: the provider starts and serves the e-CPS login.

Production refuses the persona authenticator, the demo data, the admin API (outbox, clock)
and sends its cookies ``Secure``: so the provider is served over HTTPS here (a certificate
made for 127.0.0.1 at run time), the directory and the client are loaded as an operator would,
and the activation codes are read from what an outbox sender (an SMS gateway, SMTP) is handed:
production has no admin API, and its outbox table keeps the codes masked.
"""

from __future__ import annotations

import re
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
import requests
from cryptography import x509
from cryptography.x509.oid import NameOID
from werkzeug.serving import make_server

from clients.ecps_app.phone import EcpsPhone
from psc_idp.admin.clients import upsert_client
from psc_idp.config import ClientSeed, ConfigError, load_settings
from psc_idp.credentials.models import OutboxMessage
from psc_idp.db import db
from psc_idp.directory.demo_data import as_directory_document
from psc_idp.directory.loader import load_directory, parse_directory_document
from psc_idp.pki.authority import TLS_SERVER, issue, new_key, write_key, write_pem
from tests.conftest import free_port
from tests.psc_actions import PscActions

GP = "810099900010"
PIN = "4321"
CLIENT = ("prod-rp", "prod-rp-secret-4242")


def _certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (its own trust anchor), as a production
    deployment's own, not the local TEST authority's."""
    key = new_key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    cert = issue(None, name, key.public_key(), lifetime_days=1, usage=TLS_SERVER,
                 sans=("127.0.0.1",), is_ca=True, signing_key=key)
    cert_file, key_file = folder / "tls.pem", folder / "tls.key"
    write_pem(cert_file, [cert])
    write_key(key_file, key)
    return cert_file, key_file


class Https:
    def __init__(self, app: Any, port: int, cert: Path, key: Path):
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        self.app = app
        self.base_url = f"https://127.0.0.1:{port}"
        self.issuer = self.base_url + "/auth/realms/esante-wallet"
        self._server = make_server("127.0.0.1", port, app, threaded=True, ssl_context=context)
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(timeout=5)


@pytest.fixture
def production(make_app, tmp_path, monkeypatch) -> Iterator[Https]:
    cert, key = _certificate(tmp_path)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert))  # the browser and the RP trust it
    port = free_port()
    app = make_app(demo=False, mode="production", public_url=f"https://127.0.0.1:{port}",
                   authenticators={"ecps": {}, "ecps_otp": {}},
                   ecps={"activation_delay": 0})
    settings = app.extensions["psc_idp"].settings
    assert settings.is_production and list(app.extensions["psc_idp"].authenticators) == [
        "ecps", "ecps_otp"]
    with app.app_context():  # what `psc-idp professional load` and `client add` do
        load_directory(db.session, parse_directory_document(as_directory_document()))
        upsert_client(ClientSeed(client_id=CLIENT[0], client_secret=CLIENT[1],
                                 name="Service en production",
                                 redirect_uris=["https://rp.example/callback"]),
                      settings, source="test")
        db.session.commit()
    _capture_deliveries(app)
    server = Https(app, port, cert, key)
    yield server
    server.stop()


def _codes(app: Any) -> tuple[str, str]:
    """The newest codes the senders delivered (``_capture_deliveries``)."""
    codes: dict[str, str] = {}
    for channel, body in reversed(app.extensions["psc_idp"].delivered):
        codes.setdefault(channel, re.search(r"\b(\d{6})\b", body).group(1))
    with app.app_context():  # what stays in the table is masked
        for row in db.session.scalars(db.select(OutboxMessage)):
            assert not re.search(r"\d{6}", row.body), row.body
    return codes["email"], codes["sms"]


def _capture_deliveries(app: Any) -> None:
    """An outbox sender standing for the SMS gateway and SMTP: it keeps what it is handed."""
    provider = app.extensions["psc_idp"]
    provider.delivered = []
    provider.senders.append(lambda message: provider.delivered.append(
        (message.channel, message.body)))


def _activate(server: Https, home: Path) -> EcpsPhone:
    phone = EcpsPhone(server.base_url, home, GP)
    phone.http.verify = str(Path(home).parent / "tls.pem")
    phone.read_outbox_codes = lambda: _codes(server.app)  # type: ignore[method-assign]
    device = phone.activate(PIN, device_name="production phone")
    assert device["status"] == "usable"
    return phone


def test_production_serves_the_ecps_login(production, tmp_path):
    base = production.base_url
    discovery = requests.get(production.issuer + "/.well-known/openid-configuration",
                             timeout=10).json()
    assert discovery["issuer"] == production.issuer
    emulation = discovery["psc_idp_emulation"]
    assert emulation["mode"] == "production" and emulation["authenticators"] == [
        "ecps", "ecps_otp"]
    assert not emulation["test_personas"] and not emulation["test_autologin"]
    # emulation knobs are absent in production
    assert requests.get(base + "/api/admin/outbox", timeout=10).status_code == 404
    assert requests.post(base + "/api/admin/clock", json={"advance_seconds": 1},
                         timeout=10).status_code == 404

    phone = _activate(production, tmp_path / "phone")
    psc = PscActions(production.issuer, browser=requests.Session())
    rp = psc.client(CLIENT[0], CLIENT[1], "https://rp.example/callback")
    start = psc.start(rp, login_hint=GP)
    page = psc.open(start.url)
    # the first configured means answers /auth: the e-CPS form, linking to the code form
    assert page.status_code == 200 and 'id="ecps-form"' in page.text
    assert 'id="means-ecps_otp"' in page.text and "persona" not in page.text
    assert "Secure" in page.headers.get("Set-Cookie", "")
    uid = re.search(r'/login/([^/"]+)/', page.text).group(1)
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    assert psc.browser.get(f"{base}/login/{uid}/persona", timeout=10).status_code == 404

    sent = psc.browser.post(f"{base}/login/{uid}/ecps", data={"csrf": csrf, "national_id": GP},
                            allow_redirects=False, timeout=10)
    assert sent.status_code == 303
    waiting = psc.browser.get(base + sent.headers["Location"], timeout=10)
    assert 'id="binding-code"' in waiting.text
    approved = phone.answer_next("approve", PIN, wait=10)
    assert approved["service_name"] == "Service en production"
    done = psc.browser.get(base + sent.headers["Location"], allow_redirects=False, timeout=10)
    assert done.status_code == 302 and done.headers["Location"].startswith(
        "https://rp.example/callback?")
    tokens = psc.tokens(rp, start, done.headers["Location"])
    access = jwt.decode(tokens["access_token"], options={"verify_signature": False})
    identity = jwt.decode(tokens["id_token"], options={"verify_signature": False})
    assert access["authMode"] == "MOBILE" and identity["amr"] == ["swk", "pin", "mfa"]
    assert identity["sub"].endswith(GP)

    # the one-time code means, in a second browser
    other = PscActions(production.issuer, browser=requests.Session())
    start = other.start(rp)
    page = other.open(start.url)
    link = re.search(r'id="means-ecps_otp" href="([^"]+)"', page.text).group(1)
    form = other.browser.get(base + link.replace("&amp;", "&"), timeout=10)
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)
    done = other.browser.post(base + link.replace("&amp;", "&"), allow_redirects=False,
                              timeout=10,
                              data={"csrf": csrf, "national_id": GP, "code": phone.otp()})
    assert done.status_code == 302, done.text[:300]
    identity = jwt.decode(other.tokens(rp, start, done.headers["Location"])["id_token"],
                          options={"verify_signature": False})
    assert identity["amr"] == ["otp", "swk"]


def test_production_refuses_the_persona_means_next_to_ecps():
    with pytest.raises(ConfigError, match="persona"):
        load_settings({"mode": "production",
                       "authenticators": {"ecps": {}, "ecps_otp": {}, "persona": {}}},
                      environ={})
    settings = load_settings({"mode": "production", "authenticators": "ecps,ecps_otp"},
                             environ={})
    assert list(settings.authenticators) == ["ecps", "ecps_otp"]
