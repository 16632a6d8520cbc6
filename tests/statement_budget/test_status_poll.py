"""Statement budget of the e-CPS waiting page's status poll: the one endpoint of a login that
no budgeted login kind counts (test_budget.py's ``ecps_push`` goes from the waiting page to the
finish without polling; the browser's page and benchmarks/load.py poll).

Counted in the ``ecps_push_polled`` kind (benchmarks/statements.py): the e-CPS push login with
``GET …/status?wait=0`` once before the phone answers (pending) and once after (success); only
that endpoint is checked here, the rest of the login is test_budget.py's.
"""

from __future__ import annotations

from benchmarks.statements import Login, measure

from .test_budget import Budget

STATUS = "GET /login/<uid>/<auth_id>/status"

# The two polls together: each reads the interaction and makes the login's look (challenge,
# usable device and the professional's refusal columns in one statement). Read-only in the
# common case, but a poll that finds the push expired writes the expiry and its audit row, so
# it keeps its transaction: on PostgreSQL each request adds a BEGIN and a COMMIT (was 6
# statements, 6 / 12 round trips before the e-CPS look became one statement, 4 / 10 with the
# pool's pre-ping).
STATUS_POLLS = {"sqlite": Budget(4, 4), "postgresql": Budget(4, 8)}


def test_ecps_status_polls(login: Login, backend):
    measurement = measure(login, "ecps_push_polled")
    polls = measurement.endpoints[STATUS]
    budget = STATUS_POLLS[backend[0]]
    assert polls.requests == 2, measurement.report(with_statements=False)
    assert len(polls.statements) <= budget.statements and \
        polls.round_trips <= budget.round_trips, (
            f"status polls over their budget on {backend[0]}: {len(polls.statements)} "
            f"statements (budget {budget.statements}), {polls.round_trips} round trips "
            f"(budget {budget.round_trips})\n{measurement.report()}")
