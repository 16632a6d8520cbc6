"""The ID token, Keycloak/PSC-shaped (reference §4.4), as an Authlib OpenID extension.

Authlib's ``OpenIDCode`` keeps doing what it is for (nonce and prompt validation at the
authorization endpoint, the ``after_create_token_response`` hook); this subclass only builds
the claims and signs them with the key store's already-parsed key. The same extension is
attached to the refresh grant, so a refresh answers with a fresh ID token as Keycloak does.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from authlib.oidc.core import grants as oidc_grants
from authlib.oidc.core.util import create_half_hash
from flask import current_app

from ..claims import subject
from .tokens import AuthContext


def _provider():
    return current_app.extensions["psc_idp"]


def id_token_claims(ctx: AuthContext, client_id: str, access_token: str | None,
                    now: int | None = None) -> dict[str, Any]:
    settings = _provider().settings
    now = int(time.time()) if now is None else now
    professional = ctx.professional
    claims: dict[str, Any] = {
        "exp": now + settings.oidc.id_token_lifetime, "iat": now,
        "auth_time": ctx.auth_time, "jti": str(uuid.uuid4()), "iss": settings.issuer,
        "aud": client_id, "sub": subject(professional, settings.oidc.federation_id),
        "typ": "ID", "azp": client_id, "session_state": ctx.session_id,
        "acr": ctx.acr, "amr": list(ctx.amr), "sid": ctx.session_id,
        "preferred_username": professional.national_id,
        "given_name": professional.given_name, "family_name": professional.family_name,
    }
    if ctx.nonce:
        claims["nonce"] = ctx.nonce
    if access_token:
        claims["at_hash"] = create_half_hash(access_token, "RS256").decode()
    return claims


class PscOpenIDCode(oidc_grants.OpenIDCode):
    def exists_nonce(self, nonce: str, request: Any) -> bool:
        """Keycloak does not track nonces; RPs check theirs against the ID token."""
        return False

    def encode_id_token(self, token: dict[str, Any], request: Any) -> str:
        claims = id_token_claims(request.user, request.client.client_id,
                                 token.get("access_token"))
        return _provider().keys.sign(claims)

    def generate_user_info(self, user: Any, scope: str) -> dict[str, Any]:  # pragma: no cover
        raise AssertionError("encode_id_token builds the claims itself")
