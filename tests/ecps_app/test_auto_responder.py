"""``AutoResponder``: the phone answering by itself in a thread, as login tests use it."""

from __future__ import annotations

import time

import pytest

from clients.ecps_app.phone import AutoResponder, EcpsPhone, PhoneError
from tests.ecps.test_mobile_api import GP, NURSE, PIN, push_login, status_of


@pytest.fixture
def phone(live, tmp_path) -> EcpsPhone:
    phone = EcpsPhone(live.base_url, tmp_path / "phone", GP)
    phone.activate(PIN)
    return phone


@pytest.mark.one_backend
def test_approve_with_the_right_pin(live, phone):
    with AutoResponder(phone, "approve", pin=PIN) as responder:
        challenge_id = push_login(live, GP)
        [outcome] = responder.wait_for(1, answered=True)
    assert outcome.decision == "approve" and outcome.error is None
    assert outcome.result["status"] == "approved" and status_of(live, challenge_id) == "approved"
    assert responder.seen[0]["challenge_id"] == challenge_id


@pytest.mark.one_backend
def test_deny(live, phone):
    with AutoResponder(phone, "deny", pin=PIN) as responder:
        challenge_id = push_login(live, GP)
        responder.wait_for(1, answered=True)
    assert responder.answered[0]["status"] == "denied"
    assert status_of(live, challenge_id) == "denied"


def test_wrong_pin_is_refused_once_per_login(live, phone):
    with AutoResponder(phone, "wrong_pin", pin=PIN, poll=0.3) as responder:
        challenge_id = push_login(live, GP)
        [outcome] = responder.wait_for(1, answered=True)
        time.sleep(1)  # a few more polls: the same login is not answered again
    assert len(responder.outcomes) == 1
    assert outcome.error is not None and outcome.error.code == "invalid_pin"
    assert status_of(live, challenge_id) == "pending"
    assert phone.device()["pin_failures"] == 1


@pytest.mark.one_backend
def test_never_answers(live, phone):
    with AutoResponder(phone, "never", poll=0.3) as responder:
        challenge_id = push_login(live, GP)
        [outcome] = responder.wait_for(1)
        time.sleep(0.7)
    assert outcome.decision is None and outcome.result is None and outcome.error is None
    assert status_of(live, challenge_id) == "pending"


@pytest.mark.one_backend
def test_several_logins_and_a_delay(live, phone):
    seen_at: list[float] = []
    with AutoResponder(phone, "approve", pin=PIN, delay=0.3,
                       on_outcome=lambda o: seen_at.append(time.monotonic())) as responder:
        ids = [push_login(live, GP, f"Service {n}") for n in range(3)]
        responder.wait_for(3, answered=True, timeout=15)
    assert [o.challenge["challenge_id"] for o in responder.outcomes] == ids
    assert all(status_of(live, c) == "approved" for c in ids)
    assert seen_at[-1] - seen_at[0] >= 0.5


@pytest.mark.one_backend
def test_only_its_professional_and_stops_quickly(live, phone, tmp_path):
    nurse = EcpsPhone(live.base_url, tmp_path / "nurse", NURSE)
    nurse.activate(PIN)
    responder = AutoResponder(nurse, "approve", pin=PIN).start()
    challenge_id = push_login(live, GP)
    with pytest.raises(TimeoutError):
        responder.wait_for(1, timeout=1.5)
    started = time.monotonic()
    responder.stop()
    assert time.monotonic() - started < 3
    assert status_of(live, challenge_id) == "pending"


@pytest.mark.one_backend
def test_misuse_is_refused_at_once(live, tmp_path, phone):
    with pytest.raises(ValueError):
        AutoResponder(phone, "maybe", pin=PIN)
    with pytest.raises(ValueError):
        AutoResponder(phone, "approve")  # no PIN
    with pytest.raises(PhoneError) as not_activated:
        AutoResponder(EcpsPhone(live.base_url, tmp_path / "empty", GP), "never")
    assert not_activated.value.code == "not_activated"


@pytest.mark.one_backend
def test_over_the_event_stream(make_live, tmp_path):
    """``transport="stream"``: the responder follows /challenges/stream instead of polling."""
    from psc_idp import sse

    live = make_live(ecps={"stream_heartbeat": 1})
    phone = EcpsPhone(live.base_url, tmp_path / "phone", GP)
    phone.activate(PIN)
    with AutoResponder(phone, "approve", pin=PIN, transport="stream") as responder:
        first = push_login(live, GP)
        responder.wait_for(1, answered=True)
        second = push_login(live, GP)
        responder.wait_for(2, answered=True)
    assert [o.result["status"] for o in responder.outcomes] == ["approved", "approved"]
    assert status_of(live, first) == status_of(live, second) == "approved"
    assert sse.wait_until_closed(timeout=15)  # the stream ended with the responder
    with pytest.raises(ValueError, match="transport"):
        AutoResponder(phone, "approve", pin=PIN, transport="carrier pigeon")
