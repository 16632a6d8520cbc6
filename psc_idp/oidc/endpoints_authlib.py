"""Introspection (RFC 7662, answered as PSC does, reference §4.5) and revocation (RFC 7009).

Keycloak lets any confidential client of the realm introspect a token (resource servers are
clients too), so does psc-idp; public clients cannot authenticate and so cannot introspect.
Client authentication is the server's (``server.py``: Basic or body per fidelity profile);
refused introspections are audited here (``token.refused`` with ``endpoint: introspection``),
refused revocations by ``views``. In the psc profile a refused client authentication at the
introspection endpoint is answered as Keycloak's TokenIntrospectionEndpoint does (it wraps the
authenticator's answer): 401 ``invalid_request`` "Authentication failed.", and a public client
403 ``invalid_request`` "Client not allowed.".
"""

from __future__ import annotations

import time
from typing import Any

from authlib.oauth2.rfc6749.errors import InvalidRequestError, OAuth2Error
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7662 import IntrospectionEndpoint
from flask import g

from ..audit import record
from . import store
from .grants import TOKEN_AUTH_METHODS
from .refusals import Refusal, keycloak_wording
from .tokens import decode_access_token, decode_refresh_token

CONFIDENTIAL_METHODS = [m for m in TOKEN_AUTH_METHODS if m != "none"]


class TokenView:
    """A presented token: its verified claims, its row and its grant."""

    def __init__(self, kind: str, claims: dict[str, Any], row: store.TokenRow,
                 grant: store.GrantRow):
        self.kind = kind
        self.claims = claims
        self.row = row
        self.grant = grant

    def is_expired(self) -> bool:
        return self.claims["exp"] < time.time()

    def is_revoked(self) -> bool:
        return self.row.revoked_at is not None or self.grant.revoked_at is not None or (
            self.kind == "refresh" and self.row.used_at is not None)

    def check_client(self, client: Any) -> bool:
        return self.grant.client_id == client.client_id


def find_token(value: str, hint: str | None) -> TokenView | None:
    if not isinstance(value, str) or not value or len(value) > 8192:
        return None
    order = ["refresh", "access"] if hint == "refresh_token" else ["access", "refresh"]
    for kind in order:
        claims = decode_access_token(value) if kind == "access" else decode_refresh_token(value)
        if claims is None:
            continue
        found = store.token_and_grant(str(claims.get("jti", "")))  # one statement
        if found is not None and found[0].kind == kind:
            return TokenView(kind, claims, *found)
    return None


def _check_token_param(request: Any) -> None:
    """``token`` is required; an unknown ``token_type_hint`` is only a hint and is ignored
    (RFC 7662 §2.1: search every type; RFC 7009 §2.1)."""
    if not request.form.get("token"):
        raise InvalidRequestError("Missing parameter: token")


class PscIntrospectionEndpoint(IntrospectionEndpoint):
    CLIENT_AUTH_METHODS = CONFIDENTIAL_METHODS

    def check_params(self, request: Any, client: Any) -> None:
        _check_token_param(request)

    def query_token(self, token_string: str, token_type_hint: str | None) -> TokenView | None:
        return find_token(token_string, token_type_hint)

    def check_permission(self, token: TokenView, client: Any, request: Any) -> bool:
        return not client.is_public

    def introspect_token(self, token: TokenView) -> dict[str, Any]:
        payload = dict(token.claims)
        payload.update({"client_id": token.grant.client_id, "active": True,
                        "username": token.claims.get("preferred_username", ""),
                        "token_type": "Bearer" if token.kind == "access" else "Refresh"})
        if token.kind == "access":
            payload["SubjectNameID"] = token.claims.get("preferred_username", "")
        record("token.introspected", client_id=g.get("introspecting_client", ""),
               subject=payload.get("username", ""), kind=token.kind)
        return payload

    def authenticate_endpoint_client(self, request: Any) -> Any:
        try:
            client = super().authenticate_endpoint_client(request)
        except OAuth2Error as error:
            raise _introspection_refusal(request, error) from None
        g.introspecting_client = client.client_id
        return client

    def create_endpoint_response(self, request: Any) -> Any:
        try:
            return super().create_endpoint_response(request)
        except OAuth2Error as error:
            record("token.refused", "failure",
                   client_id=g.get("introspecting_client") or _presented_client_id(request),
                   error=error.error, description=error.description or "",
                   endpoint="introspection")
            raise


def _introspection_refusal(request: Any, error: OAuth2Error) -> OAuth2Error:
    from .server import query_client

    if error.status_code == 429:  # an abuse limit (ratelimit): its own answer, Retry-After
        return error
    claimed = query_client(_presented_client_id(request))
    if not keycloak_wording(claimed):
        return error
    if claimed is not None and claimed.is_public:
        return Refusal("invalid_request", "Client not allowed.", 403)
    return Refusal("invalid_request", "Authentication failed.", 401)


def _presented_client_id(request: Any) -> str:
    from authlib.oauth2.rfc6749.util import extract_basic_authorization

    try:
        basic_id, _ = extract_basic_authorization(request.headers)
    except (ValueError, UnicodeDecodeError):
        basic_id = None
    return str(request.form.get("client_id") or basic_id or "")[:200]


class PscRevocationEndpoint(RevocationEndpoint):
    CLIENT_AUTH_METHODS = TOKEN_AUTH_METHODS

    def check_params(self, request: Any, client: Any) -> None:
        _check_token_param(request)

    def query_token(self, token_string: str, token_type_hint: str | None) -> TokenView | None:
        return find_token(token_string, token_type_hint)

    def revoke_token(self, token: TokenView, request: Any) -> None:
        """A refresh token takes its whole grant with it; an access token only itself."""
        if token.kind == "refresh":
            store.revoke_grant(token.grant.id, "revoked_by_client")
        store.revoke_token(token.row.jti)
        record("token.revoked", client_id=token.grant.client_id, kind=token.kind,
               grant_id=token.grant.id)
