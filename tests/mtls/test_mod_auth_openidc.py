"""ANS's real RP side of mTLS: Apache httpd with Debian's mod_auth_openidc, configured as
``ansforge/PSC-POC`` does ("mTLS avec PSC": ``OIDCClientTokenEndpointCert/Key``), redeems the
code at the token endpoint's mTLS alias with an IGC-Santé software certificate issued by
``psc-idp pki issue-software-cert``'s function, for a client registered ``tls_client_auth``.

mod_auth_openidc 2.4.12 (Debian 12) has no ``tls_client_auth`` method name: it presents the
certificate with ``OIDCProviderTokenEndpointAuth none`` (``client_id`` in the body), and reads
the token endpoint from ``OIDCProviderTokenEndpoint`` (it does not read
``mtls_endpoint_aliases``), so the alias is configured as ANS configures endpoints by hand.
The same Apache without the certificate is refused: the certificate is what signs in.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from psc_idp.audit.trail import AuditEvent
from psc_idp.db import db
from tests.apache import Apache, apaches, browse
from tests.psc_actions import GP

from .conftest import ORGANISATION, MtlsLive

CLIENT_ID = "apache-mtls"

OIDC = """\
OIDCHTTPTimeoutShort 10
OIDCProviderMetadataURL {issuer}/.well-known/wallet-openid-configuration
OIDCProviderAuthorizationEndpoint {authorize}
OIDCProviderTokenEndpoint {token_alias}
OIDCProviderTokenEndpointAuth none
{cert_lines}
OIDCPKCEMethod S256
OIDCClientID {client_id}
OIDCAuthRequestParams acr_values=eidas1&login_hint={login_hint}
OIDCRedirectURI http://127.0.0.1:{port}/protected/redirect_uri
OIDCCryptoPassphrase 0123456789-psc-idp-test
OIDCScope "openid scope_all"
OIDCSSLValidateServer On
OIDCCABundlePath "{root}/ca.pem"
OIDCStateTimeout 120
OIDCPassClaimsAs both
OIDCInfoHook userinfo id_token session"""


@pytest.fixture
def mtls_apache() -> Iterator[Callable[..., Apache]]:
    with apaches() as launcher:
        def start(env: MtlsLive, certificate: tuple[Path, Path] | None) -> Apache:
            root, port = launcher.folder("psc-idp-apache-mtls-")
            shutil.copy(env.root_file, root / "ca.pem")
            cert_lines = ""
            if certificate is not None:
                shutil.copy(certificate[0], root / "client.crt")
                shutil.copy(certificate[1], root / "client.key")
                (root / "client.key").chmod(0o644)  # Apache's children (nobody) read it
                cert_lines = (f'OIDCClientTokenEndpointCert "{root}/client.crt"\n'
                              f'OIDCClientTokenEndpointKey "{root}/client.key"')
            meta = env.metadata
            return launcher.run(root, port, OIDC.format(
                root=root, port=port, issuer=env.live.issuer,
                authorize=meta["authorization_endpoint"], token_alias=env.alias("token_endpoint"),
                cert_lines=cert_lines, client_id=CLIENT_ID, login_hint=GP))

        yield start


def _setup(env: MtlsLive, rp: Apache) -> None:
    env.register(client_id=CLIENT_ID, auth_method="tls_client_auth", test_autologin=True,
                 tls_client_auth_subject_dn=f"CN={CLIENT_ID},O={ORGANISATION},C=FR",
                 redirect_uris=[f"http://127.0.0.1:{rp.port}/protected/redirect_uri"])


def test_mod_auth_openidc_redeems_the_code_with_its_certificate(mtls_live, mtls_apache):
    env = mtls_live(tls=True)
    certificate = env.software_certificate(CLIENT_ID)
    rp = mtls_apache(env, (certificate.cert_file, certificate.key_file))
    _setup(env, rp)
    answer, browser = browse(rp, str(rp.root / "ca.pem"))
    assert answer.status_code == 200, f"{answer.status_code} {answer.text[:300]}\n{rp.error_log}"
    assert answer.text == "signed in\n"
    info = browser.get(rp.base_url + "/protected/redirect_uri?info=json", timeout=10).json()
    assert info["userinfo"]["SubjectNameID"] == GP
    assert info["id_token"]["aud"] == CLIENT_ID
    with env.app.app_context():  # the tokens were issued to the certificate's client
        issued = db.session.scalars(db.select(AuditEvent).where(
            AuditEvent.event == "token.issued", AuditEvent.client_id == CLIENT_ID)).all()
    assert len(issued) == 1


def test_mod_auth_openidc_without_its_certificate_is_refused(mtls_live, mtls_apache):
    env = mtls_live(tls=True)
    rp = mtls_apache(env, None)
    _setup(env, rp)
    answer, _ = browse(rp, str(rp.root / "ca.pem"))
    assert answer.text != "signed in\n"
    with env.app.app_context():
        refused = db.session.scalars(db.select(AuditEvent).where(
            AuditEvent.event == "token.refused", AuditEvent.client_id == CLIENT_ID)).all()
    assert any(r.details.get("reason") == "no client certificate in the TLS handshake"
               for r in refused), [r.details for r in refused]
    assert "unauthorized_client" in rp.error_log or "Invalid client" in rp.error_log, \
        rp.error_log[-2000:]
