"""Prints statements, round trips and server CPU per endpoint of each login kind: the
figures of issue 15's report. Not collected with the tests (no ``test_`` file name); run it
by naming it: ``PSC_TEST_BACKENDS=postgresql pytest -s -p no:randomly
tests/hot_paths_login/measure_logins.py`` (``PSC_MEASURE_ROUNDS``, ``PSC_MEASURE_TEXTS=1``
for the statements themselves). The budgets are in test_statement_budget.py."""

from __future__ import annotations

import os

from .flows import activated_phone, run_ecps_push_login, run_persona_login
from .meter import Meter

ROUNDS = int(os.environ.get("PSC_MEASURE_ROUNDS", "20"))


def _report(title: str, meter: Meter, n: int) -> None:
    print(f"\n== {title}: per login (mean of {n})")
    print(f"{'endpoint':44} {'req':>4} {'stmts':>6} {'trips':>6} {'cpu ms':>7}")
    for key, cost in sorted(meter.costs.items()):
        print(f"{key:44} {cost.requests / n:4.1f} {cost.statements / n:6.1f} "
              f"{cost.round_trips / n:6.1f} {cost.cpu * 1000 / n:7.2f}")
    total = meter.total()
    print(f"{'total':44} {total.requests / n:4.1f} {total.statements / n:6.1f} "
          f"{total.round_trips / n:6.1f} {total.cpu * 1000 / n:7.2f}")
    if os.environ.get("PSC_MEASURE_TEXTS"):
        for key, cost in sorted(meter.costs.items()):
            print(f"-- {key}")
            for text, count in cost.texts.most_common():
                print(f"   {count / n:5.1f} {text}")


def test_measure_login_kinds(live, tmp_path):
    meter = Meter(live.app)
    run_persona_login(live)  # warm-up (caches, first connections)
    meter.reset()
    for _ in range(ROUNDS):
        run_persona_login(live)
    _report("persona login", meter, ROUNDS)

    phone = activated_phone(live, tmp_path / "phone")
    run_ecps_push_login(live, phone)
    meter.reset()
    for _ in range(ROUNDS):
        run_ecps_push_login(live, phone)
    _report("e-CPS push login", meter, ROUNDS)
