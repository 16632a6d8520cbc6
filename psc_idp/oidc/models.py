"""Protocol state: clients, pending interactions, authorization codes, grants and their tokens.

Secrets are never stored in clear: client secrets as argon2id hashes, codes as SHA-256 digests.
A *grant* is one code redemption; every access and refresh token points to it, so revoking the
grant (code replay, refresh reuse, revocation) revokes all its tokens at once.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from authlib.oauth2.rfc6749 import ClientMixin
from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..db import db, utcnow
from . import secrets as client_secrets

AUTH_METHODS = ("client_secret_basic", "client_secret_post", "private_key_jwt", "none",
                "tls_client_auth", "self_signed_tls_client_auth")
"""``tls_client_auth`` and ``self_signed_tls_client_auth``: RFC 8705, see ``mtls_auth``."""


def digest(value: str) -> str:
    """SHA-256 of a high-entropy bearer value (codes, cookies): enough at rest, fast to look up."""
    return hashlib.sha256(value.encode()).hexdigest()


class Client(db.Model, ClientMixin):
    __tablename__ = "oidc_client"

    client_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    client_secret_hash: Mapped[str] = mapped_column(String(200), default="")
    token_endpoint_auth_method: Mapped[str] = mapped_column(String(40),
                                                            default="client_secret_basic")
    redirect_uris: Mapped[list[str]] = mapped_column(JSON, default=list)
    post_logout_redirect_uris: Mapped[list[str]] = mapped_column(JSON, default=list)
    grant_types: Mapped[list[str]] = mapped_column(
        JSON, default=lambda: ["authorization_code", "refresh_token"])
    scope: Mapped[str] = mapped_column(Text, default="")
    """Allowed scopes (space separated); empty: every scope the provider knows."""
    jwks_uri: Mapped[str] = mapped_column(String(500), default="")
    jwks: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    userinfo_signed_response_alg: Mapped[str] = mapped_column(String(10), default="")
    test_autologin: Mapped[bool] = mapped_column(Boolean, default=False)
    backchannel_logout_uri: Mapped[str] = mapped_column(String(500), default="")
    backchannel_logout_session_required: Mapped[bool] = mapped_column(Boolean, default=False)
    frontchannel_logout_uri: Mapped[str] = mapped_column(String(500), default="")
    consent_required: Mapped[bool] = mapped_column(Boolean, default=False)
    """Keycloak's per-client "Consent required": the professional approves the scopes once."""
    fidelity_profile: Mapped[str] = mapped_column(String(10), default="")
    """``psc`` or ``strict`` for this client; empty: the deployment's (``fidelity.py``)."""
    userinfo_shape: Mapped[str] = mapped_column(String(10), default="")
    """``2024`` or ``2023`` userinfo for this client; empty: the deployment's."""
    tls_client_auth_subject_dn: Mapped[str] = mapped_column(String(500), default="")
    """RFC 8705 ``tls_client_auth``: the certificate's expected subject DN (RFC 4514)."""
    tls_client_auth_san: Mapped[str] = mapped_column(String(500), default="")
    """RFC 8705 ``tls_client_auth``: an expected SAN, as ``dns:NAME``, ``uri:URI``,
    ``ip:ADDRESS`` or ``email:ADDRESS`` (instead of the subject DN)."""
    tls_client_certificate_bound_access_tokens: Mapped[bool] = mapped_column(
        Boolean, default=False)
    """RFC 8705 §3: bind access tokens to the certificate used at the token endpoint."""
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    # ------------------------------------------------------------------ Authlib ClientMixin
    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        # RFC 9700 §2.1: exact matching; only an unambiguous single URI may be implied.
        return self.redirect_uris[0] if len(self.redirect_uris) == 1 else None

    def get_allowed_scope(self, scope: str | None) -> str:
        """Keycloak drops scopes the realm does not know or the client may not use instead of
        failing the request, and (psc profile) adds the realm's default client scopes."""
        from ..fidelity import granted_scope

        return granted_scope(self, scope or "")

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.redirect_uris  # exact string match, RFC 9700 §4.1.3

    def check_client_secret(self, client_secret: str) -> bool:
        """Public and ``private_key_jwt`` clients have no secret: nothing verifies."""
        if self.token_endpoint_auth_method not in ("client_secret_basic", "client_secret_post"):
            return False
        return client_secrets.verify(self.client_secret_hash, client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        """The registered method; in the psc profile a client with a secret may also send it
        the other way (Keycloak's ClientIdAndSecretAuthenticator reads Basic and the body).
        The server's own client authentication (``server.py``) applies the same rule."""
        if method == self.token_endpoint_auth_method:
            return True
        secret_methods = ("client_secret_basic", "client_secret_post")
        if method not in secret_methods or self.token_endpoint_auth_method not in secret_methods:
            return False
        from flask import current_app

        from ..fidelity import behaves

        return behaves(current_app.extensions["psc_idp"].settings, "client_secret_any_method",
                       self)

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in self.grant_types

    @property
    def authenticates_by_certificate(self) -> bool:
        """RFC 8705 §2: ``tls_client_auth`` or ``self_signed_tls_client_auth``."""
        return self.token_endpoint_auth_method in ("tls_client_auth",
                                                   "self_signed_tls_client_auth")

    @property
    def is_public(self) -> bool:
        return self.token_endpoint_auth_method == "none"  # noqa: S105 (a method name)

    def set_secret(self, secret: str | None) -> None:
        self.client_secret_hash = client_secrets.hash_secret(secret) if secret else ""


class Interaction(db.Model):
    """An authorization request waiting for the professional to authenticate (login transaction)."""

    __tablename__ = "oidc_interaction"

    uid: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(200))
    params: Mapped[dict[str, str]] = mapped_column(JSON)
    """The validated authorization request parameters, replayed when login finishes."""
    csrf_token: Mapped[str] = mapped_column(String(64))
    browser_binding: Mapped[str] = mapped_column(String(64))
    """Digest of a cookie set with the login page: a stolen uid is useless in another browser."""
    state: Mapped[str] = mapped_column(String(20), default="pending")
    """pending, done, failed, expired."""
    authenticator: Mapped[str] = mapped_column(String(40), default="")
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    """Authenticator-owned state (challenge ids, attempt counters)."""
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime)


class AuthorizationCode(db.Model):
    __tablename__ = "oidc_authorization_code"

    code_digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(200), index=True)
    redirect_uri: Mapped[str] = mapped_column(Text, default="")
    scope: Mapped[str] = mapped_column(Text, default="")
    nonce: Mapped[str] = mapped_column(Text, default="")
    code_challenge: Mapped[str] = mapped_column(String(128), default="")
    code_challenge_method: Mapped[str] = mapped_column(String(10), default="")
    professional_id: Mapped[int] = mapped_column(ForeignKey("professional.id"))
    session_id: Mapped[str] = mapped_column(String(36), index=True)
    auth_time: Mapped[int] = mapped_column(Integer)
    acr: Mapped[str] = mapped_column(String(20))
    amr: Mapped[list[str]] = mapped_column(JSON, default=list)
    auth_mode: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    used_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    grant_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    """Set when redeemed: a replay revokes this grant (RFC 6749 §4.1.2, RFC 9700 §4.2).

    The token endpoint reads codes through ``oidc/store.py`` as frozen ``CodeRow`` objects,
    which carry Authlib's ``AuthorizationCodeMixin`` methods; this model is the table."""


class Grant(db.Model):
    """One authorization (a redeemed code, or later a CIBA approval) and all its tokens."""

    __tablename__ = "oidc_grant"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(200), index=True)
    professional_id: Mapped[int] = mapped_column(ForeignKey("professional.id"), index=True)
    session_id: Mapped[str] = mapped_column(String(36), index=True)
    scope: Mapped[str] = mapped_column(Text, default="")
    nonce: Mapped[str] = mapped_column(Text, default="")
    auth_time: Mapped[int] = mapped_column(Integer)
    acr: Mapped[str] = mapped_column(String(20))
    amr: Mapped[list[str]] = mapped_column(JSON, default=list)
    auth_mode: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    revoked_reason: Mapped[str] = mapped_column(String(60), default="")


class IssuedToken(db.Model):
    """Every access and refresh token by its ``jti``: revocation, rotation and introspection."""

    __tablename__ = "oidc_token"

    jti: Mapped[str] = mapped_column(String(36), primary_key=True)
    grant_id: Mapped[str] = mapped_column(ForeignKey("oidc_grant.id"), index=True)
    kind: Mapped[str] = mapped_column(String(10))
    """access or refresh."""
    issued_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    used_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    """Refresh tokens: set when rotated; presenting it again is reuse."""
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class Consent(db.Model):
    """Scopes a professional approved for a ``consent_required`` client (Keycloak's grants)."""

    __tablename__ = "oidc_consent"

    professional_id: Mapped[int] = mapped_column(ForeignKey("professional.id"), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    scope: Mapped[str] = mapped_column(Text, default="")
    granted_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class UsedAssertion(db.Model):
    """``jti`` of every accepted client assertion until it expires (RFC 7523 §3 replay check)."""

    __tablename__ = "oidc_used_assertion"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime, index=True)
