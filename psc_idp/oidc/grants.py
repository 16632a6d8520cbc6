"""Authlib grants with psc-idp storage: the four storage methods and nothing else.

Codes are single-use: redeeming one claims it with an atomic ``UPDATE … WHERE used_at IS NULL``;
presenting it again revokes the grant (and so every token) it produced (RFC 9700 §4.2.4).
Refresh tokens rotate; a rotated one presented again revokes its grant (RFC 9700 §4.14.2).
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc6749.errors import InvalidGrantError
from sqlalchemy import update

from ..audit import record
from ..db import db, utcnow
from ..directory.lookup import get_professional
from ..sessions.logout import OFFLINE_SCOPE, keep_alive_for_refresh
from .models import AuthorizationCode, Grant, IssuedToken, digest
from .tokens import AuthContext, decode_refresh_token, revoke_grant

TOKEN_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"]


def _context_from_grant(grant: Grant) -> AuthContext | None:
    professional = get_professional(grant.professional_id)
    if professional is None:
        return None
    return AuthContext(professional=professional, session_id=grant.session_id,
                       auth_time=grant.auth_time, acr=grant.acr, amr=list(grant.amr),
                       auth_mode=grant.auth_mode, nonce=grant.nonce, grant_id=grant.id,
                       scope=grant.scope)


class CodeGrant(grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = TOKEN_AUTH_METHODS
    AUTHORIZATION_CODE_LENGTH = 43

    def save_authorization_code(self, code: str, request: Any) -> None:
        ctx: AuthContext = request.user
        lifetime = self.server.settings.oidc.code_lifetime
        data = request.payload.data
        db.session.add(AuthorizationCode(
            code_digest=digest(code), client_id=request.client.client_id,
            redirect_uri=request.payload.redirect_uri or "", scope=request.scope or "",
            nonce=data.get("nonce") or "", code_challenge=data.get("code_challenge") or "",
            code_challenge_method=data.get("code_challenge_method") or (
                "S256" if data.get("code_challenge") else ""),
            professional_id=ctx.professional.id, session_id=ctx.session_id,
            auth_time=ctx.auth_time, acr=ctx.acr, amr=ctx.amr, auth_mode=ctx.auth_mode,
            expires_at=utcnow() + timedelta(seconds=lifetime)))

    def query_authorization_code(self, code: str, client: Any) -> AuthorizationCode | None:
        if not code or len(code) > 200:
            return None
        item = db.session.get(AuthorizationCode, digest(code))
        if item is None or item.client_id != client.client_id:
            return None
        if item.used_at is not None:
            self._revoke_replayed(item)
            return None
        if item.is_expired():
            return None
        return item

    def _revoke_replayed(self, item: AuthorizationCode) -> None:
        grant = db.session.get(Grant, item.grant_id) if item.grant_id else None
        if grant is not None:
            revoke_grant(grant, "code_replayed")
        record("token.reuse_detected", "failure", client_id=item.client_id,
               kind="authorization_code", grant_id=item.grant_id)

    def delete_authorization_code(self, authorization_code: AuthorizationCode) -> None:
        """Kept (marked used) rather than deleted, so a replay can be recognised."""

    def authenticate_user(self, authorization_code: AuthorizationCode) -> AuthContext | None:
        grant_id = str(uuid.uuid4())
        claimed = db.session.execute(
            update(AuthorizationCode)
            .where(AuthorizationCode.code_digest == authorization_code.code_digest,
                   AuthorizationCode.used_at.is_(None))
            .values(used_at=utcnow(), grant_id=grant_id)).rowcount
        if claimed != 1:
            raise InvalidGrantError("Code already used.")
        grant = Grant(id=grant_id, client_id=authorization_code.client_id,
                      professional_id=authorization_code.professional_id,
                      session_id=authorization_code.session_id, scope=authorization_code.scope,
                      nonce=authorization_code.nonce, auth_time=authorization_code.auth_time,
                      acr=authorization_code.acr, amr=list(authorization_code.amr),
                      auth_mode=authorization_code.auth_mode)
        db.session.add(grant)
        return _context_from_grant(grant)


class RefreshCredential:
    """A verified, unused refresh token and the grant behind it."""

    def __init__(self, claims: dict[str, Any], grant: Grant):
        self.claims = claims
        self.grant = grant

    def get_scope(self) -> str:
        return self.claims.get("scope", "")

    def check_client(self, client: Any) -> bool:
        return self.grant.client_id == client.client_id


class RefreshGrant(grants.RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = TOKEN_AUTH_METHODS
    INCLUDE_NEW_REFRESH_TOKEN = True

    def authenticate_refresh_token(self, refresh_token: str) -> RefreshCredential | None:
        if len(refresh_token) > 8192:
            return None
        claims = decode_refresh_token(refresh_token)
        if claims is None:
            return None
        row = db.session.get(IssuedToken, str(claims.get("jti", "")))
        if row is None or row.kind != "refresh":
            return None
        grant = db.session.get(Grant, row.grant_id)
        if grant is None or grant.revoked_at is not None or row.revoked_at is not None:
            return None
        if row.used_at is not None:
            revoke_grant(grant, "refresh_token_reused")
            record("token.reuse_detected", "failure", client_id=grant.client_id,
                   kind="refresh_token", grant_id=grant.id)
            return None
        if OFFLINE_SCOPE not in grant.scope.split() and \
                not keep_alive_for_refresh(grant.session_id):
            return None  # Keycloak: "Session not active" (the SSO session ended or ran out)
        return RefreshCredential(claims, grant)

    def authenticate_user(self, refresh_token: RefreshCredential) -> AuthContext | None:
        ctx = _context_from_grant(refresh_token.grant)
        if ctx is not None and refresh_token.grant.professional_id and \
                ctx.professional.means_blocked:
            return None
        return ctx

    def revoke_old_credential(self, refresh_token: RefreshCredential) -> None:
        claimed = db.session.execute(
            update(IssuedToken)
            .where(IssuedToken.jti == refresh_token.claims["jti"], IssuedToken.used_at.is_(None))
            .values(used_at=utcnow())).rowcount
        if claimed != 1:
            raise InvalidGrantError("Refresh token already used.")
        record("token.refreshed", client_id=refresh_token.grant.client_id,
               subject=self.request.user.professional.national_id,
               grant_id=refresh_token.grant.id)
