"""Logout from the e-CPS app: the phone lists the professional's sessions and ends one; the
session's services are told by back-channel logout like any other logout."""

from __future__ import annotations

import pytest
import requests

from clients.ecps_app.phone import EcpsPhone, PhoneError
from tests.psc_actions import GP, PscActions, query
from tests.sso.conftest import register

PIN = "1234"


def test_the_app_lists_and_ends_a_session(live, receivers, tmp_path):
    receiver, base = receivers()
    client_id, secret, redirect_uri = register(
        live.app, "bc-rp", port=7601, name="Messagerie", backchannel_logout_uri=base + "/bc")
    phone = EcpsPhone(live.base_url, tmp_path / "phone", GP)
    phone.activate(PIN)
    browser = PscActions(live.issuer)
    _, tokens = browser.full_login(browser.client(client_id, secret, redirect_uri))
    sid = browser.verify(tokens["id_token"])["sid"]

    listed = phone.sessions()
    assert [(s["sid"], s["clients"]) for s in listed] == [(sid, ["bc-rp"])]
    assert phone.end_session(sid) == {"sid": sid, "ended": True}
    posts = receiver.wait_for(1)
    assert len(posts) == 1 and browser.verify(posts[0]["logout_token"])["sid"] == sid
    assert phone.sessions() == []
    again = browser.open(browser.start(browser.client(client_id, secret, redirect_uri),
                                       prompt="none").url)
    assert query(again.headers["Location"])["error"] == "login_required"
    with pytest.raises(PhoneError) as ended_twice:
        phone.end_session(sid)
    assert ended_twice.value.status == 404


def test_the_app_cannot_end_someone_else_s_session(live, tmp_path):
    phone = EcpsPhone(live.base_url, tmp_path / "phone", GP)
    phone.activate(PIN)
    nurse = PscActions(live.issuer)
    _, tokens = nurse.full_login(national_id="810099900119")
    sid = nurse.verify(tokens["id_token"])["sid"]
    with pytest.raises(PhoneError) as refused:
        phone.end_session(sid)
    assert refused.value.status == 404 and refused.value.code == "not_found"
    anonymous = requests.delete(f"{live.base_url}/api/mobile/v1/me/sessions/{sid}", timeout=10)
    assert anonymous.status_code == 401
    start = nurse.start(nurse.client(), prompt="none")
    assert "code" in query(nurse.open(start.url).headers["Location"])  # still signed in
