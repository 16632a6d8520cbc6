"""``psc-idp demo`` (what ``scripts/run`` starts): the provider, the two demo services and the
virtual e-CPS app come up together on the ports configured, and SIGTERM stops them all."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import requests

from tests.conftest import free_port
from tests.served import free_demo_port, stop_process

PSC_IDP = Path(sys.executable).with_name("psc-idp")


def _wait_up(url: str, timeout: float = 60.0) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            return requests.get(url, timeout=2).status_code
        except requests.ConnectionError:
            time.sleep(0.2)
    return 0


def _down(url: str) -> bool:
    try:
        requests.get(url, timeout=2)
    except requests.ConnectionError:
        return True
    return False


def test_demo_starts_everything_and_stops_it(tmp_path):
    port = free_demo_port()  # its card reader and card listener follow it
    rp1, rp2, phone = (free_port() for _ in range(3))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PSC_IDP_", "PSC_DEMO_RP_"))}
    env.update({
        "PSC_IDP_DATABASE_URL": f"sqlite:///{tmp_path}/demo.db",
        "PSC_IDP_HOME": str(tmp_path),  # the demo cards go there, not into the checkout
        "PSC_IDP_KEYS_DIR": str(tmp_path / "keys"), "PSC_IDP_INSTANCE_DIR": str(tmp_path),
        "PSC_IDP_DEMO_RP_URL": f"http://127.0.0.1:{rp1}",
        "PSC_IDP_DEMO_RP2_URL": f"http://127.0.0.1:{rp2}", "ECPS_APP_PORT": str(phone),
        "PSC_IDP_LOG_LEVEL": "WARNING",
    })
    proc = subprocess.Popen([str(PSC_IDP), "demo", "--port", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    urls = [f"http://127.0.0.1:{port}/auth/realms/esante-wallet/.well-known/openid-configuration",
            f"http://127.0.0.1:{rp1}/healthz", f"http://127.0.0.1:{rp2}/healthz",
            f"http://127.0.0.1:{phone}/"]
    try:
        assert [_wait_up(url) for url in urls] == [200, 200, 200, 200]
        titles = [requests.get(f"http://127.0.0.1:{p}/", timeout=5).text for p in (rp1, rp2)]
        assert "Dossier patient" in titles[0] and "Messagerie sécurisée" in titles[1]
        discovery = requests.get(urls[0], timeout=5).json()
        assert discovery["backchannel_logout_supported"] is True
    finally:
        stop_process(proc)
    assert all(_down(url) for url in urls), "a child of psc-idp demo outlived it"
