"""The e-CPS mobile API over real HTTP, driven by the virtual phone (clients/ecps_app/phone.py).

Time-based rules (48 h activation delay, 3-year validity, challenge expiry) move the provider's
clock through the demo/test admin API: no sleeps.
"""

from __future__ import annotations

import base64

import pytest
import requests

from clients.ecps_app.phone import EcpsPhone, PhoneError
from psc_idp.credentials import ecps
from psc_idp.db import db
from psc_idp.directory.lookup import find_by_national_id

GP = "810099900010"
NURSE = "810099900119"
BLOCKED = "810099900150"
PIN = "1234"
DAY = 86400


def push_login(live, national_id: str, service: str = "Dossier patient",
               binding_code: str | None = None) -> str:
    """What the e-CPS authenticator (or CIBA) does: a challenge for the professional's phones."""
    with live.app.app_context():
        professional = find_by_national_id(national_id)
        challenge = ecps.create_challenge(professional, "psc-demo-rp", service, "browser",
                                          binding_code=binding_code)
        db.session.commit()
        return challenge.id


def status_of(live, challenge_id: str) -> str:
    with live.app.app_context():
        from psc_idp.credentials.models import EcpsChallenge

        return ecps.challenge_status(db.session.get(EcpsChallenge, challenge_id))


def move_clock(live, seconds: float) -> None:
    answer = requests.post(live.base_url + "/api/admin/clock", json={"advance_seconds": seconds})
    assert answer.status_code == 200, answer.text


@pytest.fixture
def phone(live, tmp_path) -> EcpsPhone:
    phone = EcpsPhone(live.base_url, tmp_path / "phone-1", GP)
    phone.activate(PIN)
    return phone


def test_activation_with_contact_codes_and_visual_card(live, phone):
    device = phone.device()
    assert device["status"] == "usable"  # test mode: no activation delay
    card = phone.card()
    assert card["national_id"] == GP and card["rpps"] == GP[1:]
    assert card["professions"][0]["code"] == "10"
    assert base64.b64decode(card["qr_svg_base64"]).startswith(b"<?xml")
    # the codes went to the contact data on record, never shown in claims
    outbox = requests.get(live.base_url + "/api/admin/outbox",
                          params={"national_id": GP}).json()["messages"]
    assert {m["channel"] for m in outbox} == {"email", "sms"}


def test_approve_with_pin_and_device_signature(live, phone):
    challenge_id = push_login(live, GP)
    [pending] = phone.pending()
    assert pending["challenge_id"] == challenge_id
    assert pending["service_name"] == "Dossier patient" and len(pending["binding_code"]) == 2
    answered = phone.answer(pending, "approve", PIN)
    assert answered["status"] == "approved" and status_of(live, challenge_id) == "approved"


def test_deny(live, phone):
    challenge_id = push_login(live, GP)
    assert phone.answer_next("deny", PIN, wait=1)["status"] == "denied"
    assert status_of(live, challenge_id) == "denied"


def test_long_poll_returns_when_a_login_arrives(live, phone):
    import threading

    timer = threading.Timer(0.5, push_login, args=(live, GP))
    timer.start()
    pending = phone.pending(wait=10)
    timer.join()
    assert len(pending) == 1


def test_three_wrong_pins_block_the_ecps_until_reactivation(live, phone, tmp_path):
    push_login(live, GP)
    [pending] = phone.pending()
    for attempt in range(3):
        with pytest.raises(PhoneError) as refused:
            phone.answer(pending, "approve", "9999")
        assert refused.value.code == ("invalid_pin" if attempt < 2 else "invalid_pin")
    assert phone.device()["status"] == "blocked"
    with pytest.raises(PhoneError) as blocked:
        phone.answer(pending, "approve", PIN)
    assert blocked.value.code == "device_blocked"
    # re-activation gives a new, usable e-CPS
    again = EcpsPhone(live.base_url, tmp_path / "phone-new", GP)
    again.activate("5678")
    assert again.device()["status"] == "usable"
    assert again.answer(again.pending()[0], "approve", "5678")["status"] == "approved"


def test_forged_signature_is_refused(live, phone, tmp_path):
    push_login(live, GP)
    [pending] = phone.pending()
    forger = EcpsPhone(live.base_url, tmp_path / "forger", NURSE)
    forger.activate(PIN)
    forged = forger.sign(pending["challenge_id"], pending["binding_code"], "approve")
    answer = requests.post(
        f"{live.base_url}/api/mobile/v1/challenges/{pending['challenge_id']}/answer",
        headers={"Authorization": "Bearer " + phone._load()["device_token"]},
        json={"decision": "approve", "pin": PIN, "signature": forged})
    assert answer.status_code == 403 and answer.json()["error"] == "invalid_signature"
    # a signature over the other decision does not transfer either
    deny_sig = phone.sign(pending["challenge_id"], pending["binding_code"], "deny")
    answer = requests.post(
        f"{live.base_url}/api/mobile/v1/challenges/{pending['challenge_id']}/answer",
        headers={"Authorization": "Bearer " + phone._load()["device_token"]},
        json={"decision": "approve", "pin": PIN, "signature": deny_sig})
    assert answer.json()["error"] == "invalid_signature"


def test_device_of_another_professional_cannot_answer(live, phone, tmp_path):
    challenge_id = push_login(live, GP)
    other = EcpsPhone(live.base_url, tmp_path / "other", NURSE)
    other.activate(PIN)
    assert other.pending() == []
    with pytest.raises(PhoneError) as refused:
        other.answer({"challenge_id": challenge_id, "binding_code": "00"}, "approve", PIN)
    assert refused.value.code == "unknown_challenge" and refused.value.status == 404
    assert status_of(live, challenge_id) == "pending"


def test_two_phones_first_answer_wins(live, phone, tmp_path):
    second = EcpsPhone(live.base_url, tmp_path / "phone-2", GP)
    second.activate("4321", device_name="tablette")
    assert {d["name"] for d in phone.devices()} == {"virtual e-CPS", "tablette"}
    push_login(live, GP)
    [seen_by_1], [seen_by_2] = phone.pending(), second.pending()
    assert seen_by_1["challenge_id"] == seen_by_2["challenge_id"]
    second.answer(seen_by_2, "approve", "4321")
    with pytest.raises(PhoneError) as closed:
        phone.answer(seen_by_1, "approve", PIN)
    assert closed.value.code == "challenge_closed"


def test_revoked_device_is_locked_out(live, phone, tmp_path):
    second = EcpsPhone(live.base_url, tmp_path / "phone-2", GP)
    second.activate("4321")
    revoked = phone.revoke(second._load()["device_id"])
    assert revoked["status"] == "revoked"
    with pytest.raises(PhoneError) as refused:
        second.device()
    assert refused.value.status == 401


def test_challenge_expires(live, phone):
    challenge_id = push_login(live, GP)
    [pending] = phone.pending()
    move_clock(live, 121)
    with pytest.raises(PhoneError) as closed:
        phone.answer(pending, "approve", PIN)
    assert closed.value.code == "challenge_closed"
    assert status_of(live, challenge_id) == "expired"


def test_activation_delay_then_three_year_validity_and_renewal(make_live, tmp_path):
    live = make_live(ecps={"activation_delay": 2 * DAY})
    phone = EcpsPhone(live.base_url, tmp_path / "p", GP)
    phone.activate(PIN)
    assert phone.device()["status"] == "waiting"
    push_login(live, GP)
    with pytest.raises(PhoneError) as waiting:
        phone.answer(phone.pending()[0], "approve", PIN)
    assert waiting.value.code == "device_waiting"
    move_clock(live, 2 * DAY + 1)
    assert phone.device()["status"] == "usable"
    move_clock(live, 1095 * DAY)
    assert phone.device()["status"] == "expired"
    move_clock(live, -10 * DAY)  # renewal before the end gives three more years
    renewed = phone._call("POST", "/device/renew")
    assert renewed["status"] == "usable"
    move_clock(live, 1000 * DAY)
    assert phone.device()["status"] == "usable"


def test_wrong_activation_codes_are_limited(live):
    start = requests.post(live.base_url + "/api/mobile/v1/activations",
                          json={"national_id": GP}).json()
    url = f"{live.base_url}/api/mobile/v1/activations/{start['activation_id']}/verify"
    for _ in range(5):
        answer = requests.post(url, json={"email_code": "000000", "sms_code": "000000"})
        assert answer.status_code == 400 and answer.json()["error"] == "invalid_code"
    answer = requests.post(url, json={"email_code": "000000", "sms_code": "000000"})
    assert answer.status_code == 409 and answer.json()["error"] == "activation_closed"


def test_activation_refusals(live):
    url = live.base_url + "/api/mobile/v1/activations"
    assert requests.post(url, json={"national_id": BLOCKED}).json()["error"] == "means_blocked"
    assert requests.post(url, json={"national_id": "899999999999"}).status_code == 404
    assert requests.post(url, data="not json").json()["error"] == "invalid_request"
    card = requests.post(url, json={"national_id": GP, "method": "card"})  # the IGC-Santé
    assert card.status_code == 201 and card.json()["card_challenge"]  # card verifier is on
    assert requests.post(url, json={"national_id": GP, "method": "pigeon"}).status_code == 400


def test_otp_code_once_and_replay_refused(live, phone):
    code = phone.otp()
    with live.app.app_context():
        professional = find_by_national_id(GP)
        device = ecps.verify_otp(professional, code)
        assert device.id == phone._load()["device_id"]
        db.session.commit()
        with pytest.raises(ecps.EcpsError) as replay:
            ecps.verify_otp(professional, code)
        assert replay.value.code == "otp_replayed"
        with pytest.raises(ecps.EcpsError) as wrong:
            ecps.verify_otp(professional, "000000" if code != "000000" else "111111")
        assert wrong.value.code in ("invalid_otp", "otp_replayed")


@pytest.mark.one_backend
def test_openapi_describes_every_route(live):
    doc = requests.get(live.base_url + "/api/mobile/v1/openapi.json").json()
    assert doc["openapi"].startswith("3.1")
    described = {(path, method.upper()) for path, item in doc["paths"].items()
                 for method in item if method in ("get", "post", "put", "patch", "delete")}
    routes = set()
    for rule in live.app.url_map.iter_rules():
        if rule.rule.startswith("/api/mobile/v1/") and not rule.rule.endswith("openapi.json"):
            path = rule.rule[len("/api/mobile/v1"):].replace("<", "{").replace(">", "}")
            routes |= {(path, m) for m in rule.methods - {"HEAD", "OPTIONS"}}
    assert routes == described



def test_argon2id_pins_from_before_are_rehashed_keyed_at_their_next_check(live, phone):
    """PINs are keyed hashes now (``hashing.py``); an argon2id hash made before still
    verifies, and the right PIN replaces it with the keyed hash."""
    from argon2 import PasswordHasher

    from psc_idp.credentials.models import EcpsDevice

    device_id = phone.device()["device_id"]
    with live.app.app_context():
        device = db.session.get(EcpsDevice, device_id)
        assert device.pin_hash.startswith("k1$") and len(device.pin_hash) == 46
        device.pin_hash = PasswordHasher().hash(PIN)  # argon2-cffi's default profile
        db.session.commit()
    push_login(live, GP)
    assert phone.answer_next("approve", PIN, wait=1)["status"] == "approved"
    with live.app.app_context():
        assert db.session.get(EcpsDevice, device_id).pin_hash.startswith("k1$")
