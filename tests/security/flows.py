"""In-process browser and RP steps (Flask's test client) for the hardening tests of issue 11.

Faster than a live server: the fuzz test sends a few thousand requests. A 5xx is still a real
5xx: the app's error handlers run as they do when served.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from flask import Flask
from flask.testing import FlaskClient

from psc_idp.oidc import urls

DEMO_ID, DEMO_SECRET, DEMO_REDIRECT = ("psc-demo-rp", "demo-rp-secret",
                                       "http://127.0.0.1:5001/callback")
GP = "810099900010"
ISSUER_PATH = urls.REALM_PATH


def s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(
        b"=").decode()


@dataclass
class LoginPage:
    uid: str
    csrf: str
    verifier: str
    html: str


def path(route: str, **values: str) -> str:
    """A route of ``oidc.urls`` with its ``<name>`` parts filled in."""
    for name, value in values.items():
        route = route.replace(f"<{name}>", value)
    return route


def open_login(browser: FlaskClient, client_id: str = DEMO_ID,
               redirect_uri: str = DEMO_REDIRECT, **extra: str) -> LoginPage:
    """GET the authorization endpoint: the persona page (first means in test mode)."""
    verifier = secrets.token_urlsafe(48)
    params = {"response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri,
              "scope": "openid scope_all", "acr_values": "eidas1",
              "state": secrets.token_urlsafe(8), "nonce": secrets.token_hex(8),
              "code_challenge": s256(verifier), "code_challenge_method": "S256", **extra}
    page = browser.get(urls.WALLET_AUTHORIZE, query_string=params)
    assert page.status_code == 200, (page.status_code, page.get_data(as_text=True)[:300])
    html = page.get_data(as_text=True)
    uid = re.search(r'action="/login/([^"/]+)/', html)
    csrf = re.search(r'name="csrf" value="([^"]+)"', html)
    assert uid and csrf, html[:500]
    return LoginPage(uid.group(1), csrf.group(1), verifier, html)


def persona_login(browser: FlaskClient, national_id: str = GP, **kwargs: Any
                  ) -> tuple[LoginPage, Any]:
    """Authorization request and persona click; the answer is the redirect to the RP (302) or
    the consent page (200)."""
    page = open_login(browser, **kwargs)
    answer = browser.post(f"/login/{page.uid}/persona",
                          data={"csrf": page.csrf, "national_id": national_id})
    return page, answer


def code_of(answer: Any) -> str:
    assert answer.status_code == 302, (answer.status_code, answer.get_data(as_text=True)[:300])
    return parse_qs(urlsplit(answer.headers["Location"]).query)["code"][0]


def tokens(app: Flask, browser: FlaskClient) -> dict[str, Any]:
    """A full login of the GP with the demo client: its token response."""
    page, answer = persona_login(browser)
    response = app.test_client().post(
        urls.TOKEN, data={"grant_type": "authorization_code", "code": code_of(answer),
                          "redirect_uri": DEMO_REDIRECT, "code_verifier": page.verifier},
        auth=(DEMO_ID, DEMO_SECRET))
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()
