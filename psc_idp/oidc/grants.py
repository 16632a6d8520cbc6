"""Authlib grants with psc-idp storage: the four storage methods and nothing else.

Codes are single-use: redeeming one claims it with an atomic ``UPDATE … WHERE used_at IS NULL``;
presenting it again revokes the grant (and so every token) it produced (RFC 9700 §4.2.4; Keycloak
likewise detaches the client session of a replayed code).

Refresh tokens (behaviour ``refresh_token_reuse``): each refresh answers a new refresh token in
both profiles. psc profile, Keycloak's default ("Revoke Refresh Token" off): an older refresh
token stays usable while it is valid and its grant and session live, with no reuse detection.
strict profile: rotation; a rotated token presented again revokes its grant (RFC 9700 §4.14.2).

Refusals are worded per profile by ``refusals.grant_error`` (Keycloak's words in the psc
profile).
"""

from __future__ import annotations

import time
import uuid
from datetime import timedelta
from typing import Any

from authlib.oauth2.rfc6749 import grants
from flask import current_app
from joserfc import jwt
from joserfc.errors import JoseError

from ..audit import record
from ..db import utcnow
from ..directory import store as directory
from ..directory.lookup import login_refusal
from ..fidelity import behaves
from ..sessions.logout import OFFLINE_SCOPE, keep_alive_for_refresh
from . import store
from .models import digest
from .refusals import grant_error
from .tokens import REFRESH_ALG, AuthContext, decode_refresh_token, refresh_key

TOKEN_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"]


def _context_from_grant(grant: store.GrantRow, person: directory.ProfessionalView | None
                        ) -> AuthContext | None:
    """The grant's context, with its professional as read along with the code or token
    (``person``; a statement of its own only if that read found none)."""
    professional = person if person is not None else directory.professional(
        grant.professional_id)
    if professional is None:
        return None
    return AuthContext(professional=professional, session_id=grant.session_id,
                       auth_time=grant.auth_time, acr=grant.acr, amr=list(grant.amr),
                       auth_mode=grant.auth_mode, nonce=grant.nonce, grant_id=grant.id,
                       scope=grant.scope)


class CodeGrant(grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = TOKEN_AUTH_METHODS
    AUTHORIZATION_CODE_LENGTH = 43
    _person: directory.ProfessionalView | None = None
    """The code's professional, read with it (Authlib makes one grant object per request)."""

    def save_authorization_code(self, code: str, request: Any) -> None:
        ctx: AuthContext = request.user
        lifetime = self.server.settings.oidc.code_lifetime
        data = request.payload.data
        store.insert_code(dict(
            code_digest=digest(code), client_id=request.client.client_id,
            redirect_uri=request.payload.redirect_uri or "", scope=request.scope or "",
            nonce=data.get("nonce") or "", code_challenge=data.get("code_challenge") or "",
            code_challenge_method=data.get("code_challenge_method") or (
                "S256" if data.get("code_challenge") else ""),
            professional_id=ctx.professional.id, session_id=ctx.session_id,
            auth_time=ctx.auth_time, acr=ctx.acr,
            amr=list(ctx.amr), auth_mode=ctx.auth_mode,
            expires_at=utcnow() + timedelta(seconds=lifetime)))

    def query_authorization_code(self, code: str, client: Any) -> store.CodeRow:
        """The unused code of this client, or a refusal. The redirect_uri is checked here too
        (RFC 6749 §4.1.3), so that the refusal is worded per profile."""
        if not code or len(code) > 200:
            raise grant_error("code_invalid", client)
        found = store.find_code_and_person(digest(code))
        item, self._person = found if found is not None else (None, None)
        if item is None or item.client_id != client.client_id:
            raise grant_error("code_invalid", client)
        if item.used_at is not None:
            self._revoke_replayed(item)
            raise grant_error("code_invalid", client)
        if item.is_expired():
            raise grant_error("code_invalid", client)
        if item.redirect_uri and self.request.payload.redirect_uri != item.redirect_uri:
            raise grant_error("redirect_uri", client)
        return item

    def _revoke_replayed(self, item: store.CodeRow) -> None:
        store.revoke_grant(item.grant_id, "code_replayed")
        record("token.reuse_detected", "failure", client_id=item.client_id,
               kind="authorization_code", grant_id=item.grant_id)

    def delete_authorization_code(self, authorization_code: store.CodeRow) -> None:
        """Kept (marked used) rather than deleted, so a replay can be recognised."""

    def authenticate_user(self, authorization_code: store.CodeRow) -> AuthContext | None:
        """Claim the code (one conditional UPDATE: of concurrent redemptions one wins), then
        record its grant."""
        grant = store.grant_from_code(authorization_code, str(uuid.uuid4()))
        if not store.claim_code(authorization_code.code_digest, grant.id):
            raise grant_error("code_invalid", self.request.client)  # a concurrent one won
        store.insert_grant(grant)
        ctx = _context_from_grant(grant, self._person)
        if ctx is None:
            raise grant_error("user_not_found", self.request.client)
        return ctx


class RefreshCredential:
    """A verified, unused refresh token and the grant behind it."""

    def __init__(self, claims: dict[str, Any], grant: store.GrantRow,
                 person: directory.ProfessionalView | None = None):
        self.claims = claims
        self.grant = grant
        self.person = person

    def get_scope(self) -> str:
        return self.claims.get("scope", "")

    def check_client(self, client: Any) -> bool:
        return self.grant.client_id == client.client_id


CLIENT_SESSION_REVOCATIONS = ("code_replayed", "refresh_token_reused", "revoked_by_client")
"""Grant revocations that end only this client's part of the session (Keycloak detaches the
client session: "Session doesn't have required client"); other reasons end the session."""


def _expired_refresh_token(value: str) -> bool:
    """Ours (the signature verifies) but past its ``exp``: Keycloak's "Token is not active"."""
    try:
        claims = jwt.decode(value, refresh_key(), algorithms=[REFRESH_ALG]).claims
    except (JoseError, ValueError):
        return False
    return isinstance(claims.get("exp"), int) and claims["exp"] < time.time()


class RefreshGrant(grants.RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = TOKEN_AUTH_METHODS
    INCLUDE_NEW_REFRESH_TOKEN = True

    def _reuse_allowed(self, client: Any) -> bool:
        return behaves(current_app.extensions["psc_idp"].settings, "refresh_token_reuse",
                       client)

    def authenticate_refresh_token(self, refresh_token: str) -> RefreshCredential:
        """The live refresh token of the authenticated client, or a refusal, in Keycloak's
        order (TokenManager.verifyRefreshToken, then validateToken): the token itself, its
        client, then its session."""
        client = self.request.client
        claims = decode_refresh_token(refresh_token) if len(refresh_token) <= 8192 else None
        if claims is None:
            expired = len(refresh_token) <= 8192 and _expired_refresh_token(refresh_token)
            raise grant_error("refresh_expired" if expired else "refresh_invalid", client)
        found = store.token_grant_and_person(str(claims.get("jti", "")))
        if found is None or found[0].kind != "refresh":
            raise grant_error("refresh_invalid", client)
        row, grant, person = found
        if grant.client_id != client.client_id:
            raise grant_error("refresh_client", client)
        if grant.revoked_at is not None or row.revoked_at is not None:
            raise grant_error("client_session_gone" if grant.revoked_reason in
                              CLIENT_SESSION_REVOCATIONS else "session_inactive", client)
        if row.used_at is not None and not self._reuse_allowed(client):
            store.revoke_grant(grant.id, "refresh_token_reused")
            record("token.reuse_detected", "failure", client_id=grant.client_id,
                   kind="refresh_token", grant_id=grant.id)
            raise grant_error("refresh_reused", client)
        if OFFLINE_SCOPE not in grant.scope.split() and \
                not keep_alive_for_refresh(grant.session_id):
            raise grant_error("session_inactive", client)  # SSO session ended or ran out
        return RefreshCredential(claims, grant, person)

    def authenticate_user(self, refresh_token: RefreshCredential) -> AuthContext:
        ctx = _context_from_grant(refresh_token.grant, refresh_token.person)
        if ctx is None:
            raise grant_error("user_not_found", self.request.client)
        if refresh_token.grant.professional_id and login_refusal(ctx.professional):  # or ended
            raise grant_error("user_disabled", self.request.client)
        return ctx

    def revoke_old_credential(self, refresh_token: RefreshCredential) -> None:
        """strict: the presented token is spent (claimed atomically: of two concurrent
        refreshes with it, one wins). psc: it stays usable, as in Keycloak by default."""
        if not self._reuse_allowed(self.request.client) and \
                not store.claim_refresh(refresh_token.claims["jti"]):
            raise grant_error("refresh_reused", self.request.client)
        record("token.refreshed", client_id=refresh_token.grant.client_id,
               subject=self.request.user.professional.national_id,
               grant_id=refresh_token.grant.id)
