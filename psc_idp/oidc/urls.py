"""PSC's URL layout in one place (reference §1): the contract an RP hard-codes.

The realm lives under Keycloak's legacy ``/auth`` context; the browser authorization endpoint is
``/auth`` on PSC's separate ``wallet.*`` host (here: ``wallet_url``, defaulting to the same host).
Keycloak's own ``{issuer}/protocol/openid-connect/auth`` is served as well.
"""

from __future__ import annotations

from ..config import REALM_PATH

OIDC = REALM_PATH + "/protocol/openid-connect"

WALLET_AUTHORIZE = "/auth"
WALLET_AUTHORIZE_SLASH = "/auth/"
"""Keycloak serves ``/auth/`` too; the Drupal PSC plugin builds ``…/auth/?acr_values=eidas1``."""
AUTHORIZE = OIDC + "/auth"
TOKEN = OIDC + "/token"
USERINFO = OIDC + "/userinfo"
CERTS = OIDC + "/certs"
LOGOUT = OIDC + "/logout"
INTROSPECT = OIDC + "/token/introspect"
REVOKE = OIDC + "/revoke"
CIBA = OIDC + "/ext/ciba/auth"
CONSENT = REALM_PATH + "/login-actions/consent/<uid>"
ACCOUNT_SESSIONS = REALM_PATH + "/account/sessions"
DISCOVERY_PSC = REALM_PATH + "/.well-known/wallet-openid-configuration"
DISCOVERY = REALM_PATH + "/.well-known/openid-configuration"


def absolute(base: str, path: str) -> str:
    return base.rstrip("/") + path
