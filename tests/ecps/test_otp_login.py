"""The e-CPS one-time-code login over real HTTP: the virtual phone shows the TOTP code, the
browser types it with the national identifier, Authlib redeems the code."""

from __future__ import annotations

import html
import re
import time
from typing import Any

import pyotp
import pytest
import requests

from clients.ecps_app.phone import EcpsPhone
from psc_idp.db import db
from tests.ecps.test_push_login import GP, NURSE, PIN, audit, move_clock, open_login, reason
from tests.psc_actions import query

BLOCKED = "810099900150"


@pytest.fixture
def phone(live, tmp_path) -> EcpsPhone:
    phone = EcpsPhone(live.base_url, tmp_path / "phone-gp", GP)
    phone.activate(PIN)
    return phone


def otp_login(live, **params: Any):
    login = open_login(live, **params)
    page = login.means("ecps_otp")
    assert 'id="otp-send"' in page.text
    return login


def send_code(login, national_id: str, code: str) -> requests.Response:
    login.page = login.psc.browser.post(
        f"{login.base}/login/{login.uid}/ecps_otp",
        data={"national_id": national_id, "code": code, "csrf": login.csrf},
        allow_redirects=False, timeout=10)
    return login.page


def away_from_a_step_boundary() -> None:
    """Codes are per 30 s step: start a few seconds into one so the test cannot straddle two."""
    into = time.time() % 30
    if into > 27 or into < 1:
        time.sleep((31 - into) % 30)


def wrong_code(phone: EcpsPhone) -> str:
    """A code valid at no step near now (the drift window and then some)."""
    totp = pyotp.TOTP(phone._load()["otp_secret"])
    near = {totp.at(time.time() + 30 * k) for k in range(-3, 4)}
    return next(c for c in (f"{n:06d}" for n in range(0, 10**6, 7919)) if c not in near)


def test_otp_login_gives_tokens_with_otp_amr(live, phone):
    login = otp_login(live, login_hint=GP)
    assert re.search(rf'id="otp-national-id"[^>]*value="{GP}"', login.page.text)
    assert 'id="otp-code"' in login.page.text and 'id="means-ecps"' in login.page.text
    done = send_code(login, GP, phone.otp())
    assert done.status_code == 302, done.text[:300]
    callback = done.headers["Location"]
    assert query(callback)["state"] == login.start.state
    token = login.tokens(callback)
    id_token = login.psc.verify(token["id_token"])
    assert id_token["acr"] == "eidas1" and id_token["amr"] == ["otp", "swk"]
    assert id_token["preferred_username"] == GP
    assert login.psc.verify(token["access_token"])["authMode"] == "MOBILE"
    info = login.rp.get(login.psc.metadata["userinfo_endpoint"])
    assert "authMode" not in info.json()  # 2024 userinfo: only the access token carries it
    [accepted] = audit(live, "ecps.otp_accepted")
    assert accepted.subject == GP and accepted.details["device_id"] == phone._load()["device_id"]
    [success] = audit(live, "login.success")
    assert success.details["authenticator"] == "ecps_otp"


def test_replayed_code_is_refused_in_a_second_login(live, phone):
    away_from_a_step_boundary()
    code = phone.otp()
    assert send_code(otp_login(live), GP, code).status_code == 302
    second = otp_login(live)  # another browser: no SSO session
    page = send_code(second, GP, code)
    assert page.status_code == 400 and reason(page) == "otp_replayed"
    assert "Ce code a déjà été utilisé" in html.unescape(page.text)
    assert len(audit(live, "ecps.otp_replayed")) == 1


def test_wrong_codes_are_limited_then_even_the_right_code_is_refused(make_live, tmp_path):
    live = make_live(ecps={"otp_attempts": 3})
    phone = EcpsPhone(live.base_url, tmp_path / "p", GP)
    phone.activate(PIN)
    login = otp_login(live)
    wrong = wrong_code(phone)
    reasons = [reason(send_code(login, GP, wrong)) for _ in range(3)]
    assert reasons == ["otp_wrong", "otp_wrong", "otp_locked"]
    away_from_a_step_boundary()
    page = send_code(login, GP, phone.otp())
    assert page.status_code == 400 and reason(page) == "otp_locked"
    assert "Trop de codes erronés" in html.unescape(page.text)
    # the push stays available on the same login
    assert 'id="means-ecps"' in page.text


def test_code_of_another_professionals_phone_is_refused(live, phone, tmp_path):
    away_from_a_step_boundary()
    mine = phone.otp()
    for attempt in range(3):  # the same code by chance (one in a million): another phone
        other = EcpsPhone(live.base_url, tmp_path / f"phone-nurse-{attempt}", NURSE)
        other.activate(PIN)
        theirs = other.otp()
        if theirs != mine:
            break
    login = otp_login(live)
    page = send_code(login, GP, theirs)
    assert page.status_code == 400 and reason(page) == "otp_wrong"
    assert send_code(login, GP, mine).status_code == 302  # the right one still works


def test_drift_window_is_one_step(live, phone):
    away_from_a_step_boundary()
    seed = phone._load()["otp_secret"]
    move_clock(live, 65)  # two steps ahead of the phone: refused
    login = otp_login(live)
    code = pyotp.TOTP(seed).now()
    assert reason(send_code(login, GP, code)) == "otp_wrong"
    move_clock(live, -35)  # one step ahead: accepted
    assert send_code(login, GP, code).status_code == 302


def test_form_refusals(live, phone):
    login = otp_login(live, ui_locales="en")
    page = send_code(login, GP, "12345")
    assert reason(page) == "otp_malformed" and "The code has 6 digits." in page.text
    assert re.search(rf'id="otp-national-id"[^>]*value="{GP}"', page.text)  # kept
    assert reason(send_code(login, "899999999999", "123456")) == "unknown_professional"
    page = send_code(login, NURSE, "123456")
    assert reason(page) == "ecps_not_activated" and "No e-CPS is activated" in page.text
    page = send_code(login, GP, phone.otp())
    assert page.status_code == 302


def test_means_blocked_in_the_directory_ends_the_request(live):
    login = otp_login(live)
    done = send_code(login, BLOCKED, "123456")
    assert done.status_code == 302
    assert query(done.headers["Location"])["error"] == "access_denied"


@pytest.mark.one_backend
def test_csrf_is_checked(live, phone):
    login = otp_login(live)
    login.csrf = "forged"
    page = send_code(login, GP, phone.otp())
    assert page.status_code == 400 and reason(page) == "csrf"
    with live.app.app_context():
        from psc_idp.credentials.models import EcpsDevice

        device = db.session.scalars(db.select(EcpsDevice)).one()
        assert device.last_otp_step == 0  # the code was not even checked


@pytest.mark.one_backend
def test_english_page(live):
    login = otp_login(live, ui_locales="en")
    assert "Open the e-CPS app and enter the 6-digit code" in login.page.text
    assert "One-time code (6 digits)" in login.page.text
    assert "e-CPS (mobile app)" in login.page.text  # link to the push
