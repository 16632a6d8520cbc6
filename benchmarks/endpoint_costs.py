"""Server cost per endpoint of a login, averaged over many logins: requests, SQL statements,
database round trips and the serving thread's CPU, per endpoint and in total.

The logins and the counting are benchmarks/statements.py's (the statement-budget tests' own
counter: docs/statement-budget.md), on an app of its own served by werkzeug in a thread (a
SQLite temp file, or a throwaway database on the PostgreSQL server given). Each kind runs once to
warm up, then ``--rounds`` times; the figures are means per login. CPU is ``time.thread_time`` of
the request's thread from the WSGI call to the close of its response body (Flask, psc-idp, the
database driver; not werkzeug's own HTTP parsing, not the client): read it against another
run on the same machine, not as an absolute figure.

    .venv/bin/python benchmarks/endpoint_costs.py           # code_persona, ecps_push_polled
    .venv/bin/python benchmarks/endpoint_costs.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test
    .venv/bin/python benchmarks/endpoint_costs.py --kind refresh --rounds 50
    .venv/bin/python benchmarks/endpoint_costs.py --statements   # also each statement

With ``PYTHONPATH=<another checkout>`` it measures that checkout's code (as statements.py does).
"""

from __future__ import annotations

import argparse
import collections
import logging
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # appended: a PYTHONPATH naming another checkout wins
    sys.path.append(str(REPO))

from benchmarks.statements import (  # noqa: E402
    ALL_KINDS,
    Login,
    Measurement,
    StatementCounter,
    measure_rounds,
    served_app,
    short,
)

DEFAULT_KINDS = ("code_persona", "ecps_push_polled")


@dataclass
class Cost:
    """One endpoint's cost summed over the counted logins."""

    requests: int = 0
    statements: int = 0
    round_trips: int = 0
    cpu: float = 0.0
    texts: collections.Counter[str] = field(default_factory=collections.Counter)


def summed(measurements: list[Measurement]) -> dict[str, Cost]:
    costs: dict[str, Cost] = {}
    for m in measurements:
        for name, e in m.endpoints.items():
            cost = costs.setdefault(name, Cost())
            cost.requests += e.requests
            cost.statements += len(e.statements)
            cost.round_trips += e.round_trips
            cost.cpu += e.cpu
            cost.texts.update(short(s) for s in e.statements)
    return costs


def report(kind: str, costs: dict[str, Cost], rounds: int, backend: str,
           with_statements: bool = False) -> str:
    width = max([len(name) for name in costs] + [10])
    lines = [f"== {kind} on {backend}: per login (mean of {rounds})",
             f"{'endpoint':{width}} {'req':>5} {'stmts':>6} {'trips':>6} {'cpu ms':>7}"]
    total = Cost()
    for name, cost in costs.items():
        lines.append(f"{name:{width}} {cost.requests / rounds:5.1f} "
                     f"{cost.statements / rounds:6.1f} {cost.round_trips / rounds:6.1f} "
                     f"{cost.cpu * 1000 / rounds:7.2f}")
        total.requests += cost.requests
        total.statements += cost.statements
        total.round_trips += cost.round_trips
        total.cpu += cost.cpu
    lines.append(f"{'total':{width}} {total.requests / rounds:5.1f} "
                 f"{total.statements / rounds:6.1f} {total.round_trips / rounds:6.1f} "
                 f"{total.cpu * 1000 / rounds:7.2f}")
    if with_statements:
        for name, cost in costs.items():
            lines.append(f"-- {name}")
            lines.extend(f"   {count / rounds:5.1f} × {text}"
                         for text, count in cost.texts.most_common())
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--database-url", help="PostgreSQL server (a throwaway database is made "
                    "on it) or a sqlite:/// URL; default: a SQLite file in a temp folder")
    ap.add_argument("--kind", action="append", choices=sorted(ALL_KINDS),
                    help=f"only these kinds (repeatable; default: {', '.join(DEFAULT_KINDS)})")
    ap.add_argument("--rounds", type=int, default=20, help="counted logins per kind (20)")
    ap.add_argument("--statements", action="store_true",
                    help="also each statement, with how many times a login sends it")
    args = ap.parse_args()
    if args.rounds < 1:
        ap.error("--rounds must be at least 1")

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="psc-endpoint-costs-") as tmp:
        workdir = Path(tmp)
        with served_app(args.database_url, workdir) as (base_url, app):
            backend = app.extensions["psc_idp"].settings.resolved_database_url().split(":")[0]
            login = Login(base_url, app, workdir, StatementCounter(app))
            for kind in args.kind or DEFAULT_KINDS:
                costs = summed(measure_rounds(login, kind, args.rounds))
                print(report(kind, costs, args.rounds, backend, args.statements) + "\n",
                      flush=True)


if __name__ == "__main__":
    main()
