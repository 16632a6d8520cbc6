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

import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests

from psc_idp.audit.trail import AuditEvent
from psc_idp.db import db
from tests.conftest import free_port
from tests.fidelity.test_mod_auth_openidc import APACHE, MODULES, Apache
from tests.psc_actions import GP

from .conftest import ORGANISATION, MtlsLive

CLIENT_ID = "apache-mtls"

CONFIG = """\
ServerRoot "{root}"
ServerName 127.0.0.1
Listen 127.0.0.1:{port}
PidFile "{root}/httpd.pid"
DefaultRuntimeDir "{root}"
ErrorLog "{root}/error.log"
LogLevel warn auth_openidc:info
{user}
LoadModule mpm_event_module {modules}/mod_mpm_event.so
LoadModule authz_core_module {modules}/mod_authz_core.so
LoadModule authz_user_module {modules}/mod_authz_user.so
LoadModule authn_core_module {modules}/mod_authn_core.so
LoadModule auth_openidc_module {modules}/mod_auth_openidc.so
DocumentRoot "{root}/www"
<Directory "{root}/www">
    Require all granted
</Directory>

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
OIDCInfoHook userinfo id_token session

<Location /protected>
    AuthType openid-connect
    Require valid-user
</Location>
"""


@pytest.fixture
def mtls_apache() -> Iterator[Callable[..., Apache]]:
    if not (os.path.exists(APACHE) and os.path.exists(f"{MODULES}/mod_auth_openidc.so")):
        pytest.fail("apache2 / mod_auth_openidc are missing: run scripts/ensure-apache")
    started: list[Apache] = []
    folders: list[Path] = []

    def start(env: MtlsLive, certificate: tuple[Path, Path] | None) -> Apache:
        root = Path(tempfile.mkdtemp(prefix="psc-idp-apache-mtls-"))
        folders.append(root)
        root.chmod(0o755)
        (root / "www" / "protected").mkdir(parents=True)
        (root / "www" / "protected" / "index.html").write_text("signed in\n")
        shutil.copy(env.root_file, root / "ca.pem")
        cert_lines = ""
        if certificate is not None:
            shutil.copy(certificate[0], root / "client.crt")
            shutil.copy(certificate[1], root / "client.key")
            (root / "client.key").chmod(0o644)  # Apache's children (nobody) read it
            cert_lines = (f'OIDCClientTokenEndpointCert "{root}/client.crt"\n'
                          f'OIDCClientTokenEndpointKey "{root}/client.key"')
        user = ""
        if os.geteuid() == 0:
            nobody = pwd.getpwnam("nobody")
            user = f"User #{nobody.pw_uid}\nGroup #{nobody.pw_gid}"
        port = free_port()
        meta = env.metadata
        (root / "httpd.conf").write_text(CONFIG.format(
            root=root, port=port, user=user, modules=MODULES, issuer=env.live.issuer,
            authorize=meta["authorization_endpoint"], token_alias=env.alias("token_endpoint"),
            cert_lines=cert_lines, client_id=CLIENT_ID, login_hint=GP))
        proc = subprocess.Popen([APACHE, "-f", str(root / "httpd.conf"), "-DFOREGROUND"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        server = Apache(root, port, proc)
        started.append(server)
        for _ in range(100):
            try:
                requests.get(server.base_url + "/", timeout=1)
                return server
            except requests.ConnectionError:
                if proc.poll() is not None:
                    stderr = proc.stderr.read().decode() if proc.stderr else ""
                    pytest.fail(f"apache2 did not start: {stderr}\n{server.error_log}")
                time.sleep(0.05)
        pytest.fail(f"apache2 did not answer on {server.base_url}\n{server.error_log}")

    yield start
    for server in started:
        server.stop()
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)


def _setup(env: MtlsLive, rp: Apache) -> None:
    env.register(client_id=CLIENT_ID, auth_method="tls_client_auth", test_autologin=True,
                 tls_client_auth_subject_dn=f"CN={CLIENT_ID},O={ORGANISATION},C=FR",
                 redirect_uris=[f"http://127.0.0.1:{rp.port}/protected/redirect_uri"])


def _browse(rp: Apache) -> tuple[requests.Response, requests.Session]:
    browser = requests.Session()
    browser.trust_env = False  # else REQUESTS_CA_BUNDLE wins over .verify
    browser.verify = str(rp.root / "ca.pem")  # psc-idp serves https
    return browser.get(rp.base_url + "/protected/index.html", timeout=30), browser


def test_mod_auth_openidc_redeems_the_code_with_its_certificate(mtls_live, mtls_apache):
    env = mtls_live(tls=True)
    certificate = env.software_certificate(CLIENT_ID)
    rp = mtls_apache(env, (certificate.cert_file, certificate.key_file))
    _setup(env, rp)
    answer, browser = _browse(rp)
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
    answer, _ = _browse(rp)
    assert answer.text != "signed in\n"
    with env.app.app_context():
        refused = db.session.scalars(db.select(AuditEvent).where(
            AuditEvent.event == "token.refused", AuditEvent.client_id == CLIENT_ID)).all()
    assert any(r.details.get("reason") == "no client certificate in the TLS handshake"
               for r in refused), [r.details for r in refused]
    assert "unauthorized_client" in rp.error_log or "Invalid client" in rp.error_log, \
        rp.error_log[-2000:]
