"""The e-CPS push path's Core statements (credentials/store.py, credentials/device_store.py):
what the frozen rows and the single statements must keep doing, on both backends.

- the PIN counter, checked and counted under the device row's lock: a right PIN clears it,
  a legacy count is cleared too, concurrent right answers for different logins all pass;
- the phone's list and answer, each one statement: unknown tokens, another professional's
  challenge, a revoked device;
- the phone's list leaves an expired push to the login, which settles and audits it once.
"""

from __future__ import annotations

import threading

import pytest
import requests

from clients.ecps_app.phone import EcpsPhone, PhoneError
from psc_idp.audit import AuditEvent
from psc_idp.credentials.models import EcpsChallenge, EcpsDevice
from psc_idp.db import db

from .test_mobile_api import GP, NURSE, PIN, move_clock, push_login

API = "/api/mobile/v1"


@pytest.fixture
def phone(live, tmp_path) -> EcpsPhone:
    phone = EcpsPhone(live.base_url, tmp_path / "phone-hot", GP)
    phone.activate(PIN)
    return phone


def _device(live, device_id: str) -> EcpsDevice:
    with live.app.app_context():
        device = db.session.get(EcpsDevice, device_id)
        db.session.expunge(device)
        return device


def _challenge_status(live, challenge_id: str) -> str:
    with live.app.app_context():
        return db.session.get(EcpsChallenge, challenge_id).status


def test_a_right_pin_clears_the_wrong_ones_counted_before(live, phone):
    device_id = phone.device()["device_id"]
    push_login(live, GP)
    [pending] = phone.pending()
    with pytest.raises(PhoneError) as refused:
        phone.answer(pending, "approve", "9999")
    assert refused.value.code == "invalid_pin"
    assert _device(live, device_id).pin_failures == 1
    assert phone.answer(pending, "approve", PIN)["status"] == "approved"
    assert _device(live, device_id).pin_failures == 0
    # two wrong again, then a right one: never blocked (the count restarted from 0)
    push_login(live, GP)
    [pending] = phone.pending()
    for _ in range(2):
        with pytest.raises(PhoneError):
            phone.answer(pending, "approve", "9999")
    assert phone.answer(pending, "approve", PIN)["status"] == "approved"
    device = _device(live, device_id)
    assert device.pin_failures == 0 and device.blocked_at is None


def test_parallel_right_answers_for_different_logins_all_pass(live, phone):
    """The device row's lock serialises the PIN checks; it refuses nobody."""
    for _ in range(3):
        push_login(live, GP)
    pending = phone.pending()
    assert len(pending) == 3
    results: list[str] = []

    def approve(challenge: dict) -> None:
        try:
            results.append(phone.answer(challenge, "approve", PIN)["status"])
        except PhoneError as error:  # reported by the assertion below
            results.append(error.code)

    threads = [threading.Thread(target=approve, args=(c,)) for c in pending]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(results) == ["approved"] * 3
    assert _device(live, phone.device()["device_id"]).pin_failures == 0


def test_one_answer_per_challenge_under_parallel_answers(live, phone):
    push_login(live, GP)
    [pending] = phone.pending()
    results: list[str] = []

    def approve() -> None:
        try:
            results.append(phone.answer(pending, "approve", PIN)["status"])
        except PhoneError as error:
            results.append(error.code)

    threads = [threading.Thread(target=approve) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(results) == ["approved"] + ["challenge_closed"] * 4


def test_the_phone_sees_and_answers_only_its_professionals_challenges(live, phone, tmp_path):
    other = EcpsPhone(live.base_url, tmp_path / "phone-nurse", NURSE)
    other.activate(PIN)
    challenge_id = push_login(live, GP)
    assert other.pending() == []
    [pending] = phone.pending()
    with pytest.raises(PhoneError) as refused:
        other.answer(pending, "approve", PIN)
    assert refused.value.code == "unknown_challenge" and refused.value.status == 404
    assert _challenge_status(live, challenge_id) == "pending"


@pytest.mark.parametrize("path", ["/challenges", "/challenges/x/answer"])
def test_unknown_or_missing_tokens_are_refused_before_anything_else(live, path):
    method = requests.get if path == "/challenges" else requests.post
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic abc"}):
        answer = method(live.base_url + API + path, headers=headers, timeout=10,
                        **({} if method is requests.get else {"data": "not json"}))
        assert answer.status_code == 401, answer.text
        assert answer.json()["error"] == "invalid_token"


def test_a_revoked_device_can_neither_list_nor_answer(live, phone):
    push_login(live, GP)
    [pending] = phone.pending()
    phone.revoke(phone.device()["device_id"])
    for call in (phone.pending, lambda: phone.answer(pending, "approve", PIN)):
        with pytest.raises(PhoneError) as refused:
            call()
        assert refused.value.status == 401


def test_the_phone_leaves_an_expired_push_to_the_login(live, phone):
    """The list filters an expired push out without writing it: the login's own look
    settles it (and audits ``ecps.push_expired`` once)."""
    challenge_id = push_login(live, GP)
    move_clock(live, 121)
    assert phone.pending() == []
    assert _challenge_status(live, challenge_id) == "pending"  # expired, not yet written
    with live.app.app_context():
        assert db.session.scalars(db.select(AuditEvent).where(
            AuditEvent.event == "ecps.push_expired")).all() == []
