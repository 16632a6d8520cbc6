"""Property-based checks of the mobile API against its own OpenAPI 3.1 document (schemathesis).

The provider runs over HTTP (``live``: SQLite and PostgreSQL); schemathesis loads
``/api/mobile/v1/openapi.json`` from it and, for every operation, sends generated requests —
valid (positive) and invalid (negative) — with the bearer token of an activated virtual phone.
Every answer must be: no 5xx, a documented status code with the documented content type, and a
body matching the documented schema.

Random generation rarely hits two inputs found by hand, so they are fixed cases below, checked
the same way: a NUL character in an identifier or a name (PostgreSQL text cannot hold one:
a DataError and a 500 there, while SQLite stores it), and ``GET /challenges?wait=nan`` (NaN
passes ``min``/``max`` and the long-poll's deadline is never reached).

schemathesis' own pytest integration (``schemathesis.pytest.from_fixture``) does not run under
pytest 9 (its subtests use ``Function._nodeid``), so each operation is one parametrised test
that drives the operation's hypothesis strategy itself.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
import requests
import schemathesis
from cryptography.hazmat.primitives import serialization
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode, checks
from schemathesis.core.failures import FailureGroup

from clients.ecps_app.phone import EcpsPhone
from psc_idp import sse
from psc_idp.mobile.openapi import openapi_document
from tests.ecps.test_mobile_api import GP, PIN, push_login

MAX_EXAMPLES = 25
CHECKS = [checks.not_a_server_error, checks.status_code_conformance,
          checks.content_type_conformance, checks.response_schema_conformance,
          checks.ignored_auth, checks.negative_data_rejection]
LENIENT = {("/challenges", "get"): [checks.negative_data_rejection]}
"""By design the provider clamps ``wait`` into [0, 25] instead of refusing -1 or 30."""
FEWER_EXAMPLES = {("/challenges/stream", "get"): 5}
"""Each call of the event stream lasts its whole (1 s here) duration; it has no inputs."""
OPERATIONS = [(path, method) for path, item in openapi_document("http://x")["paths"].items()
              for method in item if method in ("get", "post", "patch", "delete", "put")]


@pytest.fixture
def live(make_live):
    """Event streams (``/challenges/stream``) end after a second here, not a minute."""
    yield make_live(ecps={"stream_max_duration": 1, "stream_heartbeat": 1})
    assert sse.wait_until_closed(timeout=15), "an event stream is still open"


@pytest.fixture
def phone_token(live, tmp_path) -> str:
    phone = EcpsPhone(live.base_url, tmp_path / "phone", GP)
    phone.activate(PIN)
    # A pending login: GET /challenges answers at once instead of long-polling up to 25 s.
    push_login(live, GP)
    return phone._load()["device_token"]


def _run(operation: Any, mode: GenerationMode, token: str, excluded: list[Any],
         examples: int = MAX_EXAMPLES) -> list[str]:
    failures: list[str] = []

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=examples, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck), report_multiple_bugs=False)
    def check(case: Any) -> None:
        case.call_and_validate(headers={"Authorization": f"Bearer {token}"},
                               checks=[c for c in CHECKS if c not in excluded], timeout=30)

    try:
        check()
    except (Exception, FailureGroup) as exc:  # schemathesis' report, or hypothesis' own
        failures.append(f"{mode.value}: {exc}")
    return failures


@pytest.mark.parametrize(("path", "method"), OPERATIONS,
                         ids=[f"{m.upper()} {p}" for p, m in OPERATIONS])
def test_operation_conforms_to_the_openapi_document(live, phone_token, path, method):
    schema = schemathesis.openapi.from_url(live.base_url + "/api/mobile/v1/openapi.json")
    operation = schema[path][method.upper()]
    excluded = LENIENT.get((path, method), [])
    examples = FEWER_EXAMPLES.get((path, method), MAX_EXAMPLES)
    failures = _run(operation, GenerationMode.POSITIVE, phone_token, excluded, examples)
    failures += _run(operation, GenerationMode.NEGATIVE, phone_token, excluded, examples)
    assert not failures, "\n\n".join(failures)


# ----------------------------------------------------------------------------- fixed cases
NUL = "a\x00b"
VERIFY = {"email_code": "000000", "sms_code": "000000"}
ANSWER = {"decision": "approve", "pin": PIN, "signature": "AAAA"}
EDGE_CASES = {
    "verify: NUL in activation_id": (
        "/activations/{activation_id}/verify", "POST", {"activation_id": NUL}, VERIFY),
    "complete: NUL in activation_id": (
        "/activations/{activation_id}/complete", "POST", {"activation_id": NUL},
        {"activation_token": "x", "pin": PIN, "device_public_key": "x"}),
    "rename: NUL in device_id": (
        "/devices/{device_id}", "PATCH", {"device_id": NUL}, {"name": "x"}),
    "revoke: NUL in device_id": ("/devices/{device_id}", "DELETE", {"device_id": NUL}, None),
    "answer: NUL in challenge_id": (
        "/challenges/{challenge_id}/answer", "POST", {"challenge_id": NUL}, ANSWER),
    "start: NUL in national_id": ("/activations", "POST", {}, {"national_id": "8100999\x00"}),
}


def _validate(schema: Any, token: str, path: str, method: str,
              path_parameters: dict[str, str], body: Any) -> str | None:
    """None if the answer passes the checks, else schemathesis' report."""
    operation = schema[path][method]
    case = (operation.Case(path_parameters=path_parameters) if body is None else
            operation.Case(path_parameters=path_parameters, body=body,
                           media_type="application/json"))
    try:
        case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, checks=CHECKS,
                               timeout=30)
    except (Exception, FailureGroup) as exc:  # FailureGroup: schemathesis' report
        return f"{method} {path} {path_parameters} {body!r}:\n{exc}"
    return None


def _verified_activation(live, tmp_path) -> tuple[str, str]:
    api = live.base_url + "/api/mobile/v1"
    started = requests.post(api + "/activations", json={"national_id": GP}, timeout=10).json()
    email_code, sms_code = EcpsPhone(live.base_url, tmp_path / "other", GP).read_outbox_codes()
    verified = requests.post(f"{api}/activations/{started['activation_id']}/verify", timeout=10,
                             json={"email_code": email_code, "sms_code": sms_code}).json()
    return started["activation_id"], verified["activation_token"]


def test_nul_characters_are_client_errors(live, phone_token, tmp_path):
    """PostgreSQL refuses NUL in text (psycopg DataError): the API must answer 4xx first."""
    schema = schemathesis.openapi.from_url(live.base_url + "/api/mobile/v1/openapi.json")
    phone = EcpsPhone(live.base_url, tmp_path / "phone", GP)
    cases = list(EDGE_CASES.values())
    cases.append(("/devices/{device_id}", "PATCH", {"device_id": phone._load()["device_id"]},
                  {"name": NUL}))
    activation_id, token = _verified_activation(live, tmp_path)
    cases.append(("/activations/{activation_id}/complete", "POST",
                  {"activation_id": activation_id},
                  {"activation_token": token, "pin": PIN, "device_name": NUL,
                   "device_public_key": phone._key().public_key().public_bytes(
                       serialization.Encoding.PEM,
                       serialization.PublicFormat.SubjectPublicKeyInfo).decode()}))
    failures = [f for f in (_validate(schema, phone_token, *case) for case in cases) if f]
    assert not failures, f"{len(failures)} of {len(cases)} cases failed:\n\n" + \
        "\n\n".join(failures)


def test_wait_nan_does_not_long_poll_forever(live, tmp_path):
    phone = EcpsPhone(live.base_url, tmp_path / "phone", GP)
    phone.activate(PIN)
    token = phone._load()["device_token"]
    answers: list[requests.Response] = []

    def poll() -> None:
        answers.append(requests.get(live.base_url + "/api/mobile/v1/challenges",
                                    params={"wait": "nan"}, timeout=60,
                                    headers={"Authorization": f"Bearer {token}"}))

    poller = threading.Thread(target=poll)
    poller.start()
    poller.join(timeout=5)
    if poller.is_alive():
        # A login ends the server's loop; wait for it, so no request outlives the test.
        push_login(live, GP)
        poller.join()
        pytest.fail("GET /challenges?wait=nan with nothing pending did not answer within 5 s "
                    "(the documented maximum is 25 s): the long-poll only ends when a login "
                    "arrives", pytrace=False)
    [response] = answers
    assert response.status_code in (200, 400), response.text
    assert response.json().get("error", "invalid_request") == "invalid_request"
