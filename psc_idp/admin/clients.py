"""Client registration operations shared by the CLI, the config seeding and the demo set-up."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import asdict
from typing import Any

from ..audit import record
from ..config import ClientSeed, Settings
from ..db import db
from ..fidelity import PROFILES, USERINFO_SHAPES
from ..oidc.models import AUTH_METHODS, Client
from ..oidc.mtls_auth import (
    SELF_SIGNED_TLS_CLIENT_AUTH,
    TLS_CLIENT_AUTH,
    parse_san,
    parse_subject_dn,
    registered_keys,
)

CIBA_GRANT_TYPE = "urn:openid:params:grant-type:ciba"


class ClientError(ValueError):
    """A registration that psc-idp refuses (and says why)."""


def _check_redirect_uri(uri: str) -> None:
    if not uri.startswith(("http://", "https://")) or "#" in uri:
        raise ClientError(f"redirect URI must be an absolute http(s) URI without fragment: {uri}")


def _check_logout_uri(uri: str) -> None:
    # Back-Channel Logout 1.0 §2.2 / Front-Channel Logout 1.0 §2: absolute, no fragment.
    if not uri.startswith(("http://", "https://")) or "#" in uri or len(uri) > 500:
        raise ClientError(f"logout URI must be an absolute http(s) URI without fragment "
                          f"(500 characters at most): {uri}")


def _keeps_secret(client_id: str) -> bool:
    """A registered confidential client: its secret stays when none is given."""
    existing = db.session.get(Client, client_id)
    return existing is not None and bool(existing.client_secret_hash) and \
        existing.token_endpoint_auth_method in ("client_secret_basic", "client_secret_post")


def _check_mtls(seed: ClientSeed) -> None:
    """RFC 8705 registration: a DN that parses or a SAN of a known type for
    ``tls_client_auth``, keys for ``self_signed_tls_client_auth``."""
    if seed.tls_client_auth_subject_dn and seed.tls_client_auth_san:
        raise ClientError("give --tls-subject-dn or --tls-san, not both (RFC 8705 §2.1.2: one "
                          "expected value)")
    if seed.tls_client_auth_subject_dn or seed.tls_client_auth_san:
        if seed.auth_method != TLS_CLIENT_AUTH:
            raise ClientError("--tls-subject-dn and --tls-san are for --auth-method "
                              "tls_client_auth")
        try:
            if seed.tls_client_auth_subject_dn:
                parse_subject_dn(seed.tls_client_auth_subject_dn)
            else:
                parse_san(seed.tls_client_auth_san)
        except ValueError as exc:
            raise ClientError(str(exc)) from None
        if len(seed.tls_client_auth_subject_dn) > 500 or len(seed.tls_client_auth_san) > 500:
            raise ClientError("the subject DN or SAN is longer than 500 characters")
    elif seed.auth_method == TLS_CLIENT_AUTH:
        raise ClientError("tls_client_auth needs the certificate's subject DN (--tls-subject-dn "
                          "\"CN=…,O=…,C=FR\") or a SAN (--tls-san dns:rp.example)")
    if seed.auth_method == SELF_SIGNED_TLS_CLIENT_AUTH and not (seed.jwks or seed.jwks_uri):
        raise ClientError("self_signed_tls_client_auth needs the client's certificate or "
                          "keys: --jwks FILE (JWKS JSON or PEM certificate) or --jwks-uri")
    if seed.jwks is not None:
        try:
            if not registered_keys(seed.jwks) and seed.auth_method == \
                    SELF_SIGNED_TLS_CLIENT_AUTH:
                raise ClientError("the key set holds no public key")
        except ValueError as exc:
            raise ClientError(f"jwks: {exc}") from None


def upsert_client(seed: ClientSeed, settings: Settings, *, source: str) -> Client:
    if seed.auth_method not in AUTH_METHODS:
        raise ClientError(f"auth method must be one of {AUTH_METHODS}")
    if not seed.redirect_uris:
        raise ClientError("at least one redirect URI is required")
    for uri in seed.redirect_uris + list(seed.post_logout_redirect_uris):
        _check_redirect_uri(uri)
    for uri in (seed.backchannel_logout_uri, seed.frontchannel_logout_uri):
        if uri:
            _check_logout_uri(uri)
    if seed.backchannel_logout_session_required and not seed.backchannel_logout_uri:
        raise ClientError("--backchannel-logout-session-required needs --backchannel-logout-uri")
    if seed.auth_method in ("client_secret_basic", "client_secret_post") and \
            not seed.client_secret and not _keeps_secret(seed.client_id):
        raise ClientError(f"{seed.auth_method} needs a client secret (--client-secret)")
    if seed.auth_method == "private_key_jwt" and not (seed.jwks_uri or seed.jwks):
        raise ClientError("private_key_jwt needs --jwks-uri (or jwks in the config)")
    _check_mtls(seed)
    if seed.fidelity_profile not in ("",) + PROFILES:
        raise ClientError(f"fidelity profile must be one of {PROFILES}")
    if seed.userinfo_shape not in ("",) + USERINFO_SHAPES:
        raise ClientError(f"userinfo shape must be one of {USERINFO_SHAPES}")
    if seed.test_autologin and settings.is_production:
        raise ClientError("test autologin is refused in production mode")
    client = db.session.get(Client, seed.client_id)
    created = client is None
    if client is None:
        client = Client(client_id=seed.client_id)
        db.session.add(client)
    client.name = seed.name or seed.client_id
    client.token_endpoint_auth_method = seed.auth_method
    client.redirect_uris = list(seed.redirect_uris)
    client.post_logout_redirect_uris = list(seed.post_logout_redirect_uris)
    client.jwks_uri = seed.jwks_uri or ""
    client.jwks = seed.jwks
    client.userinfo_signed_response_alg = "RS256" if seed.userinfo_signed else ""
    client.test_autologin = seed.test_autologin
    client.backchannel_logout_uri = seed.backchannel_logout_uri or ""
    client.backchannel_logout_session_required = seed.backchannel_logout_session_required
    client.frontchannel_logout_uri = seed.frontchannel_logout_uri or ""
    client.consent_required = seed.consent_required
    client.fidelity_profile = seed.fidelity_profile
    client.userinfo_shape = seed.userinfo_shape
    client.tls_client_auth_subject_dn = seed.tls_client_auth_subject_dn or ""
    client.tls_client_auth_san = seed.tls_client_auth_san or ""
    client.tls_client_certificate_bound_access_tokens = \
        seed.tls_client_certificate_bound_access_tokens
    # CIBA: Keycloak's per-client "CIBA enabled" switch, on for every confidential client
    # (public clients cannot authenticate at the backchannel endpoint); see docs/ciba.md.
    client.grant_types = ["authorization_code", "refresh_token"] + (
        [CIBA_GRANT_TYPE] if seed.auth_method != "none" else [])
    if seed.auth_method not in ("client_secret_basic", "client_secret_post"):
        client.set_secret(None)
    elif seed.client_secret and not client.check_client_secret(seed.client_secret):
        client.set_secret(seed.client_secret)
    record("client.created" if created else "client.updated", "success",
           client_id=seed.client_id, source=source, auth_method=seed.auth_method)
    return client


class ClientExists(ClientError):
    """``client add`` of an id already registered with other settings."""


def seed_of(client: Client) -> ClientSeed:
    """A registered client as the seed that would register it again (its secret unknown)."""
    return ClientSeed(
        client_id=client.client_id, redirect_uris=list(client.redirect_uris),
        auth_method=client.token_endpoint_auth_method, name=client.name,
        jwks_uri=client.jwks_uri or None, jwks=client.jwks,
        userinfo_signed=bool(client.userinfo_signed_response_alg),
        test_autologin=client.test_autologin,
        post_logout_redirect_uris=list(client.post_logout_redirect_uris),
        backchannel_logout_uri=client.backchannel_logout_uri or None,
        backchannel_logout_session_required=client.backchannel_logout_session_required,
        frontchannel_logout_uri=client.frontchannel_logout_uri or None,
        consent_required=client.consent_required,
        fidelity_profile=client.fidelity_profile, userinfo_shape=client.userinfo_shape,
        tls_client_auth_subject_dn=client.tls_client_auth_subject_dn or "",
        tls_client_auth_san=client.tls_client_auth_san or "",
        tls_client_certificate_bound_access_tokens=bool(
            client.tls_client_certificate_bound_access_tokens))


# What ``client add`` compares with the registered client: (seed field, option).
_COMPARED = (
    ("name", "--name"), ("auth_method", "--auth-method"), ("redirect_uris", "--redirect-uri"),
    ("post_logout_redirect_uris", "--post-logout-redirect-uri"), ("jwks_uri", "--jwks-uri"),
    ("userinfo_signed", "--userinfo-signed"), ("test_autologin", "--test-autologin"),
    ("backchannel_logout_uri", "--backchannel-logout-uri"),
    ("backchannel_logout_session_required", "--backchannel-logout-session-required"),
    ("frontchannel_logout_uri", "--frontchannel-logout-uri"),
    ("consent_required", "--consent-required"), ("fidelity_profile", "--fidelity-profile"),
    ("userinfo_shape", "--userinfo-shape"), ("jwks", "--jwks"),
    ("tls_client_auth_subject_dn", "--tls-subject-dn"), ("tls_client_auth_san", "--tls-san"),
    ("tls_client_certificate_bound_access_tokens", "--tls-bound-tokens"))


def differences(client: Client, seed: ClientSeed) -> list[str]:
    """The options of ``seed`` that would change ``client`` (the secret included)."""
    current = seed_of(client)
    wanted = dataclasses.replace(seed, name=seed.name or seed.client_id,
                                 jwks_uri=seed.jwks_uri or None,
                                 backchannel_logout_uri=seed.backchannel_logout_uri or None,
                                 frontchannel_logout_uri=seed.frontchannel_logout_uri or None)
    changed = [option for name, option in _COMPARED
               if getattr(current, name) != getattr(wanted, name)]
    if seed.client_secret and not client.check_client_secret(seed.client_secret):
        changed.append("--client-secret")
    return changed


def add_client(seed: ClientSeed, settings: Settings, *, replace: bool, source: str
               ) -> tuple[Client, str]:
    """``client add``: register a new client; an existing id is refused unless the same
    settings are given again (then nothing changes: a CI script may run its ``add`` twice) or
    ``replace`` says to overwrite it whole. Returns the client and created|unchanged|replaced."""
    existing = db.session.get(Client, seed.client_id)
    if existing is not None and not replace:
        changed = differences(existing, seed)
        if changed:
            raise ClientExists(
                f"client {seed.client_id!r} already exists with other settings "
                f"({', '.join(changed)}): change only those with 'psc-idp client update "
                f"{seed.client_id} {changed[0]} …', or give 'client add --replace' to register "
                f"it again whole (options left out are reset)")
        return existing, "unchanged"
    client = upsert_client(seed, settings, source=source)
    return client, "created" if existing is None else "replaced"


def update_client(client_id: str, changes: dict[str, Any], settings: Settings, *,
                  source: str) -> Client:
    """``client update``: change only the given settings; the secret stays unless given."""
    client = db.session.get(Client, client_id)
    if client is None:
        raise ClientError(f"no client {client_id!r} (register it with 'psc-idp client add')")
    if changes.get("backchannel_logout_uri") == "":  # no endpoint: nothing to require of it
        changes.setdefault("backchannel_logout_session_required", False)
    if changes.get("tls_client_auth_san"):  # one expected name: the new one replaces the other
        changes.setdefault("tls_client_auth_subject_dn", "")
    if changes.get("tls_client_auth_subject_dn"):
        changes.setdefault("tls_client_auth_san", "")
    if changes.get("auth_method", TLS_CLIENT_AUTH) != TLS_CLIENT_AUTH:
        changes.setdefault("tls_client_auth_subject_dn", "")  # no longer used
        changes.setdefault("tls_client_auth_san", "")
    seed = dataclasses.replace(seed_of(client), **changes)
    return upsert_client(seed, settings, source=source)


def remove_client(client_id: str) -> bool:
    client = db.session.get(Client, client_id)
    if client is None:
        return False
    db.session.delete(client)
    record("client.removed", client_id=client_id)
    return True


def describe(client: Client) -> dict[str, Any]:
    return {
        "client_id": client.client_id, "name": client.name,
        "token_endpoint_auth_method": client.token_endpoint_auth_method,
        "redirect_uris": client.redirect_uris,
        "post_logout_redirect_uris": client.post_logout_redirect_uris,
        "grant_types": client.grant_types, "jwks_uri": client.jwks_uri or None,
        "userinfo_signed_response_alg": client.userinfo_signed_response_alg or None,
        "test_autologin": client.test_autologin,
        "backchannel_logout_uri": client.backchannel_logout_uri or None,
        "backchannel_logout_session_required": client.backchannel_logout_session_required,
        "frontchannel_logout_uri": client.frontchannel_logout_uri or None,
        "consent_required": client.consent_required,
        "fidelity_profile": client.fidelity_profile or None,
        "userinfo_shape": client.userinfo_shape or None,
        "jwks": client.jwks,
        "tls_client_auth_subject_dn": client.tls_client_auth_subject_dn or None,
        "tls_client_auth_san": client.tls_client_auth_san or None,
        "tls_client_certificate_bound_access_tokens":
            bool(client.tls_client_certificate_bound_access_tokens),
        "has_secret": bool(client.client_secret_hash),
        "created_at": client.created_at.isoformat() + "Z" if client.created_at else None,
    }


DEMO_SERVICES = (
    # (client_id, name, secret, settings attribute of its base URL)
    ("psc-demo-rp", "Dossier patient", "demo-rp-secret", "demo_rp_url"),
    ("psc-demo-mss", "Messagerie sécurisée", "demo-mss-secret", "demo_rp2_url"),
)


def demo_clients(settings: Settings) -> list[ClientSeed]:
    """The two demo relying services (secrets documented in the README: demo only), each with
    back- and front-channel logout endpoints, to show SSO and single logout."""
    seeds = []
    for client_id, name, secret, url_setting in DEMO_SERVICES:
        base = getattr(settings, url_setting).rstrip("/")
        seeds.append(ClientSeed(
            client_id=client_id, name=name, client_secret=secret,
            redirect_uris=[base + "/callback"], post_logout_redirect_uris=[base + "/"],
            backchannel_logout_uri=base + "/backchannel-logout",
            backchannel_logout_session_required=True,
            frontchannel_logout_uri=base + "/frontchannel-logout"))
    return seeds


def seed_clients(settings: Settings, include_demo: bool) -> int:
    seeds = list(settings.clients)
    if include_demo:
        seeds = demo_clients(settings) + seeds
    for seed in seeds:
        upsert_client(seed, settings, source="config")
    return len(seeds)


def dumps(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, indent=2, default=str)


__all__ = ["ClientError", "ClientExists", "ClientSeed", "add_client", "asdict", "demo_clients",
           "describe", "remove_client", "seed_clients", "seed_of", "update_client", "upsert_client"]
