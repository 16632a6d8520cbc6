"""Abuse limits (``psc_idp/ratelimit``, issue 11 items 7 and 12): activation starts, client
secret spraying and token endpoint abuse, over real HTTP.

Every test runs on SQLite and PostgreSQL (the ``backend`` fixture), with the counters in the
database and in Redis (``store``; Redis on 127.0.0.1:6379, a key prefix per test), against two
provider instances on one database: the limits hold whichever instance a request reaches.
Client addresses are set with ``X-Forwarded-For`` from a trusted hop (``[proxy]``), as a
reverse proxy would, so one test plays many sources.
"""

from __future__ import annotations

import re
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from psc_idp.audit import AuditEvent
from psc_idp.config import ConfigError, load_settings
from psc_idp.credentials.models import OutboxMessage
from psc_idp.db import db
from psc_idp.oidc import secrets as client_secrets
from psc_idp.ratelimit import RateLimitCounter
from tests.psc_actions import DEMO_CLIENT, PscActions
from tests.served import fire

GP = "810099900010"
NURSE = "810099900119"
API = "/api/mobile/v1"
TOKEN = "/auth/realms/esante-wallet/protocol/openid-connect/token"
INTROSPECT = TOKEN + "/introspect"
REDIS = "redis://127.0.0.1:6379/0"
GENEROUS = {"activation_per_professional": "1000/hour", "activation_per_address": "1000/hour",
            "client_auth_failures_per_client": "1000/minute",
            "client_auth_failures_per_client_address": "1000/minute",
            "client_auth_failures_per_address": "1000/minute",
            "token_refusals_per_address": "1000/minute", "token_per_address": ""}
"""Every limit out of the way; each test tightens the ones it is about."""


@pytest.fixture(params=["database", "redis"])
def store(request: pytest.FixtureRequest) -> Iterator[dict[str, str]]:
    """Where the counters live: the provider's database, or Redis under a prefix of its own
    (deleted afterwards)."""
    if request.param == "database":
        yield {"storage": ""}
        return
    import redis

    prefix = f"psc-idp-test-{uuid.uuid4().hex[:12]}"
    yield {"storage": REDIS, "key_prefix": prefix}
    connection = redis.Redis.from_url(REDIS)
    keys = list(connection.scan_iter(f"{prefix}:*"))
    if keys:
        connection.delete(*keys)
    connection.close()
    assert keys, "the counters were not kept in Redis"


@pytest.fixture
def pair(make_live, store) -> Callable[..., tuple[Any, Any]]:
    """Two instances on one database, behind a trusted proxy hop, with these limits."""
    def build(**limits: str) -> tuple[Any, Any]:
        settings = {"rate_limits": {**GENEROUS, **store, **limits},
                    "proxy": {"trusted_hops": 1}}
        return make_live(**settings), make_live(**settings)
    return build


def rows(live, model: Any, **where: Any) -> list[Any]:
    with live.app.app_context():
        query = db.select(model)
        for name, value in where.items():
            query = query.where(getattr(model, name) == value)
        return list(db.session.scalars(query))


def start(live, national_id: str = GP, address: str = "198.51.100.7", **body: Any
          ) -> requests.Response:
    return requests.post(live.base_url + API + "/activations", timeout=30,
                         headers={"X-Forwarded-For": address},
                         json={"national_id": national_id, **body})


def refused_as_too_many(answer: requests.Response, message: str) -> None:
    assert answer.status_code == 429, (answer.status_code, answer.text)
    body = answer.json()
    assert body["error"] == "too_many_requests" and message in body["error_description"]
    assert 0 < int(answer.headers["Retry-After"]) <= 3600
    assert answer.headers["Cache-Control"] == "no-store"


# ----------------------------------------------------------------------------- activations
def test_activation_starts_beyond_the_professional_limit_are_refused(pair):
    a, b = pair(activation_per_professional="3/hour")
    answers = [start((a, b)[i % 2]) for i in range(5)]
    assert [r.status_code for r in answers] == [201, 201, 201, 429, 429]
    refused_as_too_many(answers[3], "Trop de demandes d'activation pour ce professionnel")
    assert re.search(r"Réessayez dans (59|60) min\.", answers[3].json()["error_description"])
    assert len(rows(a, OutboxMessage, national_id=GP)) == 6  # 3 e-mails, 3 SMS: no more
    refusals = rows(a, AuditEvent, event="ratelimit.refused")
    assert len(refusals) == 2 and {r.subject for r in refusals} == {GP}
    assert {r.details["limit"] for r in refusals} == {"activation_per_professional"}
    # another professional, and a card activation (it sends nothing), are not held up
    assert start(b, NURSE).status_code == 201
    assert start(a, method="card").status_code == 201  # a challenge for the card to sign


def test_ten_starts_at_once_send_at_most_the_allowed_messages(pair, store):
    """The finding: 10 starts in 0.2 s sent 20 e-mails/SMS to one professional."""
    a, b = pair(activation_per_professional="3/hour")
    began = time.monotonic()
    answers = fire(10, lambda i: start((a, b)[i % 2]))
    elapsed = time.monotonic() - began
    assert Counter(r.status_code for r in answers) == {201: 3, 429: 7}, elapsed
    assert len(rows(a, OutboxMessage, national_id=GP)) == 6
    assert len(rows(a, AuditEvent, event="ecps.activation_started")) == 3
    # counted where configured: the database's table, or Redis alone
    assert bool(rows(a, RateLimitCounter)) == (store["storage"] == "")


def test_activation_starts_are_limited_per_address_ipv6_per_64(pair):
    a, b = pair(activation_per_address="2/hour")
    assert start(a, GP, "203.0.113.5").status_code == 201
    assert start(b, NURSE, "203.0.113.5").status_code == 201
    refused_as_too_many(start(a, GP, "203.0.113.5"), "depuis cette adresse")
    assert start(b, GP, "203.0.113.6").status_code == 201  # another address
    # IPv6 counts per /64: rotating the interface id does not help
    assert start(a, GP, "2001:db8:0:7::1").status_code == 201
    assert start(b, NURSE, "2001:db8:0:7::2").status_code == 201
    refused_as_too_many(start(a, GP, "2001:db8:0:7::3"), "depuis cette adresse")
    assert start(b, GP, "2001:db8:0:8::1").status_code == 201


# ----------------------------------------------------------------------------- client secrets
def _count_argon2(monkeypatch) -> list[bool]:
    """Every argon2id client-secret check made by either instance (they share this process)."""
    checks: list[bool] = []
    hasher = client_secrets._hasher

    class Counting:
        def verify(self, stored: str, presented: str) -> bool:
            checks.append(True)
            return hasher.verify(stored, presented)

        def __getattr__(self, name: str) -> Any:
            return getattr(hasher, name)

    monkeypatch.setattr(client_secrets, "_hasher", Counting())
    return checks


def _codes(live, count: int) -> list[tuple[Any, str]]:
    """``count`` authorization codes of the demo client (persona logins)."""
    psc = PscActions(live.issuer)
    rp = psc.client()
    return [psc.login(rp) for _ in range(count)]


def _redeem(live, start_and_callback: tuple[Any, str], address: str,
            secret: str = DEMO_CLIENT[1]) -> requests.Response:
    started, callback = start_and_callback
    code = re.search(r"[?&]code=([^&]+)", callback).group(1)
    return requests.post(live.base_url + TOKEN, auth=(DEMO_CLIENT[0], secret), timeout=60,
                         headers={"X-Forwarded-For": address},
                         data={"grant_type": "authorization_code", "code": code,
                               "redirect_uri": DEMO_CLIENT[2],
                               "code_verifier": started.verifier})


def test_client_secret_spraying_is_refused_before_argon2_and_the_client_keeps_its_tokens(
        pair, monkeypatch):
    """16 threads guess the demo client's secret, each from its own address, 8 guesses each,
    across both instances; its own servers (another address) redeem codes meanwhile."""
    a, b = pair(client_auth_failures_per_client="10/minute",
                client_auth_failures_per_client_address="3/minute",
                client_auth_failures_per_address="60/minute")
    codes = _codes(a, 6)
    client_secrets._verified.clear()
    assert _redeem(a, codes.pop(), "192.0.2.10").status_code == 200  # the client, before
    checks = _count_argon2(monkeypatch)
    threads, guesses = 16, 8

    def spray(i: int) -> list[int]:
        address = f"198.51.100.{i + 1}"
        server = (a, b)[i % 2]
        return [requests.post(server.base_url + INTROSPECT, timeout=60,
                              auth=(DEMO_CLIENT[0], f"guess-{i}-{n}"),
                              headers={"X-Forwarded-For": address},
                              data={"token": "x"}).status_code for n in range(guesses)]

    def legitimate(i: int) -> list[int]:
        if i >= threads:  # the client's own servers, while the spray runs
            return [_redeem((a, b)[i % 2], codes.pop(), "192.0.2.10").status_code]
        return spray(i)

    results = fire(threads + 2, legitimate)
    sprayed = Counter(status for result in results[:threads] for status in result)
    assert sum(sprayed.values()) == threads * guesses
    assert [r[0] for r in results[threads:]] == [200, 200]  # tokens all along
    # each wrong guess that was checked is a 401; the others were refused unchecked (429):
    # 10 for the client's budget, then at most one per address that had none yet
    assert sprayed[401] == len(checks) and set(sprayed) <= {401, 429}
    assert len(checks) <= 10 + threads, len(checks)
    assert sprayed[429] >= threads * guesses - 10 - threads
    refusals = rows(a, AuditEvent, event="ratelimit.refused")
    assert {r.details["limit"] for r in refusals} <= {
        "client_auth_failures_per_client", "client_auth_failures_per_client_address"}
    assert len(refusals) == sprayed[429]

    # Later, a new process (nothing remembered) of the client, from its own address: checked
    client_secrets._verified.clear()
    before = len(checks)
    assert _redeem(b, codes.pop(), "192.0.2.10").status_code == 200
    assert len(checks) == before + 1
    # from a spraying address the client is refused until the window ends (the trade-off:
    # a stranger on the client's own address can hold it up for a minute)...
    client_secrets._verified.clear()
    held = _redeem(a, codes.pop(), "198.51.100.1")
    assert held.status_code == 429 and held.json()["error"] == "slow_down"
    assert 1 <= int(held.headers["Retry-After"]) <= 60
    # ...unless its secret was already verified by that process: never counted nor refused
    assert _redeem(a, codes.pop(), "192.0.2.10").status_code == 200
    assert _redeem(b, _codes(a, 1)[0], "198.51.100.1").status_code == 200


def test_wrong_secrets_from_one_address_are_refused_unchecked_for_every_client(pair,
                                                                                monkeypatch):
    a, b = pair(client_auth_failures_per_address="4/minute")
    checks = _count_argon2(monkeypatch)
    answers = [requests.post((a, b)[i % 2].base_url + INTROSPECT, timeout=30,
                             auth=(client, "wrong"), data={"token": "x"},
                             headers={"X-Forwarded-For": "198.51.100.99"})
               for i, client in enumerate(["psc-demo-rp", "psc-demo-mss"] * 3)]
    assert [r.status_code for r in answers] == [401] * 4 + [429] * 2
    assert len(checks) == 4
    assert answers[-1].json()["error"] == "slow_down" and "Retry-After" in answers[-1].headers


# ----------------------------------------------------------------------------- token endpoint
def test_token_endpoint_abuse_from_one_address_is_refused_and_others_are_served(pair):
    a, b = pair(token_refusals_per_address="10/minute")
    codes = _codes(a, 1)

    def bogus(i: int) -> requests.Response:
        return requests.post((a, b)[i % 2].base_url + TOKEN, timeout=30,
                             headers={"X-Forwarded-For": "203.0.113.66"},
                             auth=(DEMO_CLIENT[0], DEMO_CLIENT[1]),
                             data={"grant_type": "authorization_code", "code": f"guess-{i}",
                                   "redirect_uri": DEMO_CLIENT[2], "code_verifier": "v" * 43})

    answers = [bogus(i) for i in range(14)]
    assert [r.status_code for r in answers] == [400] * 10 + [429] * 4
    refused = answers[-1]
    assert refused.json()["error"] == "slow_down"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert refused.headers["Cache-Control"] == "no-store"
    # the client itself, from its own address, is served
    assert _redeem(b, codes[0], "192.0.2.10").status_code == 200
    assert len(rows(a, AuditEvent, event="ratelimit.refused")) == 4


def test_token_requests_per_address_when_set(pair):
    a, b = pair(token_per_address="5/minute")
    answers = [requests.post((a, b)[i % 2].base_url + TOKEN, timeout=30,
                             headers={"X-Forwarded-For": "203.0.113.77"},
                             data={"grant_type": "client_credentials"}) for i in range(7)]
    assert [r.status_code for r in answers][5:] == [429, 429]
    assert all(r.status_code != 429 for r in answers[:5])


# ----------------------------------------------------------------------------- storage
def test_limits_hold_in_the_database_while_redis_is_down(make_live, caplog):
    limits = {**GENEROUS, "activation_per_professional": "2/hour",
              "storage": "redis://127.0.0.1:9/0"}  # nothing listens there
    a = make_live(rate_limits=limits)
    assert [start(a).status_code for _ in range(3)] == [201, 201, 429]
    assert any("counting in the database instead" in r.getMessage() for r in caplog.records)


def test_bad_limit_settings_fail_at_start():
    with pytest.raises(ConfigError, match="rate_limits.activation_per_address"):
        load_settings({"rate_limits": {"activation_per_address": "lots"}}, environ={})
    with pytest.raises(ConfigError, match="redis:// URL"):
        load_settings({"rate_limits": {"storage": "memcached://x:1"}}, environ={})
    defaults = load_settings({}, environ={}).rate_limits
    assert defaults.activation_per_professional == "3/hour" and defaults.storage == ""


def test_a_burst_of_first_calls_with_the_right_secret_costs_one_check_and_no_budget(
        pair, monkeypatch):
    """Twelve simultaneous first calls of a client whose secret no process has verified yet:
    they share one argon2 check (single flight) instead of each spending the failure budget,
    so none is refused although the (client, address) budget is smaller than the burst."""
    a, _ = pair(client_auth_failures_per_client_address="3/minute")
    client_secrets._verified.clear()
    checks = _count_argon2(monkeypatch)

    def introspect(_: int) -> requests.Response:
        return requests.post(a.issuer + "/protocol/openid-connect/token/introspect",
                             auth=(DEMO_CLIENT[0], DEMO_CLIENT[1]), data={"token": "x"},
                             headers={"X-Forwarded-For": "192.0.2.44"}, timeout=60)

    answers = fire(12, introspect)
    assert [r.status_code for r in answers] == [200] * 12, [r.text for r in answers]
    assert all(r.json() == {"active": False} for r in answers)
    assert len(checks) <= 2  # one leader; a follower that waited past its bound checks too
