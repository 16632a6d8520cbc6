"""The real-RP proof of issue 10: Apache httpd with mod_auth_openidc from Debian, configured as
ANS publishes it for PSC (``ansforge/PSC-POC: api-client-side-components/apache2``), signs a
professional in against psc-idp serving TLS itself, with no terminator of its own.

mod_auth_openidc refuses to talk to a provider whose certificate it cannot verify
(``OIDCSSLValidateServer On``), so it is given the local TEST authority's root as
``OIDCCABundlePath``, as ANS gives it its own CA file. Apache itself listens on plain HTTP on
127.0.0.1 (a redirect URI on the loopback address), runs in the foreground from a config file
in a temporary folder (``scripts/ensure-apache`` installs the packages), and is stopped by PID.
The "browser" is a requests session following redirects. Without the CA file the sign-in fails:
the proof that the CA is what makes it work.

ANS's config also authenticates to the token endpoint with a client certificate (mTLS): that
variant is tests/mtls/test_mod_auth_openidc.py (the certificate at the token alias of the
client-certificate listener); here the client secret goes by Basic (mod_auth_openidc's
default, and PSC's).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from psc_idp.admin.clients import upsert_client
from psc_idp.config import ClientSeed
from psc_idp.db import db
from tests.apache import Apache, apaches, browse
from tests.fidelity import tls
from tests.psc_actions import GP

make_tls_live = tls.make_tls_live  # fixture (tests/fidelity/tls.py)

CLIENT_ID, SECRET = "apache-mod-auth-openidc", "apache-secret-0123456789"

# As ANS configures it for PSC (PSC-POC apache2.nomad.tpl), pointed at psc-idp.
OIDC = """\
OIDCHTTPTimeoutShort 10
OIDCProviderMetadataURL {issuer}/.well-known/wallet-openid-configuration
OIDCProviderAuthorizationEndpoint {authorize}
OIDCPKCEMethod S256
OIDCCookieHTTPOnly On
OIDCClientID {client_id}
OIDCClientSecret {secret}
OIDCProviderTokenEndpointAuth client_secret_basic
OIDCAuthRequestParams acr_values=eidas1&login_hint={login_hint}
OIDCRedirectURI http://127.0.0.1:{port}/protected/redirect_uri
OIDCCryptoPassphrase 0123456789-psc-idp-test
OIDCScope "openid scope_all"
OIDCSSLValidateServer On
{ca_line}
OIDCStateTimeout 120
OIDCDefaultURL http://127.0.0.1:{port}/protected/
OIDCSessionInactivityTimeout 1200
OIDCPassClaimsAs both
OIDCInfoHook userinfo id_token access_token_expires session"""


@pytest.fixture
def apache() -> Iterator[Callable[..., Apache]]:
    with apaches() as launcher:
        def start(issuer: str, authorize: str, ca_file: str | None) -> Apache:
            root, port = launcher.folder()
            ca_line = ""
            if ca_file:
                shutil.copy(ca_file, root / "ca.pem")
                ca_line = f'OIDCCABundlePath "{root}/ca.pem"'
            return launcher.run(root, port, OIDC.format(
                issuer=issuer, authorize=authorize, client_id=CLIENT_ID, secret=SECRET,
                login_hint=GP, port=port, ca_line=ca_line))

        yield start


def _register(live: Any, apache_port: int) -> None:
    with live.app.app_context():
        upsert_client(ClientSeed(
            client_id=CLIENT_ID, client_secret=SECRET, test_autologin=True,
            redirect_uris=[f"http://127.0.0.1:{apache_port}/protected/redirect_uri"]),
            live.app.extensions["psc_idp"].settings, source="test")
        db.session.commit()


def test_mod_auth_openidc_signs_in_against_psc_idp_over_tls(make_tls_live, apache, profile):
    live = make_tls_live(fidelity={"profile": profile})
    meta = requests.get(live.issuer + "/.well-known/wallet-openid-configuration", timeout=5,
                        verify=live.ca_file).json()
    rp = apache(live.issuer, meta["authorization_endpoint"], live.ca_file)
    _register(live, rp.port)
    answer, browser = browse(rp, live.ca_file)
    assert answer.status_code == 200, f"{answer.status_code} {answer.text[:300]}\n{rp.error_log}"
    assert answer.text == "signed in\n"
    hops = [r.url.split("?")[0] for r in answer.history]
    assert any(h.startswith(live.base_url) for h in hops), hops  # it went through psc-idp
    info = browser.get(rp.base_url + "/protected/redirect_uri?info=json", timeout=10)
    assert info.status_code == 200, info.text[:300]
    session = info.json()
    assert session["userinfo"]["SubjectNameID"] == GP
    assert session["id_token"]["iss"] == live.issuer
    assert session["id_token"]["acr"] == "eidas1"
    assert session["id_token"]["sub"].endswith(GP)
    assert "Traceback" not in rp.error_log


def test_without_the_ca_file_mod_auth_openidc_refuses_psc_idp(make_tls_live, apache, profile):
    """The same Apache without OIDCCABundlePath: libcurl's default store does not know the
    TEST root, so mod_auth_openidc cannot even read the discovery document."""
    live = make_tls_live(fidelity={"profile": profile})
    meta = requests.get(live.issuer + "/.well-known/wallet-openid-configuration", timeout=5,
                        verify=live.ca_file).json()
    rp = apache(live.issuer, meta["authorization_endpoint"], None)
    _register(live, rp.port)
    answer, _ = browse(rp, live.ca_file)
    assert answer.status_code != 200 and answer.text != "signed in\n"
    assert not any(r.url.startswith(live.base_url) for r in answer.history)
    log = rp.error_log
    assert "SSL certificate problem" in log and "could not retrieve metadata" in log, log[-2000:]
