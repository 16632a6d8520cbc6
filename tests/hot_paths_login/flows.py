"""The two login kinds whose cost is measured, over real HTTP against a live server in this
process: a persona login and an e-CPS push login (the phone answers), each to the tokens and
userinfo. ``run_*`` return nothing: the ``Meter`` attached to the app records the costs."""

from __future__ import annotations

import re
from typing import Any

import requests

from clients.ecps_app.phone import EcpsPhone
from tests.psc_actions import PscActions

GP = "810099900010"
PIN = "1234"


def _psc(live: Any) -> PscActions:
    psc = PscActions(live.issuer, browser=requests.Session())
    psc.browser.trust_env = False
    psc.metadata  # noqa: B018 (discovery fetched before the measured requests)
    return psc


def run_persona_login(live: Any, national_id: str = GP) -> None:
    psc = _psc(live)
    rp = psc.client()
    start = psc.start(rp)
    page = psc.open(start.url)
    assert page.status_code == 200, page.text[:300]
    done = psc.pick_persona(page, national_id)
    assert done.status_code == 302, done.text[:300]
    token = psc.tokens(rp, start, done.headers["Location"])
    assert "access_token" in token
    assert rp.get(psc.metadata["userinfo_endpoint"]).status_code == 200


def run_ecps_push_login(live: Any, phone: EcpsPhone, national_id: str = GP) -> None:
    psc = _psc(live)
    rp = psc.client()
    start = psc.start(rp)
    page = psc.open(start.url)
    assert page.status_code == 200, page.text[:300]
    uid = re.search(r'/login/([^/"]+)/', page.text)
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert uid and csrf
    base = live.base_url + f"/login/{uid.group(1)}/ecps"
    get = psc.browser.get
    form = get(base, allow_redirects=False, timeout=10)
    assert form.status_code == 200, form.text[:300]
    sent = psc.browser.post(base, data={"national_id": national_id, "csrf": csrf.group(1)},
                            allow_redirects=False, timeout=10)
    assert sent.status_code == 303, sent.text[:300]
    waiting = get(base + "/finish", allow_redirects=False, timeout=10)
    assert waiting.status_code == 200, waiting.text[:300]
    assert get(base + "/status?wait=0", timeout=10).json()["status"] == "pending"
    [pending] = phone.pending()
    assert phone.answer(pending, "approve", PIN)["status"] == "approved"
    assert get(base + "/status?wait=0", timeout=10).json()["status"] == "success"
    done = get(base + "/finish", allow_redirects=False, timeout=10)
    assert done.status_code == 302, done.text[:300]
    token = psc.tokens(rp, start, done.headers["Location"])
    assert "access_token" in token
    assert rp.get(psc.metadata["userinfo_endpoint"]).status_code == 200


def activated_phone(live: Any, home: Any, national_id: str = GP) -> EcpsPhone:
    phone = EcpsPhone(live.base_url, home, national_id)
    phone.activate(PIN)
    return phone
