"""Statement budget of the login side, per endpoint, on SQLite and PostgreSQL: a persona login
and an e-CPS push login, each request counted (``meter.Meter``). A statement added to one of
these endpoints fails here; lower a budget when a change removes one.

Round trips are statements + BEGIN + COMMIT/ROLLBACK (+ the pool's pre-ping on PostgreSQL).
Figures are sums over the requests of one login (``login.finish`` twice: the waiting page,
then the completion; ``login.status`` twice: pending, then success). The token endpoint and
userinfo have their own budgets (tests/statement_budget); they are not counted here.
"""

from __future__ import annotations

import pytest

from psc_idp.directory import lookup

from .flows import activated_phone, run_ecps_push_login, run_persona_login
from .meter import Meter

# endpoint: (statements, round trips), per backend
PERSONA = {
    "sqlite": {
        "GET oidc.wallet_authorize": (1, 3),  # INSERT interaction (client cached)
        "POST login.resume": (7, 9),  # interaction, professional, guarded UPDATE interaction,
        # audit, INSERT session, INSERT code, INSERT session link
    },
    "postgresql": {
        "GET oidc.wallet_authorize": (1, 4),
        "POST login.resume": (7, 10),
    },
}
ECPS = {
    "sqlite": {
        "GET oidc.wallet_authorize": (1, 3),
        "GET login.begin": (1, 3),  # interaction only: a page view writes nothing
        # interaction, professional, devices, pending challenges, INSERT challenge, audit,
        # UPDATE interaction (data and means) (no row lock, no pg_notify on SQLite)
        "POST login.resume": (8, 10),
        # waiting page: interaction, challenge, devices; completion: interaction, challenge,
        # professional, guarded UPDATE interaction, audit, session, code, link
        "GET login.finish": (11, 15),
        "GET login.status": (6, 10),  # interaction, challenge, devices | professional
        "GET mobile.challenges": (2, 4),
        # device, challenge, PIN attempt reserved, released, answer UPDATE, professional, audit
        "POST mobile.answer": (7, 11),
    },
    "postgresql": {
        "GET oidc.wallet_authorize": (1, 4),
        "GET login.begin": (1, 4),
        "POST login.resume": (9, 12),  # + the row lock and pg_notify, - nothing
        "GET login.finish": (11, 17),
        "GET login.status": (6, 12),
        "GET mobile.challenges": (2, 5),
        "POST mobile.answer": (8, 14),  # + pg_notify
    },
}


@pytest.fixture
def steady(monkeypatch):
    """The persona list does not expire mid-test (its reload would count on a page)."""
    monkeypatch.setattr(lookup, "_SUMMARY_TTL", 3600.0)


def _check(meter: Meter, budget: dict[str, tuple[int, int]]) -> None:
    spent = {key: (cost.statements, cost.round_trips) for key, cost in meter.costs.items()
             if key in budget}
    assert set(spent) == set(budget), sorted(meter.costs)
    for key, (statements, trips) in budget.items():
        texts = "\n".join(f"{n} × {t}" for t, n in meter.costs[key].texts.items())
        assert spent[key][0] <= statements, f"{key}: {spent[key][0]} statements\n{texts}"
        assert spent[key][1] <= trips, f"{key}: {spent[key][1]} round trips\n{texts}"


def test_persona_login_statement_budget(live, backend, steady):
    meter = Meter(live.app)
    run_persona_login(live)  # warm-up: caches filled, connections opened
    meter.reset()
    run_persona_login(live)
    _check(meter, PERSONA[backend[0]])


def test_ecps_push_login_statement_budget(live, backend, steady, tmp_path):
    meter = Meter(live.app)  # before the app's first request (it adds request hooks)
    phone = activated_phone(live, tmp_path / "phone")
    run_ecps_push_login(live, phone)
    meter.reset()
    run_ecps_push_login(live, phone)
    _check(meter, ECPS[backend[0]])
