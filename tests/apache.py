"""The real relying party both Apache tests drive: Debian's apache2 with mod_auth_openidc, run
in the foreground from a config file in a temporary folder and stopped by PID.

Only the ``OIDC...`` directives differ between the tests (client secret over TLS in
tests/fidelity, client certificate at the mTLS alias in tests/mtls): they hand them to
``ApacheLauncher.run``; the server part, the protected page and the start/stop are here.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from tests.conftest import free_port

APACHE = "/usr/sbin/apache2"
MODULES = "/usr/lib/apache2/modules"

SERVER = """\
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

{oidc}

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


class ApacheLauncher:
    """Makes the folders and starts the servers of one test; ``apaches()`` cleans up."""

    def __init__(self) -> None:
        self.started: list[Apache] = []
        self.folders: list[Path] = []

    def folder(self, prefix: str = "psc-idp-apache-") -> tuple[Path, int]:
        """A server root with the protected page, and the port it will listen on. Apache's
        children run as nobody when started by root: a folder they can read."""
        root = Path(tempfile.mkdtemp(prefix=prefix))
        self.folders.append(root)
        root.chmod(0o755)
        (root / "www" / "protected").mkdir(parents=True)
        (root / "www" / "protected" / "index.html").write_text("signed in\n")
        return root, free_port()

    def run(self, root: Path, port: int, oidc: str) -> Apache:
        """Writes httpd.conf (the server part here, ``oidc`` the test's directives), starts
        apache2 and waits until it answers."""
        user = ""
        if os.geteuid() == 0:
            nobody = pwd.getpwnam("nobody")
            user = f"User #{nobody.pw_uid}\nGroup #{nobody.pw_gid}"
        (root / "httpd.conf").write_text(SERVER.format(root=root, port=port, user=user,
                                                       modules=MODULES, oidc=oidc))
        proc = subprocess.Popen([APACHE, "-f", str(root / "httpd.conf"), "-DFOREGROUND"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        server = Apache(root, port, proc)
        self.started.append(server)
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


@contextmanager
def apaches() -> Iterator[ApacheLauncher]:
    """A launcher whose servers are stopped and folders removed at the end; fails the test
    at once when apache2 or the module is not installed."""
    if not (os.path.exists(APACHE) and os.path.exists(f"{MODULES}/mod_auth_openidc.so")):
        pytest.fail("apache2 / mod_auth_openidc are missing: run scripts/ensure-apache")
    launcher = ApacheLauncher()
    try:
        yield launcher
    finally:
        for server in launcher.started:
            server.stop()
        for folder in launcher.folders:
            shutil.rmtree(folder, ignore_errors=True)


def browse(rp: Apache, ca_file: str) -> tuple[requests.Response, requests.Session]:
    """The browser: the protected page, PSC's authorize (autologin by login_hint), back to
    Apache with the code; Apache redeems it over https and lets the browser in."""
    browser = requests.Session()
    browser.trust_env = False  # else REQUESTS_CA_BUNDLE, if set, wins over .verify
    browser.verify = ca_file  # the browser reaches psc-idp over https too
    return browser.get(rp.base_url + "/protected/index.html", timeout=30), browser
