"""What the token, introspection, revocation and CIBA endpoints answer when they refuse, in each
fidelity profile (behaviour ``keycloak_client_errors``).

- psc profile: Keycloak's error codes and descriptions, as PSC's relying parties see them and
  match on. Each entry names the Keycloak (≥ 23) source it follows.
- strict profile: RFC 6749 §5.2 codes with plain English descriptions; a failed client
  authentication is ``401 invalid_client`` with ``WWW-Authenticate: Basic realm="esante-wallet"``.

Neither profile ever lists authentication methods; the audit trail keeps the precise reason.
"""

from __future__ import annotations

from typing import Any

from authlib.oauth2.rfc6749.errors import OAuth2Error
from flask import current_app

from ..config import REALM_PATH
from ..fidelity import behaves

REALM = REALM_PATH.rsplit("/", 1)[-1]

KEYCLOAK_BAD_CLIENT = "Invalid client or Invalid client credentials"
"""ClientIdAndSecretAuthenticator (missing or wrong secret: 401 unauthorized_client) and
AuthenticationProcessor.handleClientAuthException (unknown client: 401 invalid_client), the
wording since Keycloak 20 (keycloak#12162, PR #14656)."""


class Refusal(OAuth2Error):
    """An OAuth error with any code and status; ``challenge`` adds ``WWW-Authenticate: Basic``."""

    def __init__(self, error: str, description: str, status_code: int = 400,
                 challenge: bool = False):
        super().__init__(description=description, status_code=status_code, error=error)
        self.challenge = challenge

    def get_headers(self) -> list[tuple[str, str]]:
        headers = super().get_headers()
        if self.challenge:
            headers.append(("WWW-Authenticate", f'Basic realm="{REALM}"'))
        return headers


def _settings() -> Any:
    return current_app.extensions["psc_idp"].settings


def keycloak_wording(client: Any = None) -> bool:
    return behaves(_settings(), "keycloak_client_errors", client)


# ----------------------------------------------------------------------------- client auth
def bad_client(client: Any = None, known: bool = False) -> Refusal:
    """Unknown client, missing or wrong credentials. psc: Keycloak's 401 ``invalid_client``
    (unknown client) or ``unauthorized_client`` (known client, bad secret), no challenge
    header (ClientAuthUtil.errorResponse sends none). strict: 401 ``invalid_client`` with the
    Basic challenge, the same words whether the client exists or not."""
    if keycloak_wording(client):
        return Refusal("unauthorized_client" if known else "invalid_client",
                       KEYCLOAK_BAD_CLIENT, 401)
    return Refusal("invalid_client", "Client authentication failed.", 401, challenge=True)


def basic_challenge(client: Any = None) -> Refusal:
    """An ``Authorization`` header that is not Basic credentials and no ``client_id`` in the
    body: Keycloak answers 401 with ``WWW-Authenticate: Basic realm=...``."""
    if keycloak_wording(client):
        return Refusal("invalid_client", KEYCLOAK_BAD_CLIENT, 401, challenge=True)
    return Refusal("invalid_client", "Malformed client credentials.", 401, challenge=True)


def wrong_method(client: Any, registered: str) -> Refusal:
    """A secret sent another way than the registered one (strict, RFC 6749 §2.3 / OIDC Core
    §9): names only the method this client is registered for."""
    return Refusal("invalid_client",
                   f"This client is registered for {registered}: send its credentials "
                   "that way only.", 401, challenge=True)


def several_methods() -> Refusal:
    """RFC 6749 §2.3: a client MUST NOT use more than one authentication method in a request;
    §5.2 names this case under ``invalid_request``."""
    return Refusal("invalid_request", "More than one client authentication method was used "
                   "in this request: send the credentials once (RFC 6749 section 2.3).")


def not_at_this_endpoint(client: Any) -> Refusal:
    """A client whose method this endpoint does not accept (public clients at introspection
    and CIBA). Keycloak's own answers here are not verified: the same words in both."""
    return Refusal("invalid_client", "Public clients may not use this endpoint.", 401,
                   challenge=True)


# ----------------------------------------------------------------------------- grants
WORDING: dict[str, tuple[str, str, str, str]] = {
    # key: (psc error, psc description, strict error, strict description)
    # Keycloak: AuthorizationCodeGrantType + OAuth2CodeParser (unknown, replayed or expired
    # codes are all "illegal" once the single-use store has dropped them)
    "code_invalid": ("invalid_grant", "Code not valid", "invalid_grant",
                     "The authorization code is invalid, expired or already used."),
    "redirect_uri": ("invalid_grant", "Incorrect redirect_uri", "invalid_grant",
                     "redirect_uri differs from the one of the authorization request."),
    "user_not_found": ("invalid_grant", "User not found", "invalid_grant",
                       "The professional of this grant no longer exists."),
    "user_disabled": ("invalid_grant", "User disabled", "invalid_grant",
                      "The professional's means of authentication are blocked."),
    # Keycloak: PkceUtils (every PKCE failure is invalid_grant)
    "pkce_missing": ("invalid_grant", "PKCE code verifier not specified", "invalid_request",
                     "Missing code_verifier."),
    "pkce_unexpected": ("invalid_grant", "PKCE code verifier specified but challenge not "
                        "present in authorization", "invalid_request",
                        "A code_verifier was sent, but the authorization request had no "
                        "code_challenge."),
    "pkce_malformed": ("invalid_grant", "PKCE verification failed: Invalid code verifier",
                       "invalid_request", "Invalid code_verifier: 43 to 128 characters "
                       "among A-Z a-z 0-9 - . _ ~"),
    "pkce_mismatch": ("invalid_grant", "PKCE verification failed: Code mismatch",
                      "invalid_grant", "The code_verifier does not match the code_challenge."),
    # Keycloak: TokenManager.verifyRefreshToken / validateToken / validateTokenReuse
    "refresh_invalid": ("invalid_grant", "Invalid refresh token", "invalid_grant",
                        "The refresh token is invalid."),
    "refresh_expired": ("invalid_grant", "Token is not active", "invalid_grant",
                        "The refresh token has expired."),
    "refresh_client": ("invalid_grant", "Invalid refresh token. Token client and authorized "
                       "client don't match", "invalid_grant",
                       "The refresh token was issued to another client."),
    "session_inactive": ("invalid_grant", "Session not active", "invalid_grant",
                         "The session of this refresh token has ended."),
    "client_session_gone": ("invalid_grant", "Session doesn't have required client",
                            "invalid_grant", "The refresh token has been revoked."),
    "refresh_reused": ("invalid_grant", "Stale token", "invalid_grant",
                       "The refresh token was already used: the grant and all its tokens "
                       "are now revoked."),
}


def grant_error(key: str, client: Any = None) -> Refusal:
    psc_error, psc_text, strict_error, strict_text = WORDING[key]
    if keycloak_wording(client):
        return Refusal(psc_error, psc_text)
    return Refusal(strict_error, strict_text)


# ----------------------------------------------------------------------------- RFC 8705
KEYCLOAK_HOK_MISMATCH = ("Client certificate missing, or its thumbprint and one in the refresh "
                         "token did NOT match")
"""Keycloak's MtlsHoKTokenUtil wording, used by its refresh-token grant (401
``unauthorized_client``) and, the same words, by its UserInfoEndpoint."""


def certificate_refused(client: Any) -> Refusal:
    """``tls_client_auth`` / ``self_signed_tls_client_auth``: no certificate, or one that does
    not authenticate this client. psc: Keycloak's generic client-authentication answer (its
    X509ClientAuthenticator's own words are not verified); strict: RFC 6749 §5.2. Neither says
    which check failed (the audit row does)."""
    if keycloak_wording(client):
        return Refusal("unauthorized_client", KEYCLOAK_BAD_CLIENT, 401)
    return Refusal("invalid_client", "Client authentication failed.", 401)


def bound_certificate_missing(client: Any) -> Refusal:
    """A client registered for bound tokens asked for tokens without a certificate (RFC 8705
    §3). psc: Keycloak's TokenEndpoint ("Client Certification missing for MTLS HoK Token
    Binding", 400 ``invalid_request``); strict: the same code, plain words."""
    if keycloak_wording(client):
        return Refusal("invalid_request",
                       "Client Certification missing for MTLS HoK Token Binding")
    return Refusal("invalid_request", "This client's tokens are bound to its TLS certificate "
                   "(RFC 8705 section 3): call the mtls_endpoint_aliases with it.")


def refresh_binding_mismatch(client: Any) -> Refusal:
    """A bound refresh token presented without its certificate. psc: Keycloak's 401
    ``unauthorized_client``; strict: 400 ``invalid_grant`` (RFC 6749 §5.2)."""
    if keycloak_wording(client):
        return Refusal("unauthorized_client", KEYCLOAK_HOK_MISMATCH, 401)
    return Refusal("invalid_grant", "The refresh token is bound to a TLS client certificate "
                   "that this request did not present.")


def bound_token_mismatch_text(client: Any) -> str:
    """Userinfo's ``invalid_token`` description for a bound token without its certificate."""
    if keycloak_wording(client):
        return KEYCLOAK_HOK_MISMATCH
    return ("The access token is bound to a TLS client certificate that this request did "
            "not present (RFC 8705 section 3).")
