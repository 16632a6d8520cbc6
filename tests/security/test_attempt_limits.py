"""Attempt limits under concurrency and abuse (``psc_idp/credentials/attempts.py``).

Real parallel HTTP requests (threads released together by a barrier, bounded in number)
against two provider instances serving the same database (two apps, two connection pools, two
werkzeug threaded servers), on SQLite and PostgreSQL: every limit must hold however the
requests interleave and whichever instance serves them.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import pyotp
import pytest
import requests

from clients.ecps_app.phone import EcpsPhone, PhoneError
from psc_idp.credentials import ecps
from psc_idp.credentials.card import register_card_verifier
from psc_idp.credentials.models import EcpsActivation, EcpsChallenge, EcpsDevice
from psc_idp.db import db
from psc_idp.directory.lookup import find_by_national_id
from tests.ecps.test_card_activation import TestCa, X509CardVerifier
from tests.ecps.test_otp_login import away_from_a_step_boundary, otp_login, send_code, wrong_code
from tests.ecps.test_push_login import audit, binding_code, ecps_login, move_clock, reason
from tests.psc_actions import DEMO_CLIENT
from tests.served import fire

GP = "810099900010"
NURSE = "810099900119"
PIN = "1234"
API = "/api/mobile/v1"
CIBA = "/auth/realms/esante-wallet/protocol/openid-connect/ext/ciba/auth"


@pytest.fixture
def pair(make_live) -> tuple[Any, Any]:
    """Two instances on one database (the second is built before any test data exists)."""
    return make_live(), make_live()


def no_server_errors(answers: list[requests.Response]) -> None:
    errors = [a.status_code for a in answers if a.status_code >= 500]
    assert not errors, f"server errors under concurrency: {errors}"


def device_row(live) -> EcpsDevice:
    with live.app.app_context():
        return db.session.scalars(db.select(EcpsDevice)).one()


def push(live, national_id: str = GP) -> str:
    with live.app.app_context():
        challenge = ecps.create_challenge(find_by_national_id(national_id), "psc-demo-rp",
                                          "Dossier patient", "browser")
        db.session.commit()
        return challenge.id


# ----------------------------------------------------------------------------- 1. PIN
def test_parallel_wrong_pins_are_checked_three_times_and_block_the_ecps(pair, tmp_path):
    a, b = pair
    phone = EcpsPhone(a.base_url, tmp_path / "phone", GP)
    phone.activate(PIN)
    push(a)
    [pending] = phone.pending()
    token = phone._load()["device_token"]
    signature = phone.sign(pending["challenge_id"], pending["binding_code"], "approve")

    def wrong_pin(i: int) -> requests.Response:
        server = (a, b)[i % 2]
        return requests.post(
            f"{server.base_url}{API}/challenges/{pending['challenge_id']}/answer",
            headers={"Authorization": "Bearer " + token}, timeout=60,
            json={"decision": "approve", "pin": "9999", "signature": signature})

    answers = fire(50, wrong_pin)
    no_server_errors(answers)
    errors = Counter(a.json()["error"] for a in answers)
    assert errors == {"invalid_pin": 3, "device_blocked": 47}, errors
    assert {a.status_code for a in answers} == {403}
    device = device_row(a)
    assert device.pin_failures == 3 and device.blocked_at is not None
    assert len(audit(a, "ecps.pin_refused")) == 3  # exactly three PINs were checked
    assert len(audit(a, "ecps.blocked")) == 1
    # refused unchecked: audited as such until the block is committed, then "blocked" at once
    assert len(audit(a, "ecps.attempt_refused")) <= 47
    # the right PIN is refused now: only a new activation unblocks
    with pytest.raises(PhoneError) as refused:
        phone.answer(pending, "approve", PIN)
    assert refused.value.code == "device_blocked"
    assert phone.device()["status"] == "blocked"


# ----------------------------------------------------------------------------- 2. TOTP replay
def test_one_totp_code_sent_from_eight_browsers_at_once_signs_in_once(pair, tmp_path):
    a, b = pair
    phone = EcpsPhone(a.base_url, tmp_path / "phone", GP)
    phone.activate(PIN)
    logins = [otp_login((a, b)[i % 2]) for i in range(8)]
    away_from_a_step_boundary()
    code = phone.otp()
    answers = fire(8, lambda i: send_code(logins[i], GP, code))
    no_server_errors(answers)
    signed_in = [a for a in answers if a.status_code == 302]
    assert len(signed_in) == 1, [a.status_code for a in answers]
    assert sorted(reason(a) for a in answers if a.status_code != 302) == ["otp_replayed"] * 7
    assert len(audit(a, "ecps.otp_accepted")) == 1
    assert len(audit(a, "ecps.otp_replayed")) == 7
    # and once, ever: a later login with the same code is refused too
    assert reason(send_code(otp_login(b), GP, code)) == "otp_replayed"


# ----------------------------------------------------------------------------- 1. activation
def test_parallel_wrong_activation_codes_are_checked_code_attempts_times(pair):
    a, b = pair
    started = requests.post(a.base_url + API + "/activations", json={"national_id": GP},
                            timeout=10).json()

    def wrong(i: int) -> requests.Response:
        server = (a, b)[i % 2]
        return requests.post(f"{server.base_url}{API}/activations/"
                             f"{started['activation_id']}/verify", timeout=60,
                             json={"email_code": "000000", "sms_code": "000000"})

    answers = fire(20, wrong)
    no_server_errors(answers)
    errors = Counter((a.status_code, a.json()["error"]) for a in answers)
    assert errors == {(400, "invalid_code"): 5, (409, "activation_closed"): 15}, errors
    with a.app.app_context():
        activation = db.session.get(EcpsActivation, started["activation_id"])
        assert activation.failed_attempts == 5 and activation.state == "failed"
    assert len(audit(a, "ecps.activation_code_refused")) == 5


def test_parallel_refused_card_proofs_are_checked_code_attempts_times(pair):
    a, b = pair
    ca = TestCa()
    for server in (a, b):
        register_card_verifier(server.app, X509CardVerifier(ca.cert))
    started = requests.post(a.base_url + API + "/activations", timeout=10,
                            json={"national_id": GP, "method": "card"}).json()
    other = ca.card(NURSE)  # a valid card, but another professional's
    certificate, signature = other(started["card_challenge"].encode())
    import base64

    encoded = base64.urlsafe_b64encode(signature).rstrip(b"=").decode()

    def prove(i: int) -> requests.Response:
        server = (a, b)[i % 2]
        return requests.post(f"{server.base_url}{API}/activations/"
                             f"{started['activation_id']}/card", timeout=60,
                             json={"certificate": certificate, "signature": encoded})

    answers = fire(16, prove)
    no_server_errors(answers)
    errors = Counter((a.status_code, a.json()["error"]) for a in answers)
    assert errors == {(403, "invalid_card_proof"): 5, (409, "activation_closed"): 11}, errors
    with a.app.app_context():
        activation = db.session.get(EcpsActivation, started["activation_id"])
        assert activation.failed_attempts == 5 and activation.state == "failed"
    assert len(audit(a, "ecps.card_proof_refused")) == 5


# ----------------------------------------------------------------------------- 4. push bombing
def test_twelve_concurrent_pushes_leave_at_most_three_pending_and_none_is_refused(
        pair, tmp_path):
    a, b = pair
    phone = EcpsPhone(a.base_url, tmp_path / "phone", GP)
    phone.activate(PIN)
    logins = [ecps_login((a, b)[i % 2]) for i in range(12)]
    answers = fire(12, lambda i: logins[i].send(GP))
    no_server_errors(answers)
    assert [a.status_code for a in answers] == [303] * 12  # nobody is refused
    assert len(phone.pending()) == ecps.MAX_PENDING == 3
    superseded = [e for e in audit(a, "ecps.push_cancelled")
                  if e.details.get("reason") == "superseded"]
    assert len(superseded) == 9
    with a.app.app_context():
        statuses = Counter(db.session.scalars(db.select(EcpsChallenge.status)))
    assert statuses == {"pending": 3, "cancelled": 9}


def test_a_stranger_keeping_pushes_pending_does_not_stop_the_owners_login(pair, tmp_path):
    a, b = pair
    phone = EcpsPhone(a.base_url, tmp_path / "phone", GP)
    phone.activate(PIN)
    strangers = [ecps_login(b) for _ in range(3)]
    for login in strangers:
        login.push(GP)
    owner = ecps_login(a)
    owner.push(GP)  # not ecps_too_many: the oldest stranger's push is withdrawn
    code = binding_code(owner.page)
    pending = phone.pending()
    assert len(pending) == 3 and pending[-1]["binding_code"] == code
    phone.answer(pending[-1], "approve", PIN)
    done = owner.finish()
    assert done.status_code == 302 and "code=" in done.headers["Location"]
    assert reason(strangers[0].finish()) == "ecps_no_request"  # withdrawn: send again


def test_concurrent_ciba_requests_for_one_professional_are_capped(pair, tmp_path):
    a, b = pair
    phone = EcpsPhone(a.base_url, tmp_path / "phone", GP)
    phone.activate(PIN)

    def backchannel(i: int) -> requests.Response:
        server = (a, b)[i % 2]
        return requests.post(server.base_url + CIBA, auth=DEMO_CLIENT[:2], timeout=60,
                             data={"scope": "openid scope_all", "login_hint": GP,
                                   "binding_message": f"{i:02d}"})

    answers = fire(12, backchannel)
    no_server_errors(answers)
    assert [a.status_code for a in answers] == [200] * 12, [a.text for a in answers]
    pending = phone.pending()
    assert len(pending) == 3
    # a withdrawn request ends without approval: its RP's poll says so
    kept = {c["binding_code"] for c in pending}
    withdrawn = next(a.json()["auth_req_id"] for i, a in enumerate(answers)
                     if f"{i:02d}" not in kept)
    poll = requests.post(a.base_url + "/auth/realms/esante-wallet/protocol/openid-connect/token",
                         auth=DEMO_CLIENT[:2], timeout=10,
                         data={"grant_type": "urn:openid:params:grant-type:ciba",
                               "auth_req_id": withdrawn})
    assert poll.status_code == 400 and poll.json()["error"] == "access_denied"


# ----------------------------------------------------------------------------- 5. anonymous OTP
def test_anonymous_wrong_codes_throttle_the_stranger_not_the_owner(pair, tmp_path):
    a, b = pair
    phone = EcpsPhone(a.base_url, tmp_path / "phone", GP)
    phone.activate(PIN)
    stranger = otp_login(b)
    wrong = wrong_code(phone)
    # 20 wrong codes at once from one login: 5 are checked, the rest refused unchecked
    answers = fire(20, lambda i: send_code(stranger, GP, wrong))
    no_server_errors(answers)
    reasons = Counter(reason(a) for a in answers)
    assert reasons == {"otp_wrong": 4, "otp_locked": 16}, reasons
    assert len(audit(a, "ecps.otp_refused")) == 5
    away_from_a_step_boundary()
    assert reason(send_code(stranger, GP, phone.otp())) == "otp_locked"  # this login is done
    # the owner's OTP is not blocked: the right code signs in, in another login
    owner = send_code(otp_login(a), GP, phone.otp())
    assert owner.status_code == 302 and "code=" in owner.headers["Location"]
    assert device_row(a).blocked_at is None and phone.device()["status"] == "usable"


def test_a_stranger_rotating_logins_is_slowed_down_the_owner_waits_minutes(pair, tmp_path):
    a, b = pair
    phone = EcpsPhone(a.base_url, tmp_path / "phone", GP)
    phone.activate(PIN)
    wrong = wrong_code(phone)
    for server in (a, b):  # two logins, 5 wrong codes each: the professional's budget (10)
        login = otp_login(server)
        assert [reason(send_code(login, GP, wrong)) for _ in range(5)][-1] == "otp_locked"
    third = otp_login(a)
    assert reason(send_code(third, GP, wrong)) == "otp_throttled"  # unchecked
    assert len(audit(a, "ecps.otp_refused")) == 10
    away_from_a_step_boundary()
    owner = otp_login(a)
    assert reason(send_code(owner, GP, phone.otp())) == "otp_throttled"  # slowed, for now
    # the push login is untouched, and 15 minutes later the owner's code works
    assert phone.device()["status"] == "usable"
    move_clock(a, 15 * 60 + 1)
    code = pyotp.TOTP(phone._load()["otp_secret"]).at(time.time() + 15 * 60 + 1)
    done = send_code(owner, GP, code)
    assert done.status_code == 302, reason(done)


# ----------------------------------------------------------------------------- the budgets
def test_budget_windows_double_until_a_success_forgets_them(make_app):
    from datetime import timedelta

    from psc_idp.credentials import attempts

    app = make_app(demo=False)
    minutes = timedelta(minutes=1)
    with app.app_context():
        now = app.extensions["psc_idp"].clock.now()
        assert [attempts.take("k", 2, 15 * minutes, now, 60 * minutes)
                for _ in range(3)] == [1, 2, None]
        assert attempts.window_ends("k") == now + 15 * minutes
        later = now + 15 * minutes
        assert attempts.take("k", 2, 15 * minutes, later, 60 * minutes) == 1
        assert attempts.window_ends("k") == later + 30 * minutes  # twice as long
        later += 30 * minutes
        attempts.take("k", 2, 15 * minutes, later, 60 * minutes)
        assert attempts.window_ends("k") == later + 60 * minutes  # up to the ceiling
        attempts.forget("k")
        db.session.commit()
        assert attempts.take("k", 2, 15 * minutes, later, 60 * minutes) == 1
        assert attempts.window_ends("k") == later + 15 * minutes  # afresh
