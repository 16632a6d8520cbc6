"""``PscActions``: drive psc-idp as a relying party and a browser would, over real HTTP.

The RP side is Authlib's ``OAuth2Session`` (a real OIDC client library); the browser side is a
``requests.Session`` keeping cookies, posting the persona form like a person clicking.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7523 import PrivateKeyJWT, private_key_jwt_sign
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

DEMO_CLIENT = ("psc-demo-rp", "demo-rp-secret", "http://127.0.0.1:5001/callback")
GP = "810099900010"  # a demo persona (médecin généraliste); see psc_idp/directory/demo_data.py


@dataclass
class AuthorizationStart:
    url: str
    state: str
    nonce: str
    verifier: str


@dataclass
class PscActions:
    issuer: str
    browser: requests.Session = field(default_factory=requests.Session)

    # ------------------------------------------------------------------ discovery, keys
    @property
    def metadata(self) -> dict[str, Any]:
        if not hasattr(self, "_metadata"):
            url = self.issuer + "/.well-known/wallet-openid-configuration"
            self._metadata = requests.get(url, timeout=10).json()
        return self._metadata

    def key_set(self) -> KeySet:
        return KeySet.import_key_set(requests.get(self.metadata["jwks_uri"], timeout=10).json())

    def verify(self, token: str) -> dict[str, Any]:
        return dict(jwt.decode(token, self.key_set(), algorithms=["RS256"]).claims)

    # ------------------------------------------------------------------ RP side
    def client(self, client_id: str = DEMO_CLIENT[0], secret: str | None = DEMO_CLIENT[1],
               redirect_uri: str = DEMO_CLIENT[2], scope: str = "openid scope_all",
               **kwargs: Any) -> OAuth2Session:
        return OAuth2Session(client_id, secret, scope=scope, redirect_uri=redirect_uri,
                             code_challenge_method="S256", **kwargs)

    def start(self, rp: OAuth2Session, **params: Any) -> AuthorizationStart:
        verifier = secrets.token_urlsafe(48)
        nonce = params.pop("nonce", secrets.token_hex(16))
        params.setdefault("acr_values", "eidas1")
        url, state = rp.create_authorization_url(
            self.metadata["authorization_endpoint"], code_verifier=verifier, nonce=nonce,
            **params)
        return AuthorizationStart(url, state, nonce, verifier)

    # ------------------------------------------------------------------ browser side
    def open(self, url: str) -> requests.Response:
        return self.browser.get(url, allow_redirects=False, timeout=10)

    def pick_persona(self, page: requests.Response, national_id: str = GP) -> requests.Response:
        action = re.search(r'<form method="post" action="(/login/[^"]+/persona)"', page.text)
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert action and csrf, f"no persona form on the page: {page.status_code}"
        base = self.issuer.split("/auth/realms")[0]
        return self.browser.post(base + action.group(1),
                                 data={"csrf": csrf.group(1), "national_id": national_id},
                                 allow_redirects=False, timeout=10)

    def login(self, rp: OAuth2Session, national_id: str = GP, **params: Any
              ) -> tuple[AuthorizationStart, str]:
        """Authorize + persona click; returns the start and the callback URL with the code."""
        start = self.start(rp, **params)
        page = self.open(start.url)
        if page.status_code == 302:
            return start, page.headers["Location"]
        assert page.status_code == 200, page.text[:500]
        done = self.pick_persona(page, national_id)
        assert done.status_code == 302, done.text[:500]
        return start, done.headers["Location"]

    def tokens(self, rp: OAuth2Session, start: AuthorizationStart, callback: str,
               **kwargs: Any) -> dict[str, Any]:
        return rp.fetch_token(self.metadata["token_endpoint"], authorization_response=callback,
                              code_verifier=start.verifier, state=start.state, **kwargs)

    def full_login(self, rp: OAuth2Session | None = None, national_id: str = GP,
                   **params: Any) -> tuple[AuthorizationStart, dict[str, Any]]:
        rp = rp or self.client()
        start, callback = self.login(rp, national_id, **params)
        return start, self.tokens(rp, start, callback)


def query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


class ShortLivedPrivateKeyJWT(PrivateKeyJWT):
    """Authlib's ``private_key_jwt`` with two-minute assertions: psc-idp refuses assertions
    living longer than 300 s (issue 11), and Authlib signs them for 3600 s by default."""

    def sign(self, auth: Any, token_endpoint: str) -> str:
        key = RSAKey.import_key(auth.client_secret)
        return private_key_jwt_sign(key, client_id=auth.client_id, token_endpoint=token_endpoint,
                                    alg=self.alg, expires_in=120)
