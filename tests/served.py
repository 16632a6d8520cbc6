"""``psc-idp serve`` as a real subprocess (gunicorn with ``--workers``), for the tests that need
the production server rather than werkzeug in a thread: streams, TLS, starvation.

``serve_subprocess`` runs ``psc-idp init`` then ``serve --no-init`` on the test's database with
a clean ``PSC_IDP_*`` environment (plus ``extra_env``), waits until discovery answers, yields a
``Served`` and stops the server with SIGTERM (then SIGKILL if it hangs).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import requests

PSC_IDP = Path(sys.executable).with_name("psc-idp")


class Served:
    def __init__(self, base_url: str, proc: subprocess.Popen[str], log: Path):
        self.base_url = base_url
        self.issuer = base_url + "/auth/realms/esante-wallet"
        self.proc = proc
        self.log = log


@contextlib.contextmanager
def serve_subprocess(database_url: str, folder: Path, port: int, *,
                     extra_env: dict[str, str] | None = None, args: tuple[str, ...] = (),
                     scheme: str = "http", verify: bool | str = True) -> Iterator[Served]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PSC_IDP_")}
    env.update({"PSC_IDP_DATABASE_URL": database_url, "PSC_IDP_KEYS_DIR": str(folder / "keys"),
                "PSC_IDP_INSTANCE_DIR": str(folder), "PSC_IDP_MODE": "test",
                "PSC_IDP_LOG_LEVEL": "WARNING",
                "PSC_IDP_PUBLIC_URL": f"{scheme}://127.0.0.1:{port}",
                "XDG_RUNTIME_DIR": str(folder), **(extra_env or {})})
    init = subprocess.run([str(PSC_IDP), "init"], env=env, capture_output=True, text=True,
                          timeout=120, cwd=folder)
    assert init.returncode == 0, init.stderr
    log = folder / "serve.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([str(PSC_IDP), "serve", "--no-init", "--host", "127.0.0.1",
                                 "--port", str(port), *args], env=env, stdout=out,
                                stderr=subprocess.STDOUT, text=True, cwd=folder)
    served = Served(f"{scheme}://127.0.0.1:{port}", proc, log)
    try:
        for _ in range(150):
            try:
                if requests.get(served.issuer + "/.well-known/openid-configuration",
                                timeout=2, verify=verify).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert proc.poll() is None, log.read_text()
            time.sleep(0.2)
        yield served
    finally:
        stop_process(proc, timeout=20)


def stop_process(proc: subprocess.Popen[str], timeout: float = 30) -> None:
    """SIGTERM (the server's graceful stop), then SIGKILL if it does not end in ``timeout``."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


def fire(count: int, call: Callable[[int], Any]) -> list[Any]:
    """``call(0..count-1)`` in ``count`` threads released at once (a barrier): real parallel
    requests for the concurrency tests; their results in order."""
    barrier = threading.Barrier(count, timeout=30)

    def run(i: int) -> Any:
        barrier.wait()
        return call(i)

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(run, range(count), timeout=120))


DEMO_MTLS_OFFSET = 443
"""``psc-idp demo --port P`` puts its card listener on P + 443 (5000 → 5443)."""


def free_demo_port(size: int = 5) -> int:
    """A provider port whose demo ports are all free now: P…P+4 (provider, two services, the
    e-CPS app, the card reader) and P+443 (the card listener). A demo refused because one of
    them was taken by a neighbouring test would never come up."""
    from tests.conftest import free_port

    for _ in range(50):
        base = free_port()
        if base + DEMO_MTLS_OFFSET >= 65535:
            continue
        try:
            for number in (*range(base, base + size), base + DEMO_MTLS_OFFSET):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", number))
        except OSError:
            continue
        return base
    raise AssertionError("no block of free ports")
