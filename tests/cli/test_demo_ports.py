"""``psc-idp demo`` beside another demo (issue 13): every port checked before anything starts
or is printed, the helpers' ports following ``--port``, and a helper that stops stopping the
whole demo."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import requests

from tests.cli.test_demo_command import PSC_IDP, _down, _wait_up
from tests.served import free_demo_port, stop_process


def _env(folder: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PSC_IDP_", "PSC_DEMO_RP_", "ECPS_APP_"))}
    # PSC_IDP_HOME: the demo cards go there, not into the checkout's cards/ folder
    env.update({"PSC_IDP_DATABASE_URL": f"sqlite:///{folder}/demo.db", "PSC_IDP_HOME": str(folder),
                "PSC_IDP_KEYS_DIR": str(folder / "keys"), "PSC_IDP_INSTANCE_DIR": str(folder),
                "PSC_IDP_LOG_LEVEL": "WARNING", **extra})
    return env


def _start(folder: Path, *args: str, **extra: str) -> subprocess.Popen[str]:
    """The demo, its output in ``folder/out.txt`` and ``err.txt`` (a pipe nobody reads would
    fill up and block it)."""
    folder.mkdir(exist_ok=True)
    with open(folder / "out.txt", "w") as out, open(folder / "err.txt", "w") as err:
        return subprocess.Popen([str(PSC_IDP), "demo", *args], env=_env(folder, **extra),
                                stdout=out, stderr=err, text=True)


def _finished(proc: subprocess.Popen[str], folder: Path) -> tuple[str, str]:
    proc.wait(timeout=60)
    return (folder / "out.txt").read_text(), (folder / "err.txt").read_text()


_stop = stop_process


def _urls(base: int) -> list[str]:
    return [f"http://127.0.0.1:{base}/auth/realms/esante-wallet/.well-known/openid-configuration",
            f"http://127.0.0.1:{base + 1}/healthz", f"http://127.0.0.1:{base + 2}/",
            f"http://127.0.0.1:{base + 3}/healthz"]


def _all_up(proc: subprocess.Popen[str], base: int, timeout: float = 60.0) -> bool:
    """The four demo URLs answer 200; False as soon as the demo exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if [requests.get(url, timeout=2).status_code for url in _urls(base)] == [200] * 4:
                return True
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    return False


def _start_up(folder: Path) -> tuple[subprocess.Popen[str], int]:
    """A demo on a free block of ports, up. A port probed free can be taken by a neighbouring
    test before the demo checks it (the demo then refuses, naming it) or between its check and
    a helper's bind (the helper's server says "Address already in use" and the demo stops):
    another block is tried; any other failure is reported with the demo's output."""
    for _ in range(3):
        base = free_demo_port()
        proc = _start(folder, "--port", str(base))
        if _all_up(proc, base):
            return proc, base
        _stop(proc)
        err = (folder / "err.txt").read_text()
        assert "is already in use" in err or "Address already in use" in err, \
            f"the demo on {base} did not come up:\n{err}"
    raise AssertionError(f"no demo came up in three blocks of ports:\n{err}")


def test_two_demos_side_by_side_and_a_taken_port_refused_first(tmp_path):
    first, first_base = _start_up(tmp_path / "a")
    second = None
    try:
        home = requests.get(f"http://127.0.0.1:{first_base}/", timeout=5).text
        for offset in (1, 2, 3):
            assert f'href="http://127.0.0.1:{first_base + offset}/"' in home

        clash = _start(tmp_path / "b", "--port", str(first_base))
        out, err = _finished(clash, tmp_path / "b")
        assert clash.returncode != 0
        assert f"port {first_base} (the provider) is already in use" in err, err
        assert "Open the demo" not in out + err and "listening" not in out + err
        assert "Traceback" not in err
        clash_rp = _start(tmp_path / "b", "--port", str(free_demo_port()),
                          "--rp-port", str(first_base + 1))
        out, err = _finished(clash_rp, tmp_path / "b")
        assert clash_rp.returncode != 0 and "Dossier patient" in err, err
        assert "Open the demo" not in err

        second, second_base = _start_up(tmp_path / "b")
        page = requests.get(f"http://127.0.0.1:{second_base + 3}/", timeout=5).text
        assert "Messagerie sécurisée" in page
        # the second demo's clients were registered for its own ports
        login = requests.get(f"http://127.0.0.1:{second_base + 1}/login", timeout=10,
                             allow_redirects=False)
        assert login.status_code in (302, 303)
        assert f"127.0.0.1%3A{second_base + 1}%2Fcallback" in login.headers["Location"]
        assert f"127.0.0.1:{second_base}/" in login.headers["Location"]
        assert _wait_up(_urls(first_base)[1]) == 200  # the first demo still runs
    finally:
        for proc in (first, second):
            if proc is not None:
                _stop(proc)
    assert all(_down(url) for url in _urls(first_base))


def test_a_helper_that_stops_stops_the_demo(tmp_path):
    base = free_demo_port()
    # 192.0.2.1 (TEST-NET) is no address of this machine: the e-CPS app cannot listen there
    proc = _start(tmp_path / "c", "--port", str(base), ECPS_APP_HOST="192.0.2.1")
    try:
        proc.wait(timeout=60)
    finally:
        _stop(proc)
    err = (tmp_path / "c" / "err.txt").read_text()
    assert proc.returncode != 0
    assert "the virtual e-CPS app stopped" in err and "stopping the demo" in err, err
    time.sleep(0.5)
    assert all(_down(url) for url in _urls(base))
