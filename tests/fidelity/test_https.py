"""HTTPS without a terminator of the RP's own (issue 10, item 3): psc-idp serves TLS itself with
a certificate from its local TEST authority, RPs trust that root, a reverse proxy's forwarded
headers count only from configured hops, and psc-idp's own outgoing calls trust an RP's CA when
told to. HTTPS behaves the same in both fidelity profiles: each test runs in both and asserts the
same thing.
"""

from __future__ import annotations

import os
import re
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography import x509
from flask import Flask, request

from psc_idp.db import db
from psc_idp.proxy import TrustedProxyFix
from tests.conftest import free_port
from tests.fidelity import tls
from tests.psc_actions import GP, PscActions
from tests.served import free_demo_port, stop_process

make_tls_live = tls.make_tls_live  # fixtures (tests/fidelity/tls.py)
other_ca = tls.other_ca

PSC_IDP = Path(sys.executable).with_name("psc-idp")


def _secure_psc(live: Any, monkeypatch: pytest.MonkeyPatch) -> PscActions:
    """PscActions with every requests call trusting the local authority (the browser session,
    and the plain requests.get of discovery and JWKS through REQUESTS_CA_BUNDLE)."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", live.ca_file)
    psc = PscActions(live.issuer)
    psc.browser.verify = live.ca_file
    return psc


# ----------------------------------------------------------------------------- serving TLS
@pytest.mark.one_backend
def test_a_real_tls_handshake_with_the_local_authority(make_tls_live, profile):
    live = make_tls_live(fidelity={"profile": profile})
    context = ssl.create_default_context(cafile=live.ca_file)
    with socket.create_connection(("127.0.0.1", live.port), timeout=5) as raw, \
            context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
        assert tls.version() in ("TLSv1.2", "TLSv1.3")
        leaf = x509.load_der_x509_certificate(tls.getpeercert(binary_form=True))
    names = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert {str(v) for v in names.get_values_for_type(x509.IPAddress)} >= {"127.0.0.1"}
    assert "localhost" in names.get_values_for_type(x509.DNSName)
    assert "TEST" in leaf.issuer.rfc4514_string()


@pytest.mark.one_backend
def test_an_untrusted_ca_fails_the_handshake(make_tls_live, other_ca, profile):
    live = make_tls_live(fidelity={"profile": profile})
    discovery = live.issuer + "/.well-known/wallet-openid-configuration"
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(discovery, timeout=5, verify=other_ca.ca_file)
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(discovery, timeout=5)  # the default store does not know a TEST root
    context = ssl.create_default_context(cafile=other_ca.ca_file)
    with socket.create_connection(("127.0.0.1", live.port), timeout=5) as raw, \
            pytest.raises(ssl.SSLCertVerificationError):
        context.wrap_socket(raw, server_hostname="127.0.0.1")
    assert requests.get(discovery, timeout=5, verify=live.ca_file).status_code == 200


@pytest.mark.one_backend
def test_discovery_advertises_https_endpoints(make_tls_live, profile):
    live = make_tls_live(fidelity={"profile": profile})
    for name in ("wallet-openid-configuration", "openid-configuration"):
        meta = requests.get(f"{live.issuer}/.well-known/{name}", timeout=5,
                            verify=live.ca_file).json()
        assert meta["issuer"] == live.issuer and live.issuer.startswith("https://")
        urls = [v for k, v in meta.items() if k.endswith(("_endpoint", "_uri"))
                and isinstance(v, str)]
        assert len(urls) >= 5
        assert all(u.startswith("https://127.0.0.1:") for u in urls), urls


@pytest.mark.one_backend
def test_a_full_code_flow_over_https(make_tls_live, profile, monkeypatch):
    """Authlib's OAuth2Session (RP) and a requests session (browser) trusting the root:
    authorize, persona, code, token, userinfo, ID token verified with the JWKS (which carries
    x5c); the IdP session cookie is Secure since the request came over https."""
    live = make_tls_live(fidelity={"profile": profile})
    psc = _secure_psc(live, monkeypatch)
    rp = psc.client()
    rp.verify = live.ca_file
    start = psc.start(rp)
    page = psc.open(start.url)
    assert page.status_code == 200
    done = psc.pick_persona(page)
    assert done.status_code == 302
    cookie = next(c for c in done.raw.headers.getlist("Set-Cookie")
                  if c.startswith("PSC_IDP_SESSION="))
    assert re.search(r";\s*Secure", cookie, re.I), cookie
    token = psc.tokens(rp, start, done.headers["Location"])
    claims = psc.verify(token["id_token"])
    assert claims["iss"] == live.issuer and claims["nonce"] == start.nonce
    info = rp.get(psc.metadata["userinfo_endpoint"])
    assert info.status_code == 200 and info.json()["SubjectNameID"] == GP
    jwks = requests.get(psc.metadata["jwks_uri"], timeout=5, verify=live.ca_file).json()
    assert all(k.get("x5c") for k in jwks["keys"])


# ----------------------------------------------------------------------------- reverse proxy
def _echo() -> Flask:
    app = Flask("echo")

    @app.get("/")
    def echo() -> dict[str, Any]:
        return {"scheme": request.scheme, "host": request.host, "ip": request.remote_addr,
                "secure": request.is_secure, "url": request.url}

    return app


FORGED = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "evil.example",
          "X-Forwarded-For": "203.0.113.9"}


@pytest.mark.parametrize("hops, addresses, peer, believed", [
    (0, [], "127.0.0.1", False),                      # the default: nobody is believed
    (1, [], "127.0.0.1", True),                       # one proxy in front, any peer
    (1, ["10.0.0.0/8"], "10.1.2.3", True),            # the proxy is the peer
    (1, ["10.0.0.0/8"], "127.0.0.1", False),          # someone else sent the same headers
])
def test_forwarded_headers_count_only_from_trusted_hops(hops, addresses, peer, believed):
    app = _echo()
    if hops:
        app.wsgi_app = TrustedProxyFix(app.wsgi_app, hops, addresses)  # type: ignore[method-assign]
    seen = app.test_client().get("/", headers=FORGED,
                                 environ_base={"REMOTE_ADDR": peer}).get_json()
    if believed:
        assert seen == {"scheme": "https", "host": "evil.example", "ip": "203.0.113.9",
                        "secure": True, "url": "https://evil.example/"}
    else:
        assert seen["scheme"] == "http" and seen["ip"] == peer and not seen["secure"]
        assert seen["host"] == "localhost"


def _login_with_headers(live: Any, headers: dict[str, str]) -> tuple[str, str]:
    """A persona login over plain HTTP with ``headers`` on every browser request: the
    session cookie as set, and the address the audit trail recorded."""
    from psc_idp.audit import AuditEvent

    psc = PscActions(live.issuer)
    psc.browser.headers.update(headers)
    start = psc.start(psc.client())
    done = psc.pick_persona(psc.open(start.url))
    cookie = next(c for c in done.raw.headers.getlist("Set-Cookie")
                  if c.startswith("PSC_IDP_SESSION="))
    with live.app.app_context():
        row = db.session.scalars(db.select(AuditEvent).where(AuditEvent.ip != "")
                                 .order_by(AuditEvent.id.desc())).first()
        ip = row.ip if row else ""
    meta = requests.get(live.issuer + "/.well-known/openid-configuration", timeout=5,
                        headers=headers).json()
    assert meta["issuer"] == live.issuer  # the issuer never follows forwarded headers
    return cookie, ip


@pytest.mark.one_backend
def test_the_provider_ignores_forged_forwarded_headers_by_default(make_live, profile):
    live = make_live(fidelity={"profile": profile})
    cookie, ip = _login_with_headers(live, FORGED)
    assert not re.search(r";\s*Secure", cookie, re.I) and ip == "127.0.0.1"


@pytest.mark.one_backend
def test_the_provider_believes_its_trusted_proxy(make_live, profile):
    live = make_live(fidelity={"profile": profile}, proxy={"trusted_hops": 1,
                                                          "trusted_addresses": ["127.0.0.1"]})
    cookie, ip = _login_with_headers(live, FORGED)
    assert re.search(r";\s*Secure", cookie, re.I) and ip == "203.0.113.9"


@pytest.mark.one_backend
def test_a_proxy_at_another_address_is_not_believed(make_live, profile):
    live = make_live(fidelity={"profile": profile}, proxy={"trusted_hops": 1,
                                                          "trusted_addresses": ["10.0.0.5"]})
    cookie, ip = _login_with_headers(live, FORGED)
    assert not re.search(r";\s*Secure", cookie, re.I) and ip == "127.0.0.1"


# ----------------------------------------------------------------------------- outgoing calls
def _rp_endpoints(jwks: dict[str, Any]) -> tuple[Flask, list[str]]:
    received: list[str] = []
    app = Flask("rp")

    @app.post("/backchannel-logout")
    def logout() -> tuple[str, int]:
        received.append("logout:" + request.form.get("logout_token", "")[:10])
        return "", 200

    @app.post("/push")
    def push() -> tuple[str, int]:
        received.append("push")
        return "", 204

    @app.get("/jwks")
    def keys() -> dict[str, Any]:
        received.append("jwks")
        return jwks

    return app, received


@pytest.mark.one_backend
@pytest.mark.parametrize("trusted", [False, True], ids=["no-bundle", "rp-ca-bundle"])
def test_outgoing_calls_trust_the_rp_ca_only_when_given(make_app, other_ca, profile, trusted):
    """Back-channel logout, push-gateway webhook and jwks_uri fetch to an RP serving a
    certificate from its own test CA: refused with the default store, delivered with
    ``[tls] outgoing_ca_bundle``."""
    from authlib.oauth2.rfc6749.errors import InvalidClientError

    from psc_idp.credentials import webhooks
    from psc_idp.oidc import client_auth
    from psc_idp.sessions.backchannel import _post

    tls = {"outgoing_ca_bundle": other_ca.ca_file} if trusted else {}
    app = make_app(demo=False, fidelity={"profile": profile}, tls=tls)
    rp_app, received = _rp_endpoints(app.extensions["psc_idp"].keys.jwks())
    rp = other_ca.serve(rp_app)
    try:
        with app.test_request_context():
            error = _post(rp.base_url + "/backchannel-logout", "eyJ.logout.token", 5)
            client_auth._jwks_cache.clear()
            try:
                client_auth.fetch_jwks(rp.base_url + "/jwks")
                fetched = True
            except InvalidClientError:
                fetched = False
        webhooks._deliver(app, rp.base_url + "/push",
                          {"challenge_id": "c1", "device_id": "d1"}, GP, "svc")
    finally:
        rp.stop()
        client_auth._jwks_cache.clear()
    if trusted:
        assert error == "" and fetched
        assert received == ["logout:eyJ.logout", "jwks", "push"]
    else:
        assert error.startswith("SSLError") and not fetched and received == []


# ----------------------------------------------------------------------------- gunicorn
@pytest.mark.one_backend
def test_psc_idp_serve_with_gunicorn_speaks_tls(backend, make_app, tmp_path):
    """``psc-idp serve --tls --workers 1``: gunicorn serves the certificate the local
    authority issued at ``init``; discovery is https; the CA is what ``pki show`` prints."""
    make_app(demo=False)  # schema migrated, tables emptied on this backend
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PSC_IDP_")}
    env.pop("REQUESTS_CA_BUNDLE", None)
    env.update({"PSC_IDP_DATABASE_URL": backend[1], "PSC_IDP_KEYS_DIR": str(tmp_path / "keys"),
                "PSC_IDP_INSTANCE_DIR": str(tmp_path), "PSC_IDP_MODE": "test",
                "PSC_IDP_LOG_LEVEL": "WARNING", "PSC_IDP_SERVER__PORT": str(port),
                "PSC_IDP_SERVER__THREADS": "4",
                "XDG_RUNTIME_DIR": str(tmp_path)})
    shown = subprocess.run([str(PSC_IDP), "pki", "show"], env={**env,
                           "PSC_IDP_TLS__ENABLED": "1"}, capture_output=True, text=True,
                           timeout=60, cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    import json

    paths = json.loads(shown.stdout)
    ca_file = paths["root_ca"]
    assert Path(ca_file).exists() and Path(paths["server_cert"]).exists()
    log = tmp_path / "serve.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([str(PSC_IDP), "serve", "--tls", "--workers", "1"], env=env,
                                stdout=out, stderr=subprocess.STDOUT, text=True, cwd=tmp_path)
    issuer = f"https://127.0.0.1:{port}/auth/realms/esante-wallet"
    try:
        meta = None
        for _ in range(150):
            try:
                meta = requests.get(issuer + "/.well-known/wallet-openid-configuration",
                                    timeout=2, verify=ca_file).json()
                break
            except requests.ConnectionError:
                assert proc.poll() is None, log.read_text()
                time.sleep(0.2)
        assert meta is not None and meta["issuer"] == issuer, log.read_text()
        assert meta["token_endpoint"].startswith("https://")
        with pytest.raises(requests.exceptions.SSLError):
            requests.get(issuer + "/.well-known/openid-configuration", timeout=5)
    finally:
        stop_process(proc, timeout=20)
    text = log.read_text()
    assert "https://127.0.0.1" in text and "trust CA" in text, text
    assert "Traceback" not in text, text


# ----------------------------------------------------------------------------- the demo
def test_the_demo_over_https_signs_in_through_the_demo_service(tmp_path):
    """``psc-idp demo --tls`` (``scripts/run --https``): the provider on https, the demo
    service (plain http, as before) trusting the local authority for its back-channel calls
    (discovery, token, JWKS, userinfo), a persona signed in end to end; the e-CPS app is up
    on the https provider."""
    port = free_demo_port()  # its card reader and card listener follow it
    rp1, rp2, phone = (free_port() for _ in range(3))
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PSC_IDP_", "PSC_DEMO_RP_", "ECPS_APP_"))}
    env.pop("REQUESTS_CA_BUNDLE", None)
    # PSC_IDP_HOME: the demo cards go there, not into the checkout's cards/ folder
    env.update({"PSC_IDP_DATABASE_URL": f"sqlite:///{tmp_path}/demo.db",
                "PSC_IDP_HOME": str(tmp_path),
                "PSC_IDP_KEYS_DIR": str(tmp_path / "keys"), "PSC_IDP_INSTANCE_DIR": str(tmp_path),
                "PSC_IDP_DEMO_RP_URL": f"http://127.0.0.1:{rp1}",
                "PSC_IDP_DEMO_RP2_URL": f"http://127.0.0.1:{rp2}", "ECPS_APP_PORT": str(phone),
                "PSC_IDP_LOG_LEVEL": "WARNING"})
    log = tmp_path / "demo.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([str(PSC_IDP), "demo", "--tls", "--port", str(port)], env=env,
                                stdout=out, stderr=subprocess.STDOUT, cwd=tmp_path)
    ca_file = str(tmp_path / "keys" / "pki" / "root-ca.crt")
    browser = requests.Session()
    browser.trust_env = False
    browser.verify = ca_file
    try:
        for url in (f"https://127.0.0.1:{port}/auth/realms/esante-wallet/.well-known/"
                    "openid-configuration", f"http://127.0.0.1:{rp1}/healthz",
                    f"http://127.0.0.1:{phone}/"):
            for _ in range(300):
                try:
                    if browser.get(url, timeout=2).status_code == 200:
                        break
                except OSError:  # not listening yet, or the CA file not written yet
                    assert proc.poll() is None, log.read_text()
                time.sleep(0.1)
            else:
                raise AssertionError(f"{url} did not come up\n{log.read_text()}")
        to_provider = browser.get(f"http://127.0.0.1:{rp1}/login", allow_redirects=False,
                                  timeout=10)
        assert to_provider.status_code == 302, to_provider.text[:500]
        assert to_provider.headers["Location"].startswith(f"https://127.0.0.1:{port}/")
        psc = PscActions(f"https://127.0.0.1:{port}/auth/realms/esante-wallet", browser=browser)
        done = psc.pick_persona(psc.open(to_provider.headers["Location"]))
        assert done.status_code == 302 and "/callback?" in done.headers["Location"]
        home = browser.get(done.headers["Location"], timeout=20)  # the RP redeems over https
        assert home.status_code == 200, home.text[:800]
        assert GP in home.text
    finally:
        stop_process(proc)
    text = log.read_text()
    assert "trust CA" in text and ca_file in text, text
