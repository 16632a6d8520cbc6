"""``psc-idp serve`` starts the client-certificate listener (werkzeug, and one per gunicorn
worker on a shared port): a card login through the real server, its banner, a taken port."""

from __future__ import annotations

import os
import re
import socket
import subprocess
from pathlib import Path
from typing import Any

import pytest
import requests

from psc_idp.pki import LocalPki
from tests.cards.cardlogin import PIN, PUK, card_credentials
from tests.conftest import free_port
from tests.psc_actions import GP, PscActions, query
from tests.served import PSC_IDP, serve_subprocess


def _env(keys_dir: Path, mtls_port: int, **more: str) -> dict[str, str]:
    return {"PSC_IDP_KEYS_DIR": str(keys_dir), "PSC_IDP_MTLS__PORT": str(mtls_port), **more}


def _issue(app: Any, folder: Path) -> Any:
    from psc_idp.credentials.cards import issue_card

    with app.app_context():
        return issue_card(national_id=GP, card_type="CPS", pin=PIN, puk=PUK, out=folder)


@pytest.mark.one_backend
@pytest.mark.parametrize("workers", [(), ("--workers", "2")], ids=["werkzeug", "gunicorn"])
def test_serve_runs_the_card_listener(backend: tuple[str, str], make_app: Any, keys_dir: Path,
                                      tmp_path: Path, workers: tuple[str, ...]) -> None:
    app = make_app(demo=False)
    mtls_port = free_port()
    env = _env(keys_dir, mtls_port, PSC_IDP_MTLS__ENABLED="true")
    with serve_subprocess(backend[1], tmp_path, free_port(), args=workers,
                          extra_env=env) as served:
        card = _issue(app, tmp_path / "card")
        credentials = card_credentials(card.folder, tmp_path)
        root = str(LocalPki.in_keys_dir(keys_dir).root_cert_path)
        mtls_base = f"https://127.0.0.1:{mtls_port}"
        # logins in a row: with gunicorn, the handshakes land on either worker's listener
        for _ in range(3):
            psc = PscActions(served.issuer)
            rp = psc.client()
            start = psc.start(rp)
            first = psc.open(start.url)
            uid = re.search(r"/login/([A-Za-z0-9_-]+)/", first.text).group(1)
            page = psc.browser.get(f"{served.base_url}/login/{uid}/card", timeout=10)
            assert f'content="{mtls_base}/login/{uid}/card/tls"' in page.text
            step = requests.get(f"{mtls_base}/login/{uid}/card/tls", cert=credentials,
                                verify=root, allow_redirects=False, timeout=15)
            assert step.status_code == 303, step.headers.get("X-PSC-IDP-Card-Refusal")
            done = psc.browser.get(step.headers["Location"], allow_redirects=False, timeout=10)
            assert done.status_code == 302
            token = psc.tokens(rp, start, done.headers["Location"])
            assert psc.verify(token["access_token"])["authMode"] == "CARD"
        assert query(done.headers["Location"])["code"]
    log = served.log.read_text()
    assert f"card/mTLS  {mtls_base}" in log


def _held_port() -> tuple[socket.socket, int]:
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    return holder, holder.getsockname()[1]


@pytest.mark.one_backend
def test_taken_port_fails_serve_when_asked_for(backend: tuple[str, str], make_app: Any,
                                               keys_dir: Path, tmp_path: Path) -> None:
    make_app(demo=False)
    holder, port = _held_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PSC_IDP_")}
    env.update({"PSC_IDP_DATABASE_URL": backend[1], "PSC_IDP_INSTANCE_DIR": str(tmp_path),
                "PSC_IDP_MODE": "test", **_env(keys_dir, port, PSC_IDP_MTLS__ENABLED="true")})
    try:
        for workers in ((), ("--workers", "1")):
            result = subprocess.run([str(PSC_IDP), "serve", "--host", "127.0.0.1", "--port",
                                     str(free_port()), *workers], env=env, cwd=tmp_path,
                                    capture_output=True, text=True, timeout=120)
            assert result.returncode != 0
            assert f"card/mTLS listener cannot listen on 127.0.0.1:{port}" in result.stderr
            assert "[mtls] port" in result.stderr and "Traceback" not in result.stderr
    finally:
        holder.close()


@pytest.mark.one_backend
def test_taken_port_by_default_serves_without_card_login(backend: tuple[str, str],
                                                         make_app: Any, keys_dir: Path,
                                                         tmp_path: Path) -> None:
    """On by default in demo/test: a second server on the machine (two demos, parallel test
    runs) still serves, says so, and has no card listener."""
    make_app(demo=False)
    holder, port = _held_port()
    try:
        with serve_subprocess(backend[1], tmp_path, free_port(),
                              extra_env=_env(keys_dir, port)) as served:
            assert requests.get(served.issuer + "/.well-known/openid-configuration",
                                timeout=10).status_code == 200
        log = served.log.read_text()
        assert "warning: the card/mTLS listener cannot listen" in log
        assert "card/mTLS  https://" not in log
    finally:
        holder.close()
