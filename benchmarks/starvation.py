"""Starvation benchmark: N idle e-CPS waits against ``psc-idp serve --workers 2`` on PostgreSQL,
and how discovery, a whole code flow and an e-CPS login answer meanwhile.

    .venv/bin/python benchmarks/starvation.py                 # N = 1000, 60 s of attack
    .venv/bin/python benchmarks/starvation.py --waits 200 --duration 30
    .venv/bin/python benchmarks/starvation.py --code /tmp/old  # another checkout's psc_idp

What it does, bounded in count and time, everything on 127.0.0.1:

1. A throwaway PostgreSQL database (``psql -h 127.0.0.1 -U postgres``) and temp dir;
   ``psc-idp init`` (demo mode), the ``bench-client``; ``psc-idp serve --no-init --workers 2``
   (gunicorn gthread, ``--threads`` per worker, 32 by default) on a free port.
2. The attacker's logins: ``--logins`` (30) logins, each with a real pending e-CPS push
   (``GET /auth``, the e-CPS form, a professional's national id: public numbers; 3 pushes
   at most per professional, so one virtual e-CPS is activated per 3 logins).
3. Before: discovery timed ``--samples`` (100) times, and 10 code flows.
4. The attack: ``--waits`` (1000) connections from one asyncio loop (raw sockets), from
   ``--addresses`` (250) loopback source addresses (127.0.0.2…), half on the logins' event
   streams (``/login/<uid>/ecps/events``), half on their long-polls (``status?wait=25``).
   Each connection asks again when its answer ends: at once after a held wait, after
   ``Retry-After`` after a refusal (429/503) or a short answer (``retry_after``), or after
   ``--pause`` seconds if given (an attacker ignoring Retry-After). After a ramp
   (``--ramp``, 5 s), discovery is timed every 0.2 s, a code flow every 2 s and one e-CPS
   login (its phone on the event stream) runs, until ``--duration`` (60 s) ends.
5. After: discovery timed again. The server is stopped by PID and the database dropped (also
   on failure or Ctrl-C). Results: benchmarks/results/starvation-latest.json and a Markdown
   summary on stdout.

A request that gets no answer within ``--timeout`` (10 s) counts as a failure (and as 10 s).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import re
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(HERE))

import load  # noqa: E402  (benchmarks/load.py: the flows and the phones)

PSC = Path(sys.executable).with_name("psc-idp")


# ----------------------------------------------------------------------------- the server
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A throwaway database and ``psc-idp serve --workers N``, stopped by PID."""

    def __init__(self, workers: int, threads: int, code: str | None, extra_env: dict[str, str]):
        self.tmp = Path(tempfile.mkdtemp(prefix="psc-idp-starvation."))
        self.db = f"psc_starve_{int(time.time())}_{os.getpid()}"
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("PSC_IDP_")}
        self.env.update({
            "PSC_IDP_DATABASE_URL": f"postgresql+psycopg://postgres@127.0.0.1:5432/{self.db}",
            "PSC_IDP_KEYS_DIR": str(self.tmp / "keys"),
            "PSC_IDP_INSTANCE_DIR": str(self.tmp / "instance"), "PSC_IDP_MODE": "demo",
            "PSC_IDP_LOG_LEVEL": "WARNING", "PSC_IDP_PUBLIC_URL": self.base,
            "PSC_IDP_SERVER__THREADS": str(threads), "XDG_RUNTIME_DIR": str(self.tmp),
            **extra_env})
        if code:
            self.env["PYTHONPATH"] = code
        self.workers = workers
        self.log = self.tmp / "psc-idp.log"

    def start(self) -> None:
        subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-q", "-c",
                        f'create database "{self.db}"'], check=True, capture_output=True)
        for args in (["init"], ["client", "add", "--client-id", load.CLIENT_ID,
                                "--client-secret", load.CLIENT_SECRET,
                                "--redirect-uri", load.REDIRECT_URI]):
            done = subprocess.run([str(PSC), *args], env=self.env, capture_output=True,
                                  text=True, timeout=180, cwd=self.tmp)
            if done.returncode:
                raise SystemExit(f"psc-idp {args[0]} failed: {done.stderr[-2000:]}")
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(
                [str(PSC), "serve", "--no-init", "--workers", str(self.workers), "--host",
                 "127.0.0.1", "--port", str(self.port)], env=self.env, stdout=out,
                stderr=subprocess.STDOUT, cwd=self.tmp)
        for _ in range(150):
            with contextlib.suppress(requests.RequestException):
                if requests.get(self.base + load.PSC_REALM + "/.well-known/openid-configuration",
                                timeout=2).status_code == 200:
                    return
            if self.proc.poll() is not None:
                raise SystemExit(f"psc-idp exited: {self.log.read_text()[-2000:]}")
            time.sleep(0.2)
        raise SystemExit("psc-idp did not answer within 30 s")

    def stop(self) -> str:
        log = ""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=40)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if self.log.exists():
            log = self.log.read_text(errors="replace")
        subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-q", "-c",
                        f'drop database if exists "{self.db}" with (force)'],
                       capture_output=True)
        subprocess.run(["rm", "-rf", str(self.tmp)], check=False)
        return log


# ----------------------------------------------------------------------------- the attacker
def pending_logins(base: str, national_ids: list[str], count: int) -> list[tuple[str, str]]:
    """``count`` logins whose e-CPS push waits (3 per professional): (uid, Cookie header)."""
    logins = []
    for i in range(count):
        s = requests.Session()
        s.trust_env = False
        page, _, _ = load._psc_authorize(s, base)
        link, csrf = load.MEANS_ECPS.search(page.text), load.PSC_CSRF.search(page.text)
        assert link and csrf, "no e-CPS link on the login page"
        form_url = base + link.group(1).replace("&amp;", "&")
        sent = s.post(form_url, data={"csrf": csrf.group(1),
                                      "national_id": national_ids[i // 3]},
                      allow_redirects=False, timeout=10)
        assert sent.status_code == 303, sent.text[:300]
        uid = form_url.split("/login/")[1].split("/")[0]
        logins.append((uid, "; ".join(f"{c.name}={c.value}" for c in s.cookies)))
    return logins


@dataclass
class AttackStats:
    answers: dict[str, int] = field(default_factory=dict)
    """held_stream, held_poll (answered after ≥ 1 s), refused (429/503), short_poll
    (an immediate status with retry_after), other, error."""
    quick_ms: list[float] = field(default_factory=list)
    """Time to the status line of the refusals and short answers."""
    held_samples: list[int] = field(default_factory=list)
    """Each second: waits the server holds, seen from the client (streams open with 200,
    long-polls unanswered for ≥ 1 s)."""
    open_samples: list[int] = field(default_factory=list)
    """Each second: attacker connections open (sent, not fully answered)."""

    def note(self, kind: str) -> None:
        self.answers[kind] = self.answers.get(kind, 0) + 1


class Attack:
    """``n`` connections in one asyncio loop (a thread), until ``stop()``."""

    def __init__(self, port: int, logins: list[tuple[str, str]], n: int, addresses: int,
                 pause: float | None, timeout: float = 70):
        self.port, self.logins, self.n, self.addresses = port, logins, n, addresses
        self.pause, self.timeout = pause, timeout
        self.stats = AttackStats()
        self.streams_open = 0
        self.inflight: dict[int, tuple[float, bool]] = {}
        self.ready = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._loop.run_until_complete,
                                        args=(self._main(),), daemon=True, name="attack")

    def start(self) -> Attack:
        self._thread.start()
        self.ready.wait(10)
        return self

    def stop(self) -> None:
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=30)

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        self.ready.set()
        tasks = [asyncio.create_task(self._connection(i)) for i in range(self.n)]
        sampler = asyncio.create_task(self._sample())
        await self._stop.wait()
        for task in [*tasks, sampler]:
            task.cancel()
        await asyncio.gather(*tasks, sampler, return_exceptions=True)

    async def _sample(self) -> None:
        while True:
            await asyncio.sleep(1)
            now = time.monotonic()
            polls = sum(1 for started, stream in self.inflight.values()
                        if not stream and now - started >= 1)
            self.stats.held_samples.append(self.streams_open + polls)
            self.stats.open_samples.append(len(self.inflight))

    async def _connection(self, i: int) -> None:
        uid, cookie = self.logins[i % len(self.logins)]
        stream = i % 2 == 0
        path = f"/login/{uid}/ecps/events" if stream else f"/login/{uid}/ecps/status?wait=25"
        source = f"127.0.0.{2 + i % self.addresses}"
        await asyncio.sleep(i * 0.002)  # 1000 connections over 2 s, not in one burst
        while True:
            pause = await self._once(i, path, cookie, source, stream)
            await asyncio.sleep(pause)

    async def _once(self, i: int, path: str, cookie: str, source: str, stream: bool) -> float:
        started = time.monotonic()
        self.inflight[i] = (started, stream)
        writer = None
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(
                "127.0.0.1", self.port, local_addr=(source, 0)), 10)
            writer.write((f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n"
                          f"Cookie: {cookie}\r\nAccept: */*\r\nConnection: close\r\n\r\n"
                          ).encode())
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), self.timeout)
            took = time.monotonic() - started
            lines = head.decode("latin-1").split("\r\n")
            status = int(lines[0].split()[1])
            headers = {k.strip().lower(): v.strip() for k, _, v in
                       (line.partition(":") for line in lines[1:] if line)}
            retry_after = float(headers.get("retry-after", "0") or 0)
            is_stream = headers.get("content-type", "").startswith("text/event-stream")
            if status == 200 and is_stream:
                self.streams_open += 1
                try:
                    await asyncio.wait_for(reader.read(), self.timeout)  # until it ends
                finally:
                    self.streams_open -= 1
                self.stats.note("held_stream")
                return self.pause or 0.1
            body = await asyncio.wait_for(reader.read(), 10)
            if status in (429, 503) or (status == 200 and b'"retry_after"' in body):
                self.stats.note("refused" if status != 200 else "short_poll")
                self.stats.quick_ms.append(took * 1000)
                return self.pause if self.pause is not None else (retry_after or 1)
            self.stats.note("held_poll" if status == 200 and took >= 1 else "other")
            return self.pause or 0.1
        except asyncio.CancelledError:
            raise
        except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError, IndexError):
            self.stats.note("error")
            return 1.0
        finally:
            self.inflight.pop(i, None)
            if writer is not None:
                writer.close()


# ----------------------------------------------------------------------------- measures
def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(int(len(ordered) * q), len(ordered) - 1)]


def _summary(values: list[float], failures: int) -> dict[str, Any]:
    return {"count": len(values), "failures": failures,
            "p50_ms": _percentile(values, 0.5), "p95_ms": _percentile(values, 0.95),
            "max_ms": max(values) if values else None,
            "mean_ms": statistics.fmean(values) if values else None}


def time_discovery(base: str, count: int, timeout: float, every: float = 0.0,
                   until: float | None = None) -> tuple[list[float], int]:
    url = base + load.PSC_REALM + "/.well-known/openid-configuration"
    s = requests.Session()
    s.trust_env = False
    times: list[float] = []
    failures = 0
    while len(times) + failures < count and (until is None or time.monotonic() < until):
        started = time.monotonic()
        try:
            ok = s.get(url, timeout=timeout).status_code == 200
        except requests.RequestException:
            ok = False
        took = (time.monotonic() - started) * 1000
        if ok:
            times.append(took)
        else:
            failures += 1
            times.append(timeout * 1000)
            s = requests.Session()
            s.trust_env = False
        if every:
            time.sleep(max(every - took / 1000, 0))
    return times, failures


def time_flows(base: str, count: int, every: float = 0.0, until: float | None = None
               ) -> tuple[list[float], int, list[str]]:
    times: list[float] = []
    errors: list[str] = []
    while len(times) + len(errors) < count and (until is None or time.monotonic() < until):
        s = requests.Session()
        s.trust_env = False
        started = time.monotonic()
        try:
            load.psc_flow(s, base)
            times.append((time.monotonic() - started) * 1000)
        except (load.FlowError, requests.RequestException) as exc:
            errors.append(str(exc)[:200])
        if every:
            time.sleep(max(every - (time.monotonic() - started), 0))
    return times, len(errors), errors[:3]


def ecps_login(base: str, home: str, national_id: str) -> dict[str, Any]:
    phone = load.start_phone(base, home, national_id, "stream")
    started = time.monotonic()
    try:
        s = requests.Session()
        s.trust_env = False
        load.ecps_flow(s, base, national_id)
        return {"ok": True, "seconds": round(time.monotonic() - started, 2),
                "phone_errors": [str(e)[:120] for e in phone.errors]}
    except (load.FlowError, requests.RequestException) as exc:
        return {"ok": False, "seconds": round(time.monotonic() - started, 2),
                "error": str(exc)[:300], "phone_errors": [str(e)[:120] for e in phone.errors]}
    finally:
        phone.stop()


# ----------------------------------------------------------------------------- main
def _fmt(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}"


def markdown(result: dict[str, Any]) -> str:
    rows = ["| phase | discovery n | p50 ms | p95 ms | max ms | failures (> timeout) |",
            "|---|---:|---:|---:|---:|---:|"]
    for phase in ("before", "during", "after"):
        d = result["discovery"][phase]
        rows.append(f"| {phase} | {d['count']} | {_fmt(d['p50_ms'])} | {_fmt(d['p95_ms'])} "
                    f"| {_fmt(d['max_ms'])} | {d['failures']} |")
    flows = result["code_flow"]
    attack = result["attack"]
    lines = [
        f"N = {result['params']['waits']} waits, {result['params']['duration']} s, "
        f"{result['params']['workers']} workers × {result['params']['threads']} threads, "
        f"{result['params']['addresses']} source addresses", "", *rows, "",
        "| code flow (authorize → token → userinfo) | n | p50 ms | p95 ms | max ms | failures |",
        "|---|---:|---:|---:|---:|---:|"]
    for phase in ("before", "during"):
        f = flows[phase]
        lines.append(f"| {phase} | {f['count']} | {_fmt(f['p50_ms'])} | {_fmt(f['p95_ms'])} | "
                     f"{_fmt(f['max_ms'])} | {f['failures']} |")
    lines += ["", f"e-CPS login during the attack: {result['ecps_login']}",
              f"attacker answers: {attack['answers']}",
              f"refused/short answers: p50 {_fmt(attack['quick_p50_ms'])} ms, "
              f"p95 {_fmt(attack['quick_p95_ms'])} ms",
              f"waits held (client view, per second): median {attack['held_median']}, "
              f"max {attack['held_max']}; attacker connections open: median "
              f"{attack['open_median']}, max {attack['open_max']}",
              f"server log error lines: {result['server_log_errors']}"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--waits", type=int, default=1000)
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--ramp", type=float, default=5.0)
    parser.add_argument("--logins", type=int, default=30)
    parser.add_argument("--addresses", type=int, default=250)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=32)
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--timeout", type=float, default=10.0)
    parser.add_argument("--pause", type=float, default=None,
                        help="seconds between an attacker's answers (default: Retry-After)")
    parser.add_argument("--code", default=None,
                        help="run the server from this checkout (PYTHONPATH), e.g. an old one")
    parser.add_argument("--env", action="append", default=[],
                        help="extra PSC_IDP_X=Y for the server (repeatable)")
    parser.add_argument("--out", default=str(HERE / "results" / "starvation-latest.json"))
    args = parser.parse_args(argv)
    if not 1 <= args.waits <= 5000 or not 5 <= args.duration <= 300:
        parser.error("--waits 1..5000, --duration 5..300")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(max(soft, 4 * args.waits + 256), hard), hard))

    extra = dict(item.split("=", 1) for item in args.env)
    server = Server(args.workers, args.threads, args.code, extra)
    result: dict[str, Any] = {"params": vars(args), "machine": load.machine(),
                              "python": platform.python_version()}
    log = ""
    try:
        print(f"psc-idp on {server.base} (database {server.db})", file=sys.stderr)
        server.start()
        home = str(server.tmp / "phones")
        professionals = -(-args.logins // 3)
        national_ids = load.activate_phones(server.base, home, professionals + 1)
        victim = national_ids[-1]  # the legitimate professional: not a target
        logins = pending_logins(server.base, national_ids[:-1], args.logins)

        before, before_fail = time_discovery(server.base, args.samples, args.timeout)
        flows_before, flows_before_fail, _ = time_flows(server.base, 10)

        print(f"attack: {args.waits} waits for {args.duration:g} s", file=sys.stderr)
        attack = Attack(server.port, logins, args.waits, args.addresses, args.pause).start()
        started = time.monotonic()
        end = started + args.duration
        time.sleep(args.ramp)
        flows: dict[str, Any] = {}

        def flow_loop() -> None:
            flows["r"] = time_flows(server.base, 1000, every=2.0, until=end)

        flow_thread = threading.Thread(target=flow_loop, daemon=True)
        flow_thread.start()
        login: dict[str, Any] = {}
        login_thread = threading.Thread(
            target=lambda: login.update(ecps_login(server.base, home, victim)), daemon=True)
        login_thread.start()
        during, during_fail = time_discovery(server.base, 100000, args.timeout, every=0.2,
                                             until=end)
        flow_thread.join(timeout=args.timeout * 4)
        login_thread.join(timeout=90)
        attack.stop()
        time.sleep(1)
        after, after_fail = time_discovery(server.base, args.samples, args.timeout)

        stats = attack.stats
        held = stats.held_samples[int(args.ramp):] or [0]
        opened = stats.open_samples[int(args.ramp):] or [0]
        during_flows = flows.get("r", ([], 0, []))
        result.update({
            "discovery": {"before": _summary(before, before_fail),
                          "during": _summary(during, during_fail),
                          "after": _summary(after, after_fail)},
            "code_flow": {"before": _summary(flows_before, flows_before_fail),
                          "during": {**_summary(during_flows[0], during_flows[1]),
                                     "errors": during_flows[2]}},
            "ecps_login": login or {"ok": False, "error": "did not finish"},
            "attack": {"answers": stats.answers,
                       "quick_p50_ms": _percentile(stats.quick_ms, 0.5),
                       "quick_p95_ms": _percentile(stats.quick_ms, 0.95),
                       "held_median": statistics.median(held), "held_max": max(held),
                       "open_median": statistics.median(opened), "open_max": max(opened)},
        })
    finally:
        log = server.stop()
    lines = log.splitlines()
    bad = [line for line in lines
           if any(word in line for word in ("ERROR", "Traceback", "CRITICAL", "WORKER TIMEOUT"))]
    result["server_log_exceptions"] = sorted({  # the last line of each traceback, once
        line[:200] for line in lines if re.match(r"^[\w.]+(Error|Exception|Timeout)\b", line)})
    result["server_log_errors"] = len(bad)
    result["server_log_sample"] = bad[:10]
    result["revision"] = load._revision()
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2, default=str))
    print(markdown(result))
    if bad:
        print("\n".join(bad[:10]), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
