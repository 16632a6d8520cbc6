"""Server CPU per request of one URL under load: the fixed cost of a request on a served stack.

Used for issue 15's "framework floor" (benchmarks/README.md): a Flask "hello" on the same
gunicorn settings as ``psc-idp serve`` against psc-idp's discovery document, each measured as
the CPU ticks of the server's process tree (``/proc``) divided by the requests answered while
``--clients`` processes send GETs on keep-alive connections for ``--seconds``.

    .venv/bin/python benchmarks/request_floor.py --url http://127.0.0.1:PORT/path --pid PID
    .venv/bin/python benchmarks/request_floor.py --hello    # starts and stops its own gunicorn
"""

from __future__ import annotations

import argparse
import multiprocessing
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
from load import cpu_ms, cpu_snapshot, process_tree  # noqa: E402

HELLO_APP = "from flask import Flask\napp = Flask(__name__)\napp.get('/')(lambda: 'hi')\n"


def _client(url: str, until: float, counts: multiprocessing.Queue) -> None:
    session, done = requests.Session(), 0
    while time.time() < until:
        answer = session.get(url, timeout=10)
        if answer.status_code != 200:
            raise SystemExit(f"{url}: HTTP {answer.status_code}")
        done += 1
    counts.put(done)


def measure(url: str, pid: int, seconds: float, clients: int) -> tuple[float, float]:
    """(requests per second, server CPU ms per request) over ``seconds``."""
    requests.get(url, timeout=10).raise_for_status()
    pids = process_tree(pid)
    counts: multiprocessing.Queue = multiprocessing.Queue()
    until = time.time() + seconds
    before = cpu_snapshot(pids)
    workers = [multiprocessing.Process(target=_client, args=(url, until, counts))
               for _ in range(clients)]
    for worker in workers:
        worker.start()
    total = sum(counts.get() for _ in workers)
    for worker in workers:
        worker.join()
    spent = cpu_ms(before, cpu_snapshot(pids))
    return total / seconds, spent / max(total, 1)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def hello(seconds: float, clients: int, folder: Path) -> tuple[float, float]:
    """A Flask "hello" on gunicorn (2 gthread workers × 32 threads, as the benchmark's)."""
    (folder / "hello_floor.py").write_text(HELLO_APP)
    port = _free_port()
    server = subprocess.Popen(
        [str(Path(sys.executable).with_name("gunicorn")), "-w", "2", "-k", "gthread",
         "--threads", "32", "-b", f"127.0.0.1:{port}", "hello_floor:app"], cwd=folder,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}/"
        for _ in range(100):
            try:
                requests.get(url, timeout=1)
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        return measure(url, server.pid, seconds, clients)
    finally:
        server.terminate()
        server.wait(10)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--url", help="the URL to GET (a running server)")
    ap.add_argument("--pid", type=int, help="the server's main process (its tree is counted)")
    ap.add_argument("--hello", action="store_true", help="a Flask hello on gunicorn instead")
    ap.add_argument("--seconds", type=float, default=6.0)
    ap.add_argument("--clients", type=int, default=2)
    args = ap.parse_args()
    if args.hello:
        import tempfile

        with tempfile.TemporaryDirectory() as folder:
            rate, cost = hello(args.seconds, args.clients, Path(folder))
    elif args.url and args.pid:
        rate, cost = measure(args.url, args.pid, args.seconds, args.clients)
    else:
        ap.error("--url and --pid, or --hello")
    print(f"{rate:.0f} requests/s, server {cost:.3f} ms CPU per request")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
