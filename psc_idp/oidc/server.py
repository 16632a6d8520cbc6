"""The Authlib authorization server, wired once: grants, client authentication, endpoints.

All Authlib glue lives in ``oidc/`` (this module, ``grants``, ``id_token``, ``client_auth``,
``endpoints_authlib``); the rest of psc-idp talks to it through ``authorize`` and ``views``.
"""

from __future__ import annotations

from typing import Any

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.integrations.flask_oauth2.requests import FlaskOAuth2Request
from authlib.oauth2.rfc6749 import OAuth2Request
from authlib.oauth2.rfc6749.errors import InvalidClientError, OAuth2Error
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc9207 import IssuerParameter
from flask import Flask, g, has_app_context
from flask import request as flask_request

from ..config import Settings
from ..db import db
from .ciba import CibaGrant
from .client_auth import PrivateKeyJwt
from .endpoints_authlib import PscIntrospectionEndpoint, PscRevocationEndpoint
from .grants import CodeGrant, RefreshGrant
from .id_token import PscOpenIDCode
from .models import Client
from .tokens import generate_token, save_token


class PscCodeChallenge(CodeChallenge):
    """Verifies S256 and plain; whether ``plain`` may be *asked* for is decided per client at
    the authorization endpoint (``checks.check_pkce``: the psc profile allows it, as PSC
    advertises it; the strict profile refuses it, RFC 9700 §2.1.1)."""

    def __init__(self, allow_plain: bool):
        super().__init__(required=True)
        self.SUPPORTED_CODE_CHALLENGE_METHOD = ["S256", "plain"] if allow_plain else ["S256"]


class PscIssuer(IssuerParameter):
    def __init__(self, issuer: str):
        self.issuer = issuer

    def get_issuer(self) -> str:
        return self.issuer


def query_client(client_id: str) -> Client | None:
    """Memoised per request: Authlib asks for the client several times, and the ORM identity
    map only holds weak references, so a dropped instance would be read again."""
    if not isinstance(client_id, str) or not client_id or len(client_id) > 200:
        return None
    memo = g.setdefault("psc_clients", {}) if has_app_context() else {}
    if client_id not in memo:
        memo[client_id] = db.session.get(Client, client_id)
    return memo[client_id]


class PscAuthorizationServer(AuthorizationServer):
    settings: Settings

    def __init__(self, app: Flask, settings: Settings):
        super().__init__()
        self.settings = settings
        self.init_app(app, query_client=query_client, save_token=save_token)
        self.register_token_generator("default", generate_token)
        self.register_grant(CodeGrant, [PscCodeChallenge(allow_plain=True),
                                        PscOpenIDCode(require_nonce=False)])
        self.register_grant(RefreshGrant, [PscOpenIDCode(require_nonce=False)])
        self.register_grant(CibaGrant, [PscOpenIDCode(require_nonce=False)])
        self.register_client_auth_method(PrivateKeyJwt.CLIENT_AUTH_METHOD,
                                         PrivateKeyJwt(settings))
        self.register_endpoint(PscIntrospectionEndpoint)
        self.register_endpoint(PscRevocationEndpoint)
        self.register_extension(PscIssuer(settings.issuer))

    def get_error_uri(self, request: Any, error: Any) -> None:
        return None

    def authenticate_client(self, request: Any, methods: Any, endpoint: str = "token") -> Any:
        """A malformed ``Authorization`` header is a failed authentication, not a crash."""
        try:
            return super().authenticate_client(request, methods, endpoint)
        except (ValueError, UnicodeDecodeError) as exc:
            if isinstance(exc, OAuth2Error):
                raise
            raise InvalidClientError(status_code=401,
                                     description="Malformed client credentials.") from exc

    def create_oauth2_request(self, request: Any) -> OAuth2Request:
        """Accept an already-built request (an authorization replayed after login)."""
        if isinstance(request, OAuth2Request):
            return request
        return FlaskOAuth2Request(flask_request)
