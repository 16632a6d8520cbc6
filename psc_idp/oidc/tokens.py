"""PSC-shaped tokens (reference §4.3–4.5, §5): RS256 JWT access tokens with PSC's claims, JWT
refresh tokens, and Keycloak's token-response fields.

Access tokens carry no ``aud`` (as PSC's); refresh tokens are HS512 JWTs keyed by a server secret,
as Keycloak does, so RPs can read their ``exp``. Every token's ``jti`` is recorded against its
grant (``IssuedToken``) so revocation and reuse detection reach all of them.

A client registered for certificate-bound tokens (RFC 8705 §3) gets ``cnf: {"x5t#S256": …}``
in its access and refresh tokens, the thumbprint of the certificate of the token request (the
server refused the request earlier if there was none); introspection shows it, userinfo
requires the same certificate, and so does a refresh (``server.BoundRefreshGrant``). Keycloak
binds its refresh tokens too.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from flask import current_app
from flask import request as flask_request
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import OctKey

from ..audit import record
from ..claims import other_ids, subject
from ..db import utcnow
from ..fidelity import behaves
from . import store
from .models import Grant
from .mtls_auth import confirmation_of

REFRESH_ALG = "HS512"


@dataclass
class AuthContext:
    """The authenticated professional plus how and when: Authlib's ``request.user``."""

    professional: Any
    session_id: str
    auth_time: int
    acr: str
    amr: list[str]
    auth_mode: str
    nonce: str = ""
    grant_id: str = ""
    scope: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def get_user_id(self) -> int:
        return self.professional.id


def _provider():
    return current_app.extensions["psc_idp"]


def refresh_key() -> OctKey:
    provider = _provider()
    key = getattr(provider, "_refresh_key", None)
    if key is None:
        secret = hashlib.sha512(("refresh:" + current_app.secret_key).encode()).digest()
        key = OctKey.import_key(secret)
        provider._refresh_key = key
    return key


def access_token_claims(ctx: AuthContext, client: Any, scope: str, jti: str,
                        now: int, lifetime: int) -> dict[str, Any]:
    """The access token's claims, in the order of the 2023 BAS token (reference §4.3).

    ``client`` resolves the fidelity profile (``fidelity.behaves``). psc profile, as every real
    BAS token shows: ``acr`` ``eidas3`` after a card login whatever was asked
    (``card_access_token_acr_eidas3``), ``nonce`` ``""`` whatever the RP sent
    (``access_token_empty_nonce``). strict: ``acr`` is the granted one, as in the ID token, and
    there is no ``nonce`` (RFC 9068 defines none; the nonce binds the ID token to the RP's
    browser session and has nothing to tell a resource server).
    """
    settings = _provider().settings
    professional = ctx.professional
    acr = ctx.acr
    if ctx.auth_mode == "CARD" and behaves(settings, "card_access_token_acr_eidas3", client):
        acr = "eidas3"
    claims: dict[str, Any] = {
        "exp": now + lifetime, "iat": now, "auth_time": ctx.auth_time, "jti": jti,
        "iss": settings.issuer, "sub": subject(professional, settings.oidc.federation_id),
        "typ": "Bearer", "azp": client.client_id, "nonce": "",
        "session_state": ctx.session_id, "acr": acr, "scope": scope, "sid": ctx.session_id,
        "authMode": ctx.auth_mode, "otherIds": other_ids(professional),
        "preferred_username": professional.national_id,
    }
    if not behaves(settings, "access_token_empty_nonce", client):
        del claims["nonce"]
    return claims


def generate_token(grant_type: str, client: Any, user: AuthContext | None = None,
                   scope: str | None = None, expires_in: int | None = None,
                   include_refresh_token: bool = True) -> dict[str, Any]:
    """Authlib's token generator: sign the JWTs and record their ids (saved by ``save_token``)."""
    if user is None:
        raise ValueError("PSC tokens are always issued to a professional")
    settings = _provider().settings
    keys = _provider().keys
    now = int(time.time())
    scope = scope or ""
    lifetime = expires_in or settings.oidc.access_token_lifetime
    access_jti = str(uuid.uuid4())
    cnf = confirmation_of(client, flask_request)
    access_claims = access_token_claims(user, client, scope, access_jti, now, lifetime)
    if cnf:
        access_claims["cnf"] = cnf
    access = keys.sign(access_claims)
    token: dict[str, Any] = {
        "access_token": access, "expires_in": lifetime, "token_type": "Bearer",
        "not-before-policy": 0, "session_state": user.session_id, "scope": scope,
    }
    records = [("access", access_jti, now + lifetime)]
    if include_refresh_token:
        refresh_lifetime = settings.oidc.refresh_token_lifetime
        refresh_jti = str(uuid.uuid4())
        offline = "offline_access" in scope.split()
        claims = {
            "exp": now + refresh_lifetime, "iat": now, "jti": refresh_jti,
            "iss": settings.issuer, "aud": settings.issuer,
            "sub": subject(user.professional, settings.oidc.federation_id),
            "typ": "Offline" if offline else "Refresh", "azp": client.client_id,
            "nonce": "", "session_state": user.session_id, "scope": scope,
            "sid": user.session_id,
        }
        # Keycloak builds the refresh token from the access token (its nonce included)
        if not behaves(settings, "access_token_empty_nonce", client):
            del claims["nonce"]
        if cnf:
            claims["cnf"] = cnf
        token["refresh_token"] = jwt.encode({"alg": REFRESH_ALG, "typ": "JWT"}, claims,
                                            refresh_key(), algorithms=[REFRESH_ALG])
        token["refresh_expires_in"] = refresh_lifetime
        records.append(("refresh", refresh_jti, now + refresh_lifetime))
    else:
        token["refresh_expires_in"] = 0
    token["_records"] = records
    return token


def save_token(token: dict[str, Any], request: Any) -> None:
    """Record the jtis against the grant. ``_records`` is internal and removed from the body."""
    ctx: AuthContext = request.user
    record("token.issued", subject=ctx.professional.national_id,
           client_id=request.client.client_id, grant_id=ctx.grant_id,
           grant_type=request.payload.grant_type or "")
    now, wall = utcnow(), int(time.time())
    store.insert_tokens(ctx.grant_id, [(kind, jti, now + timedelta(seconds=exp - wall))
                                       for kind, jti, exp in token.pop("_records", [])])


def decode_refresh_token(value: str) -> dict[str, Any] | None:
    try:
        decoded = jwt.decode(value, refresh_key(), algorithms=[REFRESH_ALG])
    except (JoseError, ValueError):
        return None
    claims = dict(decoded.claims)
    if not isinstance(claims.get("exp"), int) or claims["exp"] < time.time():
        return None
    return claims


def decode_access_token(value: str) -> dict[str, Any] | None:
    """Signature and expiry of one of our access tokens; None if anything is off."""
    if not value or len(value) > 8192:
        return None
    try:
        claims = _provider().keys.verify(value)
    except (JoseError, ValueError):
        return None
    if claims.get("typ") != "Bearer" or not isinstance(claims.get("exp"), int):
        return None
    if claims["exp"] < time.time() or claims.get("iss") != _provider().settings.issuer:
        return None
    return claims


def token_is_live(jti: str) -> tuple[store.TokenRow, store.GrantRow, Any] | None:
    """The token row, its grant and the grant's professional (a ``ProfessionalView``, None if
    gone), if neither token nor grant is revoked (one statement)."""
    return store.live_token(jti)


def revoke_grant(grant: Grant, reason: str) -> None:
    """An ORM-loaded grant (session logout); the token side uses ``store.revoke_grant``."""
    if grant.revoked_at is None:
        grant.revoked_at = utcnow()
        grant.revoked_reason = reason
