"""Statement budget: what each login kind sends to the database, at most.

Each test runs one login kind over real HTTP (warmed up once, the second login counted; only the
request threads count: docs/statement-budget.md) and fails when it costs more statements or
round trips (statements + BEGIN + COMMIT/ROLLBACK + pool pre-ping) than its budget: a change
that puts the ORM back on the hot path, or one more lookup, shows here with the statements.

Budgets are per backend: PostgreSQL adds the pool's pre-ping at each checkout and a BEGIN before
reads (sqlite3 only opens a transaction before a write). They were first set to the counts of
main at 21f0375, then lowered to what the issue-15 work left (client cache, Core on the token side,
guarded interaction and challenge updates); when a change lowers a count, lower the budget:
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


# authorize → persona page → persona POST (code) → token → userinfo. Per request (statements):
#   GET /auth 1 (INSERT interaction; the client comes from the per-process client cache),
#   POST /login/<uid>/persona 7 (professional; guarded UPDATE of the interaction; INSERT audit,
#   code, idp_session, idp_session_client), POST token 6 (rate-limit counter; code with its
#   professional + otherIds in one join; single-use UPDATE claim; INSERT grant, tokens, audit),
#   GET userinfo 3 (token, grant, professional + otherIds in one join;
#   practices/situations/structures; INSERT audit).
#   Round trips: + BEGIN/COMMIT per request, + one pool pre-ping per request on PostgreSQL.
#   Was 24 statements (32 / 36 round trips) at 21f0375, before the issue-15 work; 19 (27 / 31)
#   after its first step (9a9a2a8).
CODE_PERSONA = {"sqlite": Budget(17, 25), "postgresql": Budget(17, 29)}


def test_code_flow_with_the_persona_page(counted, backend):
    check(counted("code_persona"), backend, CODE_PERSONA)


# authorize with login_hint for a test_autologin client (code at once) → token → userinfo.
#   GET /auth 5 (professional by national id; INSERT audit, code, idp_session,
#   idp_session_client), POST token 6 and GET userinfo 3 as in CODE_PERSONA (was 20 at 21f0375,
#   16 at 9a9a2a8).
CODE_AUTOLOGIN = {"sqlite": Budget(14, 20), "postgresql": Budget(14, 23)}


def test_code_flow_with_test_autologin(counted, backend):
    check(counted("code_autologin"), backend, CODE_AUTOLOGIN)


# One refresh-token grant (the code login before it is not counted).
#   POST token 7: rate-limit counter; refresh token, grant and professional + otherIds in one
#   join; idp_session; UPDATE its last_seen_at; INSERT audit ×2 (rotation, issue), token
#   (was 11 at 21f0375, 8 at 9a9a2a8).
REFRESH = {"sqlite": Budget(7, 9), "postgresql": Budget(7, 10)}


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
#   Now (SQLite; PostgreSQL +1 where a pg_notify wakes the phones): GET /auth 2, GET the
#   e-CPS page 1, POST it 8, GET …/finish ×2 11, phone GET challenges 2, POST answer 7, token 7,
#   userinfo 4 (the client from the cache; the page view no longer writes; the challenge read
#   and settled by Core). Was 51 / 53 at 21f0375; the breakdown above is that older one.
ECPS_PUSH = {"sqlite": Budget(42, 56), "postgresql": Budget(44, 77)}


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
#   Now: ciba/auth 8 (9 on PostgreSQL), token polls 20, phone 2 + 7 (8), userinfo 4 (was 45/47).
CIBA_POLL = {"sqlite": Budget(41, 53), "postgresql": Budget(43, 64)}


def test_ciba_poll(counted, backend):
    check(counted("ciba_poll"), backend, CIBA_POLL)
