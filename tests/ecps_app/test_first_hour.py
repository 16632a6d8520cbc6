"""What a newcomer stumbles on in the first hour with the virtual e-CPS (issue 13, items 1-6),
over real HTTP against a live provider (SQLite and PostgreSQL): the RPPS typed at activation,
wrong PINs counted down then the block told to the waiting login, a denial with no PIN, the
newest request first, and one home shared by the ``ecps-app`` CLI and the phone page."""

from __future__ import annotations

import contextlib
import os
import subprocess
import threading
import time
from pathlib import Path

import pytest
import requests

from clients.ecps_app import cli as ecps_cli
from clients.ecps_app.phone import DEFAULT_HOME, EcpsPhone, PhoneError, canonical_national_id
from clients.ecps_app.web import MESSAGES, french_message, load_settings
from tests.ecps.test_mobile_api import GP, PIN, push_login, status_of
from tests.ecps.test_push_login import ecps_login, reason
from tests.ecps_app.test_cli import SCRIPT, Cli, ok

RPPS = GP[1:]
API = "/api/mobile/v1"


def raw_answer(live, phone: EcpsPhone, challenge: dict, decision: str,
               pin: str | None) -> requests.Response:
    """The mobile API's answer endpoint itself (the JSON a real app reads)."""
    body = {"decision": decision,
            "signature": phone.sign(challenge["challenge_id"], challenge["binding_code"],
                                    decision)}
    if pin is not None:
        body["pin"] = pin
    return requests.post(f"{live.base_url}{API}/challenges/{challenge['challenge_id']}/answer",
                         json=body, timeout=10,
                         headers={"Authorization": "Bearer " + phone._load()["device_token"]})


# ----------------------------------------------------------------------------- item 1: RPPS
@pytest.mark.one_backend
def test_the_rpps_alone_activates_the_phone(live, tmp_path):
    assert canonical_national_id(" 100 999 000 10 ") == GP
    assert canonical_national_id(GP) == GP
    phone = EcpsPhone(live.base_url, tmp_path / "home", RPPS)
    device = phone.activate(PIN)
    assert device["status"] == "usable"
    assert phone.national_id == GP and (tmp_path / "home" / f"{GP}.json").exists()
    assert EcpsPhone.known(tmp_path / "home") == [GP]  # one e-CPS, filed under 8 + RPPS


@pytest.mark.one_backend
def test_the_cli_activates_with_the_rpps(live, tmp_path):
    cli = Cli(live.base_url, tmp_path / "home")
    out = ok(cli("activate", "--national-id", RPPS, "--pin", PIN))
    assert out.startswith(f"activated {GP}: device "), out
    assert len(ok(cli("otp", "--national-id", RPPS)).strip()) == 6


# ----------------------------------------------------------------------------- item 2: PINs
def test_wrong_pins_count_down_then_block(live, tmp_path):
    phone = EcpsPhone(live.base_url, tmp_path / "home", GP)
    phone.activate(PIN)
    push_login(live, GP)
    [challenge] = phone.pending()
    seen = []
    for _ in range(3):
        answer = raw_answer(live, phone, challenge, "approve", "9999")
        assert answer.status_code == 403
        seen.append((answer.json()["error"], answer.json()["attempts_left"]))
    assert seen == [("invalid_pin", 2), ("invalid_pin", 1), ("invalid_pin", 0)]
    blocked = raw_answer(live, phone, challenge, "approve", PIN)
    assert blocked.status_code == 403 and blocked.json()["error"] == "device_blocked"
    assert "attempts_left" not in blocked.json()
    assert phone.device()["status"] == "blocked"
    # the phone library and the page's words
    with pytest.raises(PhoneError) as refused:
        phone.answer(challenge, "approve", "9999")
    assert refused.value.code == "device_blocked"
    assert french_message(refused.value) == MESSAGES["device_blocked"]
    assert french_message(PhoneError("invalid_pin", "Wrong PIN.", 403,
                                     details={"attempts_left": 2})) == \
        "Code PIN erroné, 2 essais restants."
    assert french_message(PhoneError("invalid_pin", "Wrong PIN.", 403,
                                     details={"attempts_left": 1})) == \
        "Code PIN erroné, 1 essai restant."


def test_the_block_reaches_the_waiting_login_at_once(live, tmp_path):
    phone = EcpsPhone(live.base_url, tmp_path / "home", GP)
    phone.activate(PIN)
    login = ecps_login(live)
    login.push()
    [challenge] = phone.pending()
    for _ in range(2):
        with pytest.raises(PhoneError):
            phone.answer(challenge, "approve", "9999")
    assert login.status()[0]["status"] == "pending"  # one try left: still waiting
    started = time.monotonic()

    def third_wrong_pin() -> None:
        time.sleep(0.5)
        with contextlib.suppress(PhoneError):
            phone.answer(challenge, "approve", "9999")

    threading.Thread(target=third_wrong_pin).start()
    body, _ = login.status(wait=20)  # the long-poll the page uses, woken by the block
    assert time.monotonic() - started < 8, "the waiting page was not woken by the block"
    assert body["status"] == "failure" and body["challenge"] == "cancelled"
    page = login.finish()
    assert page.status_code == 400 and reason(page) == "ecps_blocked"
    assert status_of(live, challenge["challenge_id"]) == "cancelled"  # off the phone


# ----------------------------------------------------------------------------- item 3
@pytest.mark.one_backend
def test_denying_needs_no_pin_approving_does(live, tmp_path):
    phone = EcpsPhone(live.base_url, tmp_path / "home", GP)
    phone.activate(PIN)
    push_login(live, GP)
    [challenge] = phone.pending()
    no_pin = raw_answer(live, phone, challenge, "approve", None)
    assert no_pin.status_code == 400 and no_pin.json()["error"] == "invalid_request"
    denied = raw_answer(live, phone, challenge, "deny", None)
    assert denied.status_code == 200 and denied.json()["status"] == "denied"
    # a wrong PIN sent with a denial is not checked, not counted
    push_login(live, GP)
    [second] = phone.pending()
    assert raw_answer(live, phone, second, "deny", "0000").json()["status"] == "denied"
    assert phone.device()["pin_failures"] == 0
    # the signature is still required: a denial proves the phone
    push_login(live, GP)
    [third] = phone.pending()
    forged = raw_answer(live, phone, third, "approve", None)
    assert forged.status_code == 400
    body = {"decision": "deny", "signature": phone.sign(third["challenge_id"],
                                                       third["binding_code"], "approve")}
    unsigned = requests.post(f"{live.base_url}{API}/challenges/{third['challenge_id']}/answer",
                             json=body, timeout=10, headers={
                                 "Authorization": "Bearer " + phone._load()["device_token"]})
    assert unsigned.status_code == 403 and unsigned.json()["error"] == "invalid_signature"


@pytest.mark.one_backend
def test_the_newest_request_comes_first(live, tmp_path):
    phone = EcpsPhone(live.base_url, tmp_path / "home", GP)
    phone.activate(PIN)
    stale = push_login(live, GP, "Onglet fermé", binding_code="21")
    time.sleep(0.01)
    fresh = push_login(live, GP, "Dossier patient", binding_code="76")
    assert phone.wait_for_pending(1)["challenge_id"] == fresh
    assert phone.wait_for_pending(1, binding_code="21")["challenge_id"] == stale
    cli = Cli(live.base_url, tmp_path / "home")
    out = ok(cli("deny", "--national-id", GP, "--wait", "2"))  # no --pin: not prompted
    assert "binding code 76" in out
    assert status_of(live, fresh) == "denied" and status_of(live, stale) == "pending"


# ----------------------------------------------------------------------------- item 6
@pytest.mark.one_backend
def test_the_cli_and_the_page_share_one_default_home(live, tmp_path):
    home_env = {k: v for k, v in os.environ.items() if not k.startswith("ECPS_APP_")}
    assert load_settings(environ={}).HOME == DEFAULT_HOME == "~/.ecps-app"
    default = next(p for p in ecps_cli.main.params if p.name == "home").default
    assert default == DEFAULT_HOME
    # a phone activated where the page keeps it by default is the CLI's phone
    fake_home = tmp_path / "user"
    settings = load_settings(environ={"HOME": str(fake_home)})
    page_home = Path(str(settings.HOME).replace("~", str(fake_home), 1))
    EcpsPhone(live.base_url, page_home, GP).activate(PIN)
    env = dict(home_env, HOME=str(fake_home))
    result = subprocess.run([str(SCRIPT), "--server", live.base_url, "otp"],
                            capture_output=True, text=True, env=env, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.strip()) == 6
    # ECPS_APP_HOME still moves both
    env["ECPS_APP_HOME"] = str(tmp_path / "elsewhere")
    assert load_settings(environ=env).home_path == tmp_path / "elsewhere"
    moved = subprocess.run([str(SCRIPT), "--server", live.base_url, "status"],
                           capture_output=True, text=True, env=env, timeout=60, check=False)
    assert moved.returncode == 0 and "no e-CPS activated here" in moved.stdout
