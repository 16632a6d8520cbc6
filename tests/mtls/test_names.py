"""How registered names are read and compared (RFC 4514 DNs, the four SAN types, JWKS from
certificates): the rules ``tls_client_auth`` applies, on real X.509 certificates."""

from __future__ import annotations

import datetime as dt
import ipaddress

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from psc_idp.oidc.mtls_auth import (
    dn_matches,
    jwks_from_file,
    parse_san,
    parse_subject_dn,
    registered_keys,
    san_matches,
    thumbprint,
)


@pytest.fixture(scope="module")
def certificate() -> x509.Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "FR"),
                         x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Clinique  du Parc"),
                         x509.NameAttribute(NameOID.COMMON_NAME, "rp-1")])
    now = dt.datetime.now(dt.UTC)
    sans = [x509.DNSName("rp.example.fr"), x509.UniformResourceIdentifier("https://rp.example/id"),
            x509.IPAddress(ipaddress.ip_address("2001:db8::1")),
            x509.RFC822Name("Admin@Clinique.fr")]
    return (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(7).not_valid_before(now)
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .sign(key, hashes.SHA256()))


@pytest.mark.parametrize("registered, expected", [
    ("CN=rp-1,O=Clinique du Parc,C=FR", True),
    ("cn=RP-1, o=clinique du parc, c=fr", True),   # case and spaces folded
    ("CN=rp-1,O=Clinique du Parc", False),          # an attribute missing
    ("C=FR,O=Clinique du Parc,CN=rp-1", False),     # RDN order matters
    ("CN=rp-2,O=Clinique du Parc,C=FR", False),
])
def test_subject_dn(certificate, registered, expected):
    assert dn_matches(registered, certificate.subject) is expected


@pytest.mark.parametrize("registered, expected", [
    ("dns:RP.example.fr.", True), ("dns:other.example.fr", False),
    ("uri:https://rp.example/id", True), ("uri:https://rp.example/ID", False),
    ("ip:2001:0db8:0:0:0:0:0:1", True), ("ip:192.0.2.1", False),
    ("email:admin@clinique.fr", True), ("email:other@clinique.fr", False),
])
def test_san(certificate, registered, expected):
    assert san_matches(registered, certificate) is expected


@pytest.mark.parametrize("text", ["", "CN=", "X=1", "just words"])
def test_bad_dns(text):
    with pytest.raises(ValueError):
        parse_subject_dn(text)


@pytest.mark.parametrize("text", ["rp.example", "ftp:rp", "dns:", "dns:a b", "ip:300.1.1.1",
                                  "email:nobody", "uri:no-scheme"])
def test_bad_sans(text):
    with pytest.raises(ValueError):
        parse_san(text)


def test_certificate_as_jwks(certificate):
    pem = certificate.public_bytes(serialization.Encoding.PEM).decode()
    jwks = jwks_from_file(pem)
    (jwk,) = jwks["keys"]
    assert jwk["kty"] == "EC" and jwk["x5t#S256"] == thumbprint(certificate)
    spki = certificate.public_key().public_bytes(serialization.Encoding.DER,
                                                 serialization.PublicFormat.SubjectPublicKeyInfo)
    assert registered_keys(jwks) == [spki]
    assert jwks_from_file(__import__("json").dumps(jwk))["keys"][0]["x"] == jwk["x"]
    with pytest.raises(ValueError):
        jwks_from_file('{"keys": "no"}')
