"""Statement budget: what each login kind sends to the database, at most.

Each test runs one login kind over real HTTP (warmed up once, the second login counted; only the
request threads count: docs/statement-budget.md) and fails when it costs more statements or
round trips (statements + BEGIN + COMMIT/ROLLBACK) than its budget: a change
that puts the ORM back on the hot path, or one more lookup, shows here with the statements.

Budgets are per backend: PostgreSQL adds a BEGIN before reads (sqlite3 only opens a transaction
before a write); until 2026-12-07 it also added the pool's pre-ping at each checkout (a round
trip per request, now a poll() of the socket: psc_idp/pool_liveness.py). They were first set to
the counts of main at 21f0375, then lowered to what the issue-15 work left (client cache, Core on
the token side, guarded interaction and challenge updates); when a change lowers a count, lower
the budget: the measured counts are printed and written to
<basetemp>/statement-budget/*.json, and ``benchmarks/statements.py --json [--database-url …]``
prints them all.
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
#   Round trips: + BEGIN/COMMIT per request.
#   Was 24 statements (32 / 36 round trips) at 21f0375, before the issue-15 work; 19 (27 / 31)
#   after its first step (9a9a2a8); 17 (25 / 29) with the pool's pre-ping (c5c43c6).
CODE_PERSONA = {"sqlite": Budget(17, 25), "postgresql": Budget(17, 25)}


def test_code_flow_with_the_persona_page(counted, backend):
    check(counted("code_persona"), backend, CODE_PERSONA)


# authorize with login_hint for a test_autologin client (code at once) → token → userinfo.
#   GET /auth 5 (professional by national id; INSERT audit, code, idp_session,
#   idp_session_client), POST token 6 and GET userinfo 3 as in CODE_PERSONA (was 20 at 21f0375,
#   16 at 9a9a2a8).
CODE_AUTOLOGIN = {"sqlite": Budget(14, 20), "postgresql": Budget(14, 20)}


def test_code_flow_with_test_autologin(counted, backend):
    check(counted("code_autologin"), backend, CODE_AUTOLOGIN)


# One refresh-token grant (the code login before it is not counted).
#   POST token 7: rate-limit counter; refresh token, grant and professional + otherIds in one
#   join; idp_session; UPDATE its last_seen_at; INSERT audit ×2 (rotation, issue), token
#   (was 11 at 21f0375, 8 at 9a9a2a8).
REFRESH = {"sqlite": Budget(7, 9), "postgresql": Budget(7, 9)}


def test_refresh(counted, backend):
    check(counted("refresh"), backend, REFRESH)


# e-CPS push login, the virtual phone approving (SQLite statements; PostgreSQL adds a pg_notify
# where the phones are woken, and BEGIN and COMMIT per request in round trips).
#   GET /auth 2: professional + otherIds (login_hint); INSERT interaction (one transaction).
#   GET /login/<uid>/ecps 1: interaction (the page view writes nothing).
#   POST /login/<uid>/ecps 8: interaction; professional; devices (PostgreSQL: with the
#     professional's row lock, FOR UPDATE); SQLite: the lock as UPDATE … SET id=id; pending
#     challenges; INSERT challenge, audit; UPDATE interaction data.
#   GET …/finish ×2 10: waiting (interaction; the look: challenge + usable device + the
#     professional's refusal columns in one statement), then approved (the same two; guarded
#     UPDATE interaction; professional + otherIds; INSERT idp_session, audit, code,
#     idp_session_client).
#   phone GET challenges 1 (device + pending in one statement; no transaction on PostgreSQL),
#     POST answer 4 (device + challenge + national id; the device row locked while the PIN is
#     checked and counted; UPDATE challenge guarded by status; INSERT audit).
#   token 6, userinfo 3: as in CODE_PERSONA.
#   Was 51 / 53 statements at 21f0375, 42 / 44 at 9a9a2a8.
ECPS_PUSH = {"sqlite": Budget(35, 47), "postgresql": Budget(35, 51)}


def test_ecps_push_login(counted, backend):
    check(counted("ecps_push"), backend, ECPS_PUSH)


# CIBA poll mode: backchannel request → one poll (pending) → the phone approves → poll (tokens)
# → userinfo (SQLite statements).
#   POST ciba/auth 6: professional + otherIds (login_hint); devices; the professional's lock
#     (PostgreSQL: with the devices read, FOR UPDATE); pending challenges; INSERT audit,
#     challenge.
#   POST token pending 4: rate-limit counter; the request (challenge row); UPDATE its polling
#     state; INSERT audit.
#   POST token approved 13: rate-limit counter; the request; professional + otherIds;
#     SAVEPOINT, INSERT grant, RELEASE (a second redemption fails on the key); UPDATE the
#     request; INSERT idp_session; UPDATE grant session; INSERT idp_session_client, audit ×2,
#     token.
#   phone GET challenges 1, POST answer 4, GET userinfo 3: as in ECPS_PUSH.
#   Was 45 / 47 statements at 21f0375, 41 / 43 at 9a9a2a8.
CIBA_POLL = {"sqlite": Budget(31, 41), "postgresql": Budget(32, 42)}


def test_ciba_poll(counted, backend):
    check(counted("ciba_poll"), backend, CIBA_POLL)
