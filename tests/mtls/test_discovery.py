"""RFC 8705 §5 in discovery: ``mtls_endpoint_aliases`` on the listener's base URL, bound
tokens, and the certificate methods each profile advertises."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
import requests

ALIASED = ("token_endpoint", "revocation_endpoint", "introspection_endpoint",
           "userinfo_endpoint", "backchannel_authentication_endpoint")


@pytest.mark.one_backend
def test_aliases_name_the_listener(mtls_live, profile):
    env = mtls_live(profile)
    doc = env.psc.metadata
    aliases = doc["mtls_endpoint_aliases"]
    assert set(aliases) == set(ALIASED)
    for name in ALIASED:
        assert aliases[name] == env.base + urlsplit(doc[name]).path
    assert doc["tls_client_certificate_bound_access_tokens"] is True
    methods = doc["token_endpoint_auth_methods_supported"]
    assert "tls_client_auth" in methods
    assert ("self_signed_tls_client_auth" in methods) is (profile == "strict")
    for key in ("introspection_endpoint_auth_methods_supported",
                "revocation_endpoint_auth_methods_supported"):
        assert doc[key] == methods
    # the alias serves the same discovery (the listener serves the whole provider)
    over_tls = requests.get(env.base + urlsplit(env.psc.issuer).path +
                            "/.well-known/openid-configuration", timeout=10,
                            verify=str(env.root_file))
    assert over_tls.json()["mtls_endpoint_aliases"] == aliases


@pytest.mark.one_backend
def test_no_aliases_without_the_listener(make_live):
    live = make_live(mtls={"enabled": False})
    doc = requests.get(live.issuer + "/.well-known/wallet-openid-configuration",
                       timeout=10).json()
    assert "mtls_endpoint_aliases" not in doc
    assert "tls_client_auth" not in doc["token_endpoint_auth_methods_supported"]
    assert "tls_client_certificate_bound_access_tokens" not in doc
