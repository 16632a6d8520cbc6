"""Where a psc-idp login flow spends its time, in-process: SQL per step and a cProfile summary.

Runs full flows (authorize → persona login → token → userinfo) through Flask's test client on
the app ``create_app()`` builds from the ``PSC_IDP_*`` environment (the same one ``psc-idp
serve`` would use; run ``psc-idp init`` and register ``bench-client`` first, as
``benchmarks/run`` does). Prints, per step: wall time, SQL statements executed, pool checkouts
(each one checked by ``pool_liveness``, no round trip), the most frequent statements; then the
functions with the highest cumulative and own time over all flows.

    PSC_IDP_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/DB PSC_IDP_MODE=demo \\
      PSC_IDP_KEYS_DIR=... python benchmarks/profile_flow.py --flows 50
"""

from __future__ import annotations

import argparse
import base64
import collections
import cProfile
import hashlib
import io
import pstats
import re
import secrets
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import event

CLIENT = ("bench-client", "bench-secret", "http://127.0.0.1:8080/cb")
REALM = "/auth/realms/esante-wallet"
STEPS = ("authorize", "login", "token", "userinfo")


class SqlCounter:
    def __init__(self) -> None:
        self.step = "setup"
        self.statements: dict[str, collections.Counter[str]] = collections.defaultdict(
            collections.Counter)
        self.checkouts: collections.Counter[str] = collections.Counter()

    def before_execute(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        self.statements[self.step][" ".join(statement.split())[:160]] += 1

    def checkout(self, *args: Any) -> None:
        self.checkouts[self.step] += 1


def one_flow(client: Any, sql: SqlCounter, times: dict[str, list[float]]) -> None:
    cid, secret, redirect_uri = CLIENT
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    state = secrets.token_urlsafe(12)
    client._cookies.clear()  # a fresh browser for every flow

    def step(name: str, fn: Any) -> Any:
        sql.step = name
        t0 = time.perf_counter()
        resp = fn()
        times[name].append((time.perf_counter() - t0) * 1000)
        return resp

    page = step("authorize", lambda: client.get("/auth", query_string={
        "response_type": "code", "client_id": cid, "redirect_uri": redirect_uri,
        "scope": "openid scope_all", "state": state, "nonce": secrets.token_urlsafe(12),
        "code_challenge": challenge.rstrip(b"=").decode(), "code_challenge_method": "S256",
        "acr_values": "eidas1"}))
    assert page.status_code == 200, page.status_code
    text = page.get_data(as_text=True)
    action = re.search(r'<form method="post" action="(/login/[^"]+/persona)"', text)
    csrf = re.search(r'name="csrf" value="([^"]+)"', text)
    assert action and csrf
    done = step("login", lambda: client.post(action.group(1), data={
        "csrf": csrf.group(1), "national_id": "810099900010"}))
    assert done.status_code == 302, done.status_code
    code = parse_qs(urlsplit(done.headers["Location"]).query)["code"][0]
    basic = base64.b64encode(f"{cid}:{secret}".encode()).decode()
    tok = step("token", lambda: client.post(
        REALM + "/protocol/openid-connect/token", headers={"Authorization": f"Basic {basic}"},
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
              "code_verifier": verifier}))
    assert tok.status_code == 200, tok.get_data(as_text=True)
    access = tok.get_json()["access_token"]
    info = step("userinfo", lambda: client.get(
        REALM + "/protocol/openid-connect/userinfo",
        headers={"Authorization": f"Bearer {access}"}))
    assert info.status_code == 200, info.status_code
    sql.step = "after"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--flows", type=int, default=50)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--top", type=int, default=35)
    ap.add_argument("--no-profile", action="store_true", help="times without cProfile overhead")
    args = ap.parse_args()

    from psc_idp.app import create_app
    from psc_idp.db import db

    app = create_app()
    client = app.test_client()
    sql = SqlCounter()
    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", sql.before_execute)
    event.listen(engine.pool, "checkout", sql.checkout)

    times: dict[str, list[float]] = collections.defaultdict(list)
    for _ in range(args.warmup):
        one_flow(client, sql, times)
    sql.statements.clear()
    sql.checkouts.clear()
    times.clear()

    profiler = cProfile.Profile()
    if not args.no_profile:
        profiler.enable()
    for _ in range(args.flows):
        one_flow(client, sql, times)
    profiler.disable()
    n = args.flows

    total_sql = sum(sum(c.values()) for c in sql.statements.values())
    note = "cProfile off" if args.no_profile else "cProfile on: times are inflated ~2x"
    print(f"{n} flows (in-process, one thread, {note})\n")
    print(f"{'step':10} {'ms/flow':>8} {'SQL/flow':>9} {'checkouts':>9}")
    for name in STEPS:
        print(f"{name:10} {sum(times[name]) / n:8.1f} "
              f"{sum(sql.statements[name].values()) / n:9.1f} {sql.checkouts[name] / n:9.1f}")
    print(f"{'total':10} {sum(sum(v) for v in times.values()) / n:8.1f} {total_sql / n:9.1f}")
    for name in STEPS:
        print(f"\n-- {name}: statements per flow")
        for stmt, count in sql.statements[name].most_common(12):
            print(f"  {count / n:6.1f}  {stmt}")

    if args.no_profile:
        return
    for key, title in (("cumulative", "cumulative"), ("tottime", "own time")):
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out)
        stats.sort_stats(key).print_stats(args.top)
        print(f"\n== top by {title} (all {n} flows)")
        print(out.getvalue().split("\n", 6)[-1])


if __name__ == "__main__":
    main()
