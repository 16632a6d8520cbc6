"""Two demo RPs against the real psc-idp (SQLite and PostgreSQL, ``make_live``), over HTTP.

A ``requests.Session`` is the browser (cookies of the provider and of both RPs, which share the
host 127.0.0.1 under different cookie names). The second RP signs in through SSO without any
page. Logout tokens are signed with the provider's own key (``app.extensions["psc_idp"].keys``)
and POSTed to the RPs as psc-idp's back-channel logout would; the RPs check them against the
JWKS the provider publishes.
"""

from __future__ import annotations

import os
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from clients.demo_rp.app import create_app
from clients.demo_rp.settings import Settings
from tests.conftest import LiveServer, free_port

GP = "810099900010"  # Dr Camille LEROY, a demo persona
EVENT = "http://schemas.openid.net/event/backchannel-logout"


@dataclass
class Setup:
    provider: LiveServer
    rps: dict[str, LiveServer]
    browser: requests.Session

    def sign(self, **claims: Any) -> str:
        now = int(time.time())
        body = {"iss": self.provider.issuer, "iat": now, "exp": now + 120,
                "jti": secrets.token_hex(12), "events": {EVENT: {}}, **claims}
        return self.provider.app.extensions["psc_idp"].keys.sign(body, typ="logout+jwt")

    def status(self, name: str) -> dict[str, Any]:
        return self.browser.get(self.rps[name].base_url + "/session-status", timeout=10).json()


def _serve_rp(issuer: str, port: int, client_id: str, secret: str, title: str,
              label: str) -> LiveServer:
    settings = Settings(ISSUER=issuer, PUBLIC_URL=f"http://127.0.0.1:{port}", PORT=port,
                        CLIENT_ID=client_id, CLIENT_SECRET=secret, TITLE=title, LABEL=label,
                        SECRET_KEY=os.urandom(16).hex())
    return LiveServer(create_app(settings), port)


@pytest.fixture
def two_rps(make_live: Callable[..., LiveServer]) -> Iterator[Setup]:
    from psc_idp.admin.clients import upsert_client
    from psc_idp.config import ClientSeed
    from psc_idp.db import db

    port1, port2 = free_port(), free_port()
    provider = make_live(demo_rp_url=f"http://127.0.0.1:{port1}")  # registers psc-demo-rp
    base2 = f"http://127.0.0.1:{port2}"
    with provider.app.app_context():
        upsert_client(ClientSeed(client_id="psc-demo-rp-2", name="Messagerie sécurisée",
                                 client_secret="second-rp-secret",
                                 redirect_uris=[base2 + "/callback"],
                                 post_logout_redirect_uris=[base2 + "/"]),
                      provider.app.extensions["psc_idp"].settings, source="test")
        db.session.commit()
    rps = {
        "dossier": _serve_rp(provider.issuer, port1, "psc-demo-rp", "demo-rp-secret",
                             "Dossier patient", "RP 1"),
        "messagerie": _serve_rp(provider.issuer, port2, "psc-demo-rp-2", "second-rp-secret",
                                "Messagerie sécurisée", "RP 2"),
    }
    with requests.Session() as browser:
        yield Setup(provider, rps, browser)
    stops = [threading.Thread(target=rp.stop) for rp in rps.values()]
    for thread in stops:
        thread.start()
    for thread in stops:
        thread.join()


def _persona_login(setup: Setup, name: str) -> None:
    """RP /login → the provider's persona page → pick GP → back on the RP, signed in."""
    rp = setup.rps[name].base_url
    page = setup.browser.get(rp + "/login", timeout=10)
    action = re.search(r'<form method="post" action="(/login/[^"]+/persona)"', page.text)
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert page.status_code == 200 and action and csrf, page.text[:500]
    home = setup.browser.post(setup.provider.base_url + action.group(1),
                              data={"csrf": csrf.group(1), "national_id": GP}, timeout=10)
    assert home.url == rp + "/" and 'id="signed-in"' in home.text, home.text[:500]


def _sso_login(setup: Setup, name: str) -> None:
    """RP /login with a provider session: redirects only, straight back signed in."""
    rp = setup.rps[name].base_url
    home = setup.browser.get(rp + "/login", timeout=10)
    hops = [r.url for r in home.history]
    assert home.url == rp + "/" and 'id="signed-in"' in home.text, (hops, home.text[:500])
    assert not [url for url in hops if "/login/" in url], hops


def test_sso_then_one_logout_token_per_rp_ends_both(two_rps: Setup) -> None:
    setup = two_rps
    _persona_login(setup, "dossier")
    _sso_login(setup, "messagerie")
    one, two = setup.status("dossier"), setup.status("messagerie")
    assert one["state"] == two["state"] == "signed-in"
    assert one["sid"] and one["sid"] == two["sid"]  # one provider session, two services
    assert 'id="rp-label">RP 2<' in setup.browser.get(
        setup.rps["messagerie"].base_url + "/", timeout=10).text

    for name, client_id in (("dossier", "psc-demo-rp"), ("messagerie", "psc-demo-rp-2")):
        token = setup.sign(aud=client_id, sid=one["sid"])
        resp = requests.post(setup.rps[name].base_url + "/backchannel-logout",
                             data={"logout_token": token}, timeout=10)
        assert resp.status_code == 200 and resp.headers["Cache-Control"] == "no-store"
        assert setup.status(name)["state"] == "logged-out"
        home = setup.browser.get(setup.rps[name].base_url + "/", timeout=10).text
        assert 'id="logged-out-notice"' in home and "déconnecté de Pro Santé Connect" in home


def test_tokens_for_another_rp_or_replayed_are_refused(two_rps: Setup) -> None:
    setup = two_rps
    _persona_login(setup, "dossier")
    sid = setup.status("dossier")["sid"]
    url = setup.rps["dossier"].base_url + "/backchannel-logout"

    for token in (setup.sign(aud="psc-demo-rp-2", sid=sid),          # another RP's token
                  setup.sign(aud="psc-demo-rp", sid=sid, nonce="x"),  # a nonce
                  setup.sign(aud="psc-demo-rp")):                      # neither sid nor sub
        resp = requests.post(url, data={"logout_token": token}, timeout=10)
        assert resp.status_code == 400 and resp.json()["error"] == "invalid_request"
    assert setup.status("dossier")["state"] == "signed-in"

    token = setup.sign(aud="psc-demo-rp", sid=sid)
    assert requests.post(url, data={"logout_token": token}, timeout=10).status_code == 200
    replay = requests.post(url, data={"logout_token": token}, timeout=10)
    assert replay.status_code == 400 and "replay" in replay.json()["error_description"]


def test_front_channel_from_the_provider_origin_ends_the_login(two_rps: Setup) -> None:
    setup = two_rps
    _persona_login(setup, "dossier")
    _sso_login(setup, "messagerie")
    sid = setup.status("messagerie")["sid"]
    resp = setup.browser.get(setup.rps["messagerie"].base_url + "/frontchannel-logout",
                             params={"iss": setup.provider.issuer, "sid": sid}, timeout=10)
    assert resp.status_code == 200 and "X-Frame-Options" not in resp.headers
    assert setup.provider.base_url in resp.headers["Content-Security-Policy"]
    assert setup.status("messagerie")["state"] == "logged-out"
    assert setup.status("dossier")["state"] == "signed-in"  # only its own RP's iframe came
