"""RFC 8705: client authentication by TLS certificate, and certificate-bound access tokens.

Why psc-idp checks certificates itself: the listener (``mtls/listener.py``) accepts every
certificate in the handshake, so that a refused one gets an answer worded per profile and an
audit row rather than a broken connection. A certificate counts only on a request that came
through that listener (or a trusted proxy that forwards it): on the plain listener any header
or body claiming one is ignored.

- ``tls_client_auth`` (§2.1): the presented chain must lead to the emulated IGC-Santé root and
  nothing else (PSC trusts the IGC-Santé; ``[tls] outgoing_ca_bundle`` is for psc-idp's own
  outgoing calls and is not consulted), the leaf must not be revoked in psc-idp's register,
  and its subject DN (RFC 4514, compared attribute by attribute, case and spaces folded as
  X.500 matching rules do) or one SAN must be the registered one.
- ``self_signed_tls_client_auth`` (§2.2): no chain; the leaf's public key (SubjectPublicKeyInfo)
  must be one of the client's registered keys (``jwks`` or ``jwks_uri``), and the leaf within
  its validity dates.
- Bound tokens (§3): ``cnf.x5t#S256`` is the base64url SHA-256 of the certificate's DER.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import logging
import re
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from flask import Request

from ..audit import record
from ..mtls.presented import came_through_listener, presented_chain

log = logging.getLogger(__name__)

TLS_CLIENT_AUTH = "tls_client_auth"
SELF_SIGNED_TLS_CLIENT_AUTH = "self_signed_tls_client_auth"
MTLS_METHODS = (TLS_CLIENT_AUTH, SELF_SIGNED_TLS_CLIENT_AUTH)
SAN_KINDS = ("dns", "uri", "ip", "email")
THUMBPRINT = "x5t#S256"


class MtlsRefused(Exception):
    """A certificate that does not authenticate the client; ``reason`` goes to the audit
    trail (the answer never says which check failed)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


# ----------------------------------------------------------------------------- registration
_LOWER_NAMES = {key: oid for name, oid in (
    ("CN", NameOID.COMMON_NAME), ("O", NameOID.ORGANIZATION_NAME),
    ("OU", NameOID.ORGANIZATIONAL_UNIT_NAME), ("C", NameOID.COUNTRY_NAME),
    ("L", NameOID.LOCALITY_NAME), ("ST", NameOID.STATE_OR_PROVINCE_NAME),
    ("STREET", NameOID.STREET_ADDRESS), ("DC", NameOID.DOMAIN_COMPONENT),
    ("UID", NameOID.USER_ID), ("SERIALNUMBER", NameOID.SERIAL_NUMBER),
    ("EMAILADDRESS", NameOID.EMAIL_ADDRESS), ("GIVENNAME", NameOID.GIVEN_NAME),
    ("SN", NameOID.SURNAME), ("TITLE", NameOID.TITLE),
    ("ORGANIZATIONIDENTIFIER", NameOID.ORGANIZATION_IDENTIFIER),
) for key in (name.lower(), name.title())}
"""Attribute types in other cases than cryptography's upper-case names."""


def parse_subject_dn(text: str) -> x509.Name:
    """An RFC 4514 string as a name, or ValueError saying why it is not one."""
    # attribute types are case-insensitive (RFC 4514 §3) and people type "CN=a, O=b"
    tidy = re.sub(r"(?<!\\)([,+])\s+", r"\1", text.strip())
    try:
        parsed = x509.Name.from_rfc4514_string(tidy, attr_name_overrides=_LOWER_NAMES)
    except ValueError as exc:
        raise ValueError(f"not an RFC 4514 distinguished name: {text!r} ({exc})") from None
    if not list(parsed):
        raise ValueError(f"empty distinguished name: {text!r}")
    return parsed


def parse_san(text: str) -> tuple[str, str]:
    """``dns:NAME``, ``uri:URI``, ``ip:ADDRESS`` or ``email:ADDRESS`` as (kind, normalised
    value), or ValueError."""
    kind, sep, value = text.strip().partition(":")
    kind, value = kind.strip().lower(), value.strip()
    if not sep or kind not in SAN_KINDS:
        raise ValueError(f"SAN must be one of {', '.join(k + ':…' for k in SAN_KINDS)}: {text!r}")
    if not value:
        raise ValueError(f"empty SAN value: {text!r}")
    if kind == "ip":
        try:
            return kind, str(ipaddress.ip_address(value.strip("[]")))
        except ValueError:
            raise ValueError(f"not an IP address: {value!r}") from None
    if kind == "dns":
        value = value.lower().rstrip(".")
        if not value or any(c.isspace() or c in "/:@" for c in value):
            raise ValueError(f"not a DNS name: {value!r}")
    if kind == "email" and ("@" not in value or value.startswith("@") or value.endswith("@")):
        raise ValueError(f"not an email address: {value!r}")
    if kind == "uri" and not urlsplit(value).scheme:
        raise ValueError(f"not an absolute URI: {value!r}")
    return kind, value


def _fold(value: Any) -> str:
    """X.500 caseIgnoreMatch, roughly: case folded, inner spaces collapsed."""
    return " ".join(str(value).split()).casefold()


def _name_key(name: x509.Name) -> tuple[frozenset[tuple[str, str]], ...]:
    return tuple(frozenset((a.oid.dotted_string, _fold(a.value)) for a in rdn)
                 for rdn in name.rdns)


def dn_matches(registered: str, subject: x509.Name) -> bool:
    try:
        expected = parse_subject_dn(registered)
    except ValueError:
        return False
    return _name_key(expected) == _name_key(subject)


def san_matches(registered: str, certificate: x509.Certificate) -> bool:
    try:
        kind, value = parse_san(registered)
        sans = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (ValueError, x509.ExtensionNotFound):
        return False
    if kind == "dns":
        return value in {n.lower().rstrip(".") for n in sans.get_values_for_type(x509.DNSName)}
    if kind == "uri":
        return value in sans.get_values_for_type(x509.UniformResourceIdentifier)
    if kind == "email":
        return value.casefold() in {n.casefold() for n in sans.get_values_for_type(x509.RFC822Name)}
    return ipaddress.ip_address(value) in sans.get_values_for_type(x509.IPAddress)


def jwks_from_file(text: str) -> dict[str, Any]:
    """A JWKS given to ``client add --jwks``: a JSON key set (or a single JWK), or PEM
    certificates, whose public keys become JWKs carrying their ``x5c``."""
    if "-----BEGIN CERTIFICATE-----" in text:
        from joserfc.jwk import import_key

        keys = []
        for certificate in x509.load_pem_x509_certificates(text.encode()):
            der = certificate.public_bytes(serialization.Encoding.DER)
            spki = certificate.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            public = certificate.public_key()
            kind = "RSA" if isinstance(public, rsa.RSAPublicKey) else \
                "EC" if isinstance(public, ec.EllipticCurvePublicKey) else "OKP"
            jwk = import_key(spki, kind).as_dict(private=False)
            jwk["x5c"] = [base64.b64encode(der).decode()]
            jwk["x5t#S256"] = thumbprint(certificate)
            keys.append(jwk)
        return {"keys": keys}
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ValueError(f"neither a JSON key set nor PEM certificates ({exc})") from None
    if isinstance(data, dict) and "kty" in data:
        data = {"keys": [data]}
    if not isinstance(data, dict) or not isinstance(data.get("keys"), list):
        raise ValueError("a JSON key set has a \"keys\" list")
    registered_keys(data)  # every key must import
    return data


def registered_keys(jwks: dict[str, Any]) -> list[bytes]:
    """The DER SubjectPublicKeyInfo of each key of a JWKS (ValueError if one is unreadable)."""
    from joserfc.errors import JoseError
    from joserfc.jwk import KeySet

    try:
        key_set = KeySet.import_key_set(jwks)
    except (JoseError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"unreadable key set: {exc}") from None
    out = []
    for key in key_set.keys:
        raw = key.raw_value
        public = raw.public_key() if hasattr(raw, "private_bytes") else raw
        if not hasattr(public, "public_bytes"):
            continue  # a symmetric key has no SubjectPublicKeyInfo
        out.append(public.public_bytes(serialization.Encoding.DER,
                                       serialization.PublicFormat.SubjectPublicKeyInfo))
    return out


# ----------------------------------------------------------------------------- authentication
def authenticate(client: Any, request: Request, settings: Any) -> x509.Certificate:
    """The client's certificate if it authenticates ``client`` (registered for one of
    ``MTLS_METHODS``), else ``MtlsRefused`` (audited here with the precise reason)."""
    try:
        return _authenticate(client, request, settings)
    except MtlsRefused as refused:
        # the endpoint audits its refusal too, without this precise reason
        record("token.refused", "failure", client_id=client.client_id,
               stage="client_certificate", method=client.token_endpoint_auth_method,
               reason=refused.reason, path=request.path[:200])
        raise


def _authenticate(client: Any, request: Request, settings: Any) -> x509.Certificate:
    if not came_through_listener(request):
        raise MtlsRefused("not on the mTLS listener (use the mtls_endpoint_aliases)")
    chain = presented_chain(request)
    if not chain:
        raise MtlsRefused("no client certificate in the TLS handshake")
    leaf = chain[0]
    if client.token_endpoint_auth_method == TLS_CLIENT_AUTH:
        _check_igc_sante(leaf, chain[1:], settings)
        _check_registered_name(client, leaf)
    else:
        _check_self_signed(client, leaf)
    return leaf


def _check_igc_sante(leaf: x509.Certificate, intermediates: list[x509.Certificate],
                     settings: Any) -> None:
    from ..clock import provider_clock
    from ..pki.authority import PkiError
    from ..pki.igc_sante import IgcSante
    from ..pki.verify import ChainRefused, check_not_revoked, verify_client_chain

    try:
        anchor = IgcSante.from_settings(settings).trust_anchor()
        verify_client_chain(leaf, intermediates, anchors=[anchor], at=provider_clock().now())
        check_not_revoked(leaf)
    except ChainRefused as refused:
        raise MtlsRefused(f"certificate refused: {refused.reason}") from None
    except (PkiError, OSError) as exc:  # the emulated authority's files cannot be read
        log.error("IGC-Santé trust anchor unavailable: %s", exc)
        raise MtlsRefused("IGC-Santé trust anchor unavailable") from None


def _check_registered_name(client: Any, leaf: x509.Certificate) -> None:
    if client.tls_client_auth_subject_dn:
        if dn_matches(client.tls_client_auth_subject_dn, leaf.subject):
            return
        raise MtlsRefused(f"subject DN {leaf.subject.rfc4514_string()!r} is not the registered "
                          f"{client.tls_client_auth_subject_dn!r}")
    if client.tls_client_auth_san:
        if san_matches(client.tls_client_auth_san, leaf):
            return
        raise MtlsRefused(f"no SAN {client.tls_client_auth_san!r} in the certificate")
    raise MtlsRefused("client registered without subject DN nor SAN")


def _check_self_signed(client: Any, leaf: x509.Certificate) -> None:
    from ..clock import provider_clock

    now = provider_clock().now()
    if not leaf.not_valid_before_utc.replace(tzinfo=None) <= now \
            <= leaf.not_valid_after_utc.replace(tzinfo=None):
        raise MtlsRefused("certificate outside its validity dates")
    presented = leaf.public_key().public_bytes(serialization.Encoding.DER,
                                               serialization.PublicFormat.SubjectPublicKeyInfo)
    try:
        keys = registered_keys(_client_jwks(client))
    except ValueError as exc:
        raise MtlsRefused(f"client keys unusable: {exc}") from None
    if presented not in keys:
        raise MtlsRefused("certificate key is not one of the client's registered keys")


def _client_jwks(client: Any) -> dict[str, Any]:
    if client.jwks:
        return client.jwks
    if client.jwks_uri:
        from authlib.oauth2.rfc6749.errors import InvalidClientError

        from .client_auth import fetch_jwks

        try:
            return fetch_jwks(client.jwks_uri).as_dict(private=False)
        except InvalidClientError as exc:
            raise ValueError("jwks_uri cannot be read") from exc
    raise ValueError("no jwks nor jwks_uri registered")


# ----------------------------------------------------------------------------- bound tokens
def thumbprint(certificate: x509.Certificate) -> str:
    """RFC 8705 §3.1: base64url (no padding) SHA-256 of the certificate's DER."""
    digest = hashlib.sha256(certificate.public_bytes(serialization.Encoding.DER)).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def request_thumbprint(request: Request) -> str | None:
    """The thumbprint of the certificate this request presented on the listener, or None."""
    if not came_through_listener(request):
        return None
    chain = presented_chain(request)
    return thumbprint(chain[0]) if chain else None


def binds_tokens(client: Any) -> bool:
    return bool(getattr(client, "tls_client_certificate_bound_access_tokens", False))


def confirmation_of(client: Any, request: Request) -> dict[str, str] | None:
    """The ``cnf`` claim for tokens issued to ``client`` on this request (None: unbound)."""
    if not binds_tokens(client):
        return None
    value = request_thumbprint(request)
    return {THUMBPRINT: value} if value else None


def presented_matches(cnf: Any, request: Request) -> bool:
    """True if this request presented the certificate a token is bound to."""
    expected = cnf.get(THUMBPRINT) if isinstance(cnf, dict) else None
    if not isinstance(expected, str) or not expected:
        return False
    presented = request_thumbprint(request)
    return presented is not None and hmac.compare_digest(presented, expected)
