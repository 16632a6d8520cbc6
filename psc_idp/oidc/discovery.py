"""The discovery document, served at PSC's ``wallet-openid-configuration`` and the standard name.

It advertises what psc-idp really does (not Keycloak's long lists of unsupported algorithms),
keeps PSC's layout (the authorization endpoint on the wallet host), and says openly which
emulation features are on (``psc_idp_emulation``). Plug-ins (CIBA, logout) add their own
entries through ``provider.discovery_extensions`` without touching this module.

With the mTLS listener on (``settings.mtls_enabled``), RFC 8705 §5: ``mtls_endpoint_aliases``
gives the token, revocation, introspection, userinfo and CIBA endpoints (and PAR and device
authorization, once advertised) on the listener's base URL, the same paths; PSC's discovery
has the block (reference §2). ``tls_client_auth`` joins the three ``…_auth_methods_supported``
lists, as on PSC; ``self_signed_tls_client_auth``, which psc-idp accepts in both profiles,
is listed only in the strict profile (behaviour ``keycloak_auth_methods_supported``: PSC's
Keycloak lists the methods it has, and it has no self-signed one).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from .. import fidelity
from ..config import Settings
from ..fidelity import behaves
from . import urls

SCOPES = list(fidelity.REALM_SCOPES)
CLAIMS = ["aud", "sub", "iss", "auth_time", "acr", "amr", "sid", "given_name", "family_name",
          "preferred_username", "SubjectNameID", "SubjectOrganization",
          "SubjectOrganizationID", "SubjectRole", "Secteur_Activite", "Palier_Authentification",
          "PSI_Locale", "Acces_Regulation_Medicale", "Mode_Acces_Raison", "UITVersion",
          "authMode", "otherIds", "SubjectRefPro", "codeCivilite", "codeGenreActivite"]
CLIENT_AUTH = ["client_secret_basic", "client_secret_post", "private_key_jwt"]
MTLS_ALIASED = ("token_endpoint", "revocation_endpoint", "introspection_endpoint",
                "userinfo_endpoint", "backchannel_authentication_endpoint",
                "pushed_authorization_request_endpoint", "device_authorization_endpoint")
"""Endpoints a client may call with its certificate (RFC 8705 §5), when advertised."""
ASSERTION_ALGS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384",
                  "ES512"]


def discovery_document(settings: Settings, extensions: list[Any]) -> dict[str, Any]:
    base = settings.public_url
    doc: dict[str, Any] = {
        "issuer": settings.issuer,
        "authorization_endpoint": urls.absolute(settings.wallet_base, urls.WALLET_AUTHORIZE),
        "token_endpoint": urls.absolute(base, urls.TOKEN),
        "introspection_endpoint": urls.absolute(base, urls.INTROSPECT),
        "userinfo_endpoint": urls.absolute(base, urls.USERINFO),
        "end_session_endpoint": urls.absolute(base, urls.LOGOUT),
        "frontchannel_logout_supported": True,
        "frontchannel_logout_session_supported": True,
        "backchannel_logout_supported": True,
        "backchannel_logout_session_supported": True,
        "jwks_uri": urls.absolute(base, urls.CERTS),
        "revocation_endpoint": urls.absolute(base, urls.REVOKE),
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "userinfo_signing_alg_values_supported": ["RS256"],
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
        "claims_parameter_supported": False,
        "claim_types_supported": ["normal"],
        "claims_supported": CLAIMS,
        "scopes_supported": SCOPES,
        "acr_values_supported": (["0", "0"] if behaves(settings, "keycloak_acr_values_supported")
                                 else ["eidas1"]),
        "code_challenge_methods_supported": (["plain", "S256"]
                                             if behaves(settings, "allow_plain_pkce")
                                             else ["S256"]),
        "token_endpoint_auth_methods_supported": CLIENT_AUTH,
        "token_endpoint_auth_signing_alg_values_supported": ASSERTION_ALGS,
        "introspection_endpoint_auth_methods_supported": CLIENT_AUTH,
        "introspection_endpoint_auth_signing_alg_values_supported": ASSERTION_ALGS,
        "revocation_endpoint_auth_methods_supported": CLIENT_AUTH,
        "revocation_endpoint_auth_signing_alg_values_supported": ASSERTION_ALGS,
        "authorization_response_iss_parameter_supported": True,
        "ui_locales_supported": ["fr", "en"],
        "require_pushed_authorization_requests": False,
        "psc_idp_emulation": {
            "mode": settings.mode,
            "test_personas": settings.emulation_enabled and "persona" in settings.authenticators,
            "test_autologin": settings.emulation_enabled,
            "authenticators": sorted(settings.authenticators),
            "quirks": {name: getattr(settings.quirks, name)
                       for name in settings.quirks.__dataclass_fields__},
            "fidelity": fidelity.describe(settings),
        },
    }
    for extend in extensions:
        extend(doc, settings)
    if settings.mtls_enabled:
        add_mtls(doc, settings)
    return doc


def add_mtls(doc: dict[str, Any], settings: Settings) -> None:
    """RFC 8705 §3.3 and §5: bound tokens, the aliases, the certificate methods."""
    methods = ["tls_client_auth"]
    if not behaves(settings, "keycloak_auth_methods_supported"):
        methods.append("self_signed_tls_client_auth")
    for key in ("token_endpoint_auth_methods_supported",
                "introspection_endpoint_auth_methods_supported",
                "revocation_endpoint_auth_methods_supported"):
        doc[key] = [*doc[key], *methods]
    doc["tls_client_certificate_bound_access_tokens"] = True
    aliases = {}
    for key in MTLS_ALIASED:
        if doc.get(key):
            parts = urlsplit(doc[key])
            aliases[key] = settings.mtls_base + parts.path + (f"?{parts.query}"
                                                              if parts.query else "")
    doc["mtls_endpoint_aliases"] = aliases
