"""Statement budget: what each login kind sends to the database, at most.

Each test runs one login kind over real HTTP (warmed up once, the second login counted; only the
request threads count: docs/statement-budget.md) and fails when it costs more statements or
round trips (statements + BEGIN + COMMIT/ROLLBACK + pool pre-ping) than its budget: a change
that puts the ORM back on the hot path, or one more lookup, shows here with the statements.

Budgets are per backend: PostgreSQL adds the pool's pre-ping at each checkout and a BEGIN before
reads (sqlite3 only opens a transaction before a write). They were set to the counts of main at
21f0375 (the issue-15 work had not landed yet); when a change lowers a count, lower the budget:
the measured counts are printed and written to <basetemp>/statement-budget/*.json, and
``benchmarks/statements.py --json [--database-url …]`` prints them all.
"""

from __future__ import annotations

from typing import NamedTuple

from benchmarks.statements import Measurement


class Budget(NamedTuple):
    statements: int
    round_trips: int


def check(measurement: Measurement, backend: tuple[str, str],
          budgets: dict[str, Budget]) -> None:
    budget = budgets[backend[0]]
    assert measurement.statements <= budget.statements and \
        measurement.round_trips <= budget.round_trips, (
            f"over the statement budget on {backend[0]}: {measurement.statements} statements "
            f"(budget {budget.statements}), {measurement.round_trips} round trips (budget "
            f"{budget.round_trips})\n{measurement.report()}")


# authorize → persona page → persona POST (code) → token → userinfo.
#   GET /auth (2): client; INSERT interaction.
#   POST /login/<uid>/persona (8): interaction, client, professional by national id; INSERT
#     audit, code; UPDATE interaction state; INSERT idp_session, idp_session_client.
#   POST token (9): rate-limit counter, client, code; UPDATE code (single-use claim); INSERT
#     grant; professional, its other identifiers; INSERT audit, token.
#   GET userinfo (5): token+grant; professional with practices/activities/structures; other
#     identifiers; client; INSERT audit.
#   Round trips: + BEGIN/COMMIT per request (4+4), + one pre-ping per request on PostgreSQL
#   (and a BEGIN before a read-only start there).
CODE_PERSONA = {"sqlite": Budget(24, 32), "postgresql": Budget(24, 36)}


def test_code_flow_with_the_persona_page(counted, backend):
    check(counted("code_persona"), backend, CODE_PERSONA)


# authorize with login_hint for a test_autologin client (code at once) → token → userinfo.
#   GET /auth (6): client, professional by national id; INSERT audit, code, idp_session,
#     idp_session_client.
#   POST token (9) and GET userinfo (5): as in CODE_PERSONA.
CODE_AUTOLOGIN = {"sqlite": Budget(20, 26), "postgresql": Budget(20, 29)}


def test_code_flow_with_test_autologin(counted, backend):
    check(counted("code_autologin"), backend, CODE_AUTOLOGIN)


# One refresh-token grant (the code login before it is not counted).
#   POST token (11 on SQLite): rate-limit counter, client, refresh token, grant, idp_session;
#     UPDATE session last_seen_at; professional, other identifiers; INSERT audit ×2 (rotation,
#     issue), token. PostgreSQL: 10 (the two audit rows go in one INSERT there).
REFRESH = {"sqlite": Budget(11, 13), "postgresql": Budget(10, 13)}


def test_refresh(counted, backend):
    check(counted("refresh"), backend, REFRESH)


# e-CPS push login, the virtual phone approving.
#   GET /auth (3): client, professional (login_hint); INSERT interaction.
#   GET /login/<uid>/ecps (3): interaction, client; UPDATE interaction authenticator.
#   POST /login/<uid>/ecps (9; 10 on PostgreSQL): interaction, client, professional, devices;
#     lock the professional (SQLite: UPDATE … SET id=id; PostgreSQL: SELECT … FOR UPDATE);
#     pending challenges; (PostgreSQL: pg_notify, the phones' wakeup); INSERT challenge, audit;
#     UPDATE interaction data.
#   GET …/ecps/finish ×2 (13): waiting (interaction, client, challenge, devices), then
#     approved (interaction, client, challenge, professional; INSERT audit, code; UPDATE
#     interaction; INSERT idp_session, idp_session_client).
#   phone GET /api/mobile/v1/challenges (2): device by token, pending challenges.
#   phone POST …/answer (7; 8 on PostgreSQL, + pg_notify): device, challenge; PIN attempt
#     UPDATE … RETURNING and reset; UPDATE challenge guarded by status; professional; INSERT
#     audit.
#   POST token (9), GET userinfo (5): as in CODE_PERSONA.
ECPS_PUSH = {"sqlite": Budget(51, 67), "postgresql": Budget(53, 83)}


def test_ecps_push_login(counted, backend):
    check(counted("ecps_push"), backend, ECPS_PUSH)


# CIBA poll mode: backchannel request → one poll (pending) → the phone approves → poll (tokens)
# → userinfo.
#   POST ciba/auth (9; 10 on PostgreSQL, + pg_notify): client, professional, devices; lock
#     the professional; pending challenges; INSERT challenge; devices again; INSERT audit;
#     UPDATE challenge.
#   POST token pending (6): rate-limit counter, client, challenge, grant; INSERT audit;
#     UPDATE challenge.
#   POST token approved (16): rate-limit counter, client, challenge, grant, professional;
#     SAVEPOINT, INSERT grant, RELEASE; INSERT audit; UPDATE challenge, grant; INSERT
#     idp_session, idp_session_client; other identifiers; INSERT audit, token.
#   phone GET challenges (2), POST answer (7; 8 on PostgreSQL), GET userinfo (5): as above.
CIBA_POLL = {"sqlite": Budget(45, 57), "postgresql": Budget(47, 68)}


def test_ciba_poll(counted, backend):
    check(counted("ciba_poll"), backend, CIBA_POLL)
