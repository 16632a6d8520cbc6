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

import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from psc_idp.admin.clients import upsert_client
from psc_idp.config import ClientSeed
from psc_idp.db import db
from tests.conftest import free_port
from tests.fidelity import tls
from tests.psc_actions import GP

make_tls_live = tls.make_tls_live  # fixture (tests/fidelity/tls.py)

APACHE = "/usr/sbin/apache2"
MODULES = "/usr/lib/apache2/modules"
CLIENT_ID, SECRET = "apache-mod-auth-openidc", "apache-secret-0123456789"

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

# As ANS configures it for PSC (PSC-POC apache2.nomad.tpl), pointed at psc-idp.
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
OIDCInfoHook userinfo id_token access_token_expires session

<Location /protected>
    AuthType openid-connect
    Require valid-user
</Location>
"""


class Apache:
    """apache2 in the foreground from its own config; ``stop()`` ends it by PID."""

    def __init__(self, root: Path, port: int, proc: subprocess.Popen[bytes]):
        self.root, self.port, self.proc = root, port, proc
        self.base_url = f"http://127.0.0.1:{port}"

    @property
    def error_log(self) -> str:
        path = self.root / "error.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # the parent stops its children
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        if self.proc.stderr:
            self.proc.stderr.close()


@pytest.fixture
def apache() -> Iterator[Callable[..., Apache]]:
    if not (os.path.exists(APACHE) and os.path.exists(f"{MODULES}/mod_auth_openidc.so")):
        pytest.fail("apache2 / mod_auth_openidc are missing: run scripts/ensure-apache")
    started: list[Apache] = []
    folders: list[Path] = []

    def start(issuer: str, authorize: str, ca_file: str | None) -> Apache:
        # Apache's children run as nobody when started by root: a folder they can read.
        root = Path(tempfile.mkdtemp(prefix="psc-idp-apache-"))
        folders.append(root)
        root.chmod(0o755)
        (root / "www" / "protected").mkdir(parents=True)
        (root / "www" / "protected" / "index.html").write_text("signed in\n")
        ca_line = ""
        if ca_file:
            shutil.copy(ca_file, root / "ca.pem")
            ca_line = f'OIDCCABundlePath "{root}/ca.pem"'
        user = ""
        if os.geteuid() == 0:
            nobody = pwd.getpwnam("nobody")
            user = f"User #{nobody.pw_uid}\nGroup #{nobody.pw_gid}"
        port = free_port()
        (root / "httpd.conf").write_text(CONFIG.format(
            root=root, port=port, user=user, modules=MODULES, issuer=issuer,
            authorize=authorize, client_id=CLIENT_ID, secret=SECRET, login_hint=GP,
            ca_line=ca_line))
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


def _register(live: Any, apache_port: int) -> None:
    with live.app.app_context():
        upsert_client(ClientSeed(
            client_id=CLIENT_ID, client_secret=SECRET, test_autologin=True,
            redirect_uris=[f"http://127.0.0.1:{apache_port}/protected/redirect_uri"]),
            live.app.extensions["psc_idp"].settings, source="test")
        db.session.commit()


def _sign_in(apache: Apache, ca_file: str) -> tuple[requests.Response, requests.Session]:
    """The browser: the protected page, PSC's authorize (autologin by login_hint), back to
    Apache with the code; Apache redeems it over https and lets the browser in."""
    browser = requests.Session()
    browser.trust_env = False  # else REQUESTS_CA_BUNDLE, if set, wins over .verify
    browser.verify = ca_file  # the browser reaches psc-idp over https too
    return browser.get(apache.base_url + "/protected/index.html", timeout=30), browser


def test_mod_auth_openidc_signs_in_against_psc_idp_over_tls(make_tls_live, apache, profile):
    live = make_tls_live(fidelity={"profile": profile})
    meta = requests.get(live.issuer + "/.well-known/wallet-openid-configuration", timeout=5,
                        verify=live.ca_file).json()
    rp = apache(live.issuer, meta["authorization_endpoint"], live.ca_file)
    _register(live, rp.port)
    answer, browser = _sign_in(rp, live.ca_file)
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
    answer, _ = _sign_in(rp, live.ca_file)
    assert answer.status_code != 200 and answer.text != "signed in\n"
    assert not any(r.url.startswith(live.base_url) for r in answer.history)
    log = rp.error_log
    assert "SSL certificate problem" in log and "could not retrieve metadata" in log, log[-2000:]
