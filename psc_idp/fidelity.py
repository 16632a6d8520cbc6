"""Fidelity profiles: behave as PSC (a Keycloak ≥ 23 realm) does, or apply the RFCs strictly.

psc-idp exists so that what works here works on PSC and what fails on PSC fails here, so the
``psc`` profile reproduces PSC's laxities (the default outside production). The ``strict``
profile applies the RFCs and RFC 9700 where PSC is lax, for teams hardening their RP (the
default in production mode). A client may choose its own profile (``client add
--fidelity-profile``). Every behaviour that differs is one entry of ``BEHAVIOURS`` and one row
of ``docs/psc-compatibility.md``; a ``[quirks]`` setting, when set, overrides its behaviour for
the whole deployment whatever the profile.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

PSC = "psc"
STRICT = "strict"
PROFILES = (PSC, STRICT)

USERINFO_SHAPES = ("2024", "2023")
"""``2024``: top-level ``codeCivilite``/``codeGenreActivite``, ``SubjectRefPro`` holding only
``exercices`` (BAS identities of 2023-11 onwards); ``2023``: the Feb-2023 capture's shape."""


@dataclass(frozen=True)
class Behaviour:
    """One place where PSC and the RFCs part: what each profile does."""

    psc: bool
    strict: bool
    summary: str


BEHAVIOURS: dict[str, Behaviour] = {
    "client_secret_any_method": Behaviour(
        True, False, "a client secret is accepted by Basic or in the body whatever the "
        "registered method (Keycloak's ClientIdAndSecretAuthenticator)"),
    "keycloak_client_errors": Behaviour(
        True, False, "token-endpoint errors worded as Keycloak's (wrong secret: 401 "
        "unauthorized_client, bad code: invalid_grant 'Code not valid')"),
    "allow_plain_pkce": Behaviour(
        True, False, "code_challenge_method=plain accepted (PSC advertises it)"),
    "keycloak_acr_values_supported": Behaviour(
        True, False, "discovery's acr_values_supported is [\"0\",\"0\"] as PSC's"),
    "card_access_token_acr_eidas3": Behaviour(
        True, False, "access tokens of card logins carry acr eidas3 (all captures)"),
    "access_token_empty_nonce": Behaviour(
        True, False, "access tokens carry nonce \"\" whatever the RP sent (all captures)"),
    "refresh_token_reuse": Behaviour(
        True, False, "a refresh token may be used again while valid (Keycloak's default, "
        "'Revoke Refresh Token' off); strict: rotation, reuse revokes the grant"),
    "client_default_scopes": Behaviour(
        True, False, "the realm's default client scopes are added to the granted scope"),
    "logout_empty_id_token_hint_refused": Behaviour(
        True, False, "end-session with an empty id_token_hint= answers 400 as Keycloak "
        "(the parameter is present, so it must parse); strict: treated as absent (RFC 6749 "
        "§3.1)"),
    "mtls_refresh_bound_all_clients": Behaviour(
        True, False, "a certificate-bound refresh token needs its certificate again for every "
        "client (Keycloak's MtlsHoKTokenUtil); strict: for public clients only, a confidential "
        "client's authentication binds its refresh tokens (RFC 8705 §3)"),
    "keycloak_auth_methods_supported": Behaviour(
        True, False, "discovery lists tls_client_auth but not self_signed_tls_client_auth, "
        "as PSC's (Keycloak has no self-signed method); strict: both, as psc-idp accepts both"),
    "logout_without_state": Behaviour(
        False, False, "post-logout redirect without state (KEYCLOAK-7209, fixed before "
        "Keycloak 23: off in both, a quirk for older captures)"),
}


def profile_of(settings: Any, client: Any = None) -> str:
    """The profile in force for ``client`` (its own choice, else the deployment's)."""
    chosen = getattr(client, "fidelity_profile", "") if client is not None else ""
    return chosen or settings.fidelity.resolved_profile(settings.is_production)


def behaves(settings: Any, name: str, client: Any = None) -> bool:
    """Whether behaviour ``name`` is on for this client: a set quirk wins, else the profile."""
    forced = getattr(settings.quirks, name, None)
    if forced is not None:
        return bool(forced)
    behaviour = BEHAVIOURS[name]
    return behaviour.psc if profile_of(settings, client) == PSC else behaviour.strict


def userinfo_shape_of(settings: Any, client: Any = None) -> str:
    chosen = getattr(client, "userinfo_shape", "") if client is not None else ""
    return chosen or settings.fidelity.userinfo_shape


REALM_SCOPES = ("openid", "scope_all", "profile", "email", "offline_access", "roles",
                "web-origins", "identity", "rpps", "eidas1", "eidas2", "acr", "basic",
                "microprofile-jwt", "referentiel", "phone", "address", "interop", "scope_1",
                "scope_2")
"""The scopes PSC's realm knows (its discovery's ``scopes_supported``, reference §2)."""


def granted_scope(client: Any, requested: str, settings: Any = None) -> str:
    """The scope a client gets for ``requested``: known scopes it may use, in the order asked,
    then the realm's default client scopes (psc profile). Unknown scopes are dropped in both
    profiles, as Keycloak does (a 2023 BAS token asked ``openid scope_all`` and got
    ``openid profile scope_all identity``)."""
    if settings is None:
        from flask import current_app

        settings = current_app.extensions["psc_idp"].settings
    defaults = tuple(settings.fidelity.default_scopes) \
        if behaves(settings, "client_default_scopes", client) else ()
    if len(requested) > 512:  # an odd request is computed, not kept
        return _granted.__wrapped__(client.scope or "", requested, defaults)
    return _granted(client.scope or "", requested, defaults)


@functools.lru_cache(maxsize=1024)
def _granted(client_scope: str, requested: str, defaults: tuple[str, ...]) -> str:
    """``granted_scope`` once per (client scopes, request, defaults): asked on every login
    step, and the same few combinations come back all the time."""
    allowed = set(client_scope.split()) if client_scope else set(REALM_SCOPES)
    scopes = [s for s in requested.split() if s in allowed and s in REALM_SCOPES]
    scopes += [s for s in defaults if not client_scope or s in allowed]
    return " ".join(dict.fromkeys(scopes))


def describe(settings: Any) -> dict[str, Any]:
    """For discovery's ``psc_idp_emulation``: the profile and each behaviour as it resolves."""
    return {"profile": profile_of(settings), "userinfo_shape": settings.fidelity.userinfo_shape,
            "behaviours": {name: behaves(settings, name) for name in BEHAVIOURS}}
