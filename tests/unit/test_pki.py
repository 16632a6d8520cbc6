"""The local TEST authority, the server certificate it issues, the [tls]/[proxy] settings."""

from __future__ import annotations

import ipaddress
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from psc_idp.config import ConfigError, load_settings
from psc_idp.pki import LocalPki
from psc_idp.pki.authority import TLS_SERVER, issue, name, new_key
from psc_idp.pki.outgoing import combined_bundle
from psc_idp.pki.server import generated_server_certificate, server_hosts


def _sans(path: Path) -> set[str]:
    leaf = x509.load_pem_x509_certificates(path.read_bytes())[0]
    names = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return {str(n.value) for n in names}


def test_root_and_issuing_ca_are_made_once_and_private(tmp_path):
    pki = LocalPki(tmp_path / "pki").ensure()
    root = pki.root()
    services = pki.issuing_ca("services")
    assert root.certificate.subject == root.certificate.issuer
    assert "TEST" in root.certificate.subject.rfc4514_string()
    services.certificate.verify_directly_issued_by(root.certificate)
    constraints = services.certificate.extensions.get_extension_for_class(
        x509.BasicConstraints).value
    assert constraints.ca and constraints.path_length == 0
    for key in ("root-ca.key", "services-ca.key"):
        assert stat.S_IMODE((tmp_path / "pki" / key).stat().st_mode) == 0o600
    again = LocalPki(tmp_path / "pki").ensure()
    assert again.root().certificate == root.certificate
    assert again.issuing_ca("services").certificate == services.certificate
    # the general API: another issuing CA (cards, organisations later) under the same root
    cards = again.issuing_ca("cards", "psc-idp TEST cards CA")
    cards.certificate.verify_directly_issued_by(root.certificate)
    with pytest.raises(Exception, match="alphanumeric"):
        again.issuing_ca("../x")


def test_issue_is_general_and_never_outlives_its_issuer(tmp_path):
    pki = LocalPki(tmp_path / "pki")
    services = pki.issuing_ca("services")
    key = new_key("rsa")
    cert = issue(services, name("svc.example"), key.public_key(), lifetime_days=100_000,
                 usage=TLS_SERVER, sans=["svc.example", "10.0.0.1"])
    assert cert.not_valid_after_utc == services.certificate.not_valid_after_utc
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.SERVER_AUTH]
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == ["svc.example"]
    assert sans.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("10.0.0.1")]


def test_server_certificate_covers_the_public_hosts_and_follows_them(tmp_path):
    settings = load_settings({"public_url": "https://psc.example:8443",
                              "wallet_url": "https://wallet.psc.example",
                              "keys_dir": str(tmp_path)}, environ={})
    hosts = server_hosts(settings)
    assert hosts == ["psc.example", "wallet.psc.example", "127.0.0.1", "::1", "localhost"]
    pki = LocalPki.in_keys_dir(tmp_path)
    cert, key = generated_server_certificate(pki, hosts)
    assert _sans(cert) == {"psc.example", "wallet.psc.example", "127.0.0.1", "::1",
                           "localhost"}
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    chain = x509.load_pem_x509_certificates(cert.read_bytes())
    assert len(chain) == 2 and chain[1] == pki.issuing_ca("services").certificate
    first = cert.read_bytes()
    assert generated_server_certificate(pki, hosts)[0].read_bytes() == first  # kept
    generated_server_certificate(pki, ["other.example", *hosts[2:]])
    assert "other.example" in _sans(cert)  # re-issued for the new name


def test_tls_settings_from_the_environment_and_the_https_default(tmp_path):
    on = load_settings(environ={"PSC_IDP_TLS__ENABLED": "1"})
    assert on.tls.enabled and on.public_url == "https://127.0.0.1:5000"
    assert on.issuer == "https://127.0.0.1:5000/auth/realms/esante-wallet"
    off = load_settings(environ={})
    assert not off.tls.enabled and off.public_url.startswith("http://")
    given = load_settings(environ={"PSC_IDP_TLS__ENABLED": "true",
                                   "PSC_IDP_PUBLIC_URL": "https://psc.example"})
    assert given.public_url == "https://psc.example"
    assert load_settings(environ={"PSC_IDP_PROXY__TRUSTED_HOPS": "1"}).proxy.trusted_hops == 1


@pytest.mark.parametrize("overrides, message", [
    ({"tls": {"cert_file": "/nonexistent.crt", "key_file": "/nonexistent.key"}}, "no such file"),
    ({"tls": {"cert_file": "CERT"}}, "go together"),
    ({"tls": {"outgoing_ca_bundle": "/nonexistent.pem"}}, "no such file"),
    ({"proxy": {"trusted_hops": -1}}, "between 0 and 10"),
    ({"proxy": {"trusted_addresses": ["10.0.0.1"]}}, "trusted_hops >= 1"),
    ({"proxy": {"trusted_hops": 1, "trusted_addresses": ["not-an-ip"]}}, "trusted_addresses"),
    ({"tls": {"enabled": "maybe"}}, "expected bool"),
])
def test_bad_tls_and_proxy_settings_stop_the_start(tmp_path, overrides, message):
    cert = tmp_path / "c.pem"
    cert.write_text("x")
    if overrides.get("tls", {}).get("cert_file") == "CERT":
        overrides = {"tls": {"cert_file": str(cert)}}
    with pytest.raises(ConfigError, match=message):
        load_settings(overrides, environ={})


def test_outgoing_bundle_adds_to_the_default_store(tmp_path):
    extra = tmp_path / "rp-ca.pem"
    extra.write_bytes(LocalPki(tmp_path / "rp").root().cert_path.read_bytes())
    combined = Path(combined_bundle(extra, tmp_path / "out"))
    text = combined.read_bytes()
    assert text.count(b"-----BEGIN CERTIFICATE-----") > 10  # the default store is still there
    assert text.endswith(extra.read_bytes())
    assert combined_bundle(extra, tmp_path / "out") == str(combined)
