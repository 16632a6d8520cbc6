"""The e-CPS push login over real HTTP: Authlib as the RP, ``requests`` as the browser, the
virtual phone (clients/ecps_app/phone.py) answering; one test drives the waiting page's script
in headless Chromium. Time moves with the admin clock API, never with sleeps.
"""

from __future__ import annotations

import html
import re
import threading
import time
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session

from clients.ecps_app.phone import EcpsPhone, PhoneError
from psc_idp.audit import AuditEvent
from psc_idp.db import db
from tests.psc_actions import AuthorizationStart, PscActions, query

GP = "810099900010"
NURSE = "810099900119"
BLOCKED = "810099900150"
PIN = "1234"
DAY = 86400
SERVICE = "Dossier patient"  # the demo client's name, shown on the phone


@dataclass
class Login:
    """One login in one browser: the RP side, the browser and the current page."""

    live: Any
    psc: PscActions
    rp: OAuth2Session
    start: AuthorizationStart
    page: requests.Response
    uid: str = ""
    csrf: str = ""

    def __post_init__(self) -> None:
        uid = re.search(r'/login/([^/"]+)/', self.page.text)
        csrf = re.search(r'name="csrf" value="([^"]+)"', self.page.text)
        assert uid and csrf, self.page.text[:300]
        self.uid, self.csrf = uid.group(1), csrf.group(1)

    @property
    def base(self) -> str:
        return self.live.base_url

    def get(self, path_or_url: str) -> requests.Response:
        url = path_or_url if path_or_url.startswith("http") else self.base + path_or_url
        return self.psc.browser.get(url, allow_redirects=False, timeout=35)

    def means(self, auth_id: str) -> requests.Response:
        link = re.search(rf'id="means-{auth_id}" href="([^"]+)"', self.page.text)
        assert link, f"no link to {auth_id} on the page"
        self.page = self.get(html.unescape(link.group(1)))
        assert self.page.status_code == 200, self.page.text[:300]
        return self.page

    def send(self, national_id: str, csrf: str | None = None) -> requests.Response:
        """Submit the e-CPS form; a push answers 303 to the waiting page (…/finish)."""
        form = {"national_id": national_id, "csrf": self.csrf if csrf is None else csrf}
        answer = self.psc.browser.post(f"{self.base}/login/{self.uid}/ecps", data=form,
                                       allow_redirects=False, timeout=10)
        self.page = answer
        return answer

    def push(self, national_id: str = GP) -> requests.Response:
        """Send the push and open the waiting page."""
        sent = self.send(national_id)
        assert sent.status_code == 303, sent.text[:300]
        assert sent.headers["Location"] == self.finish_url
        self.page = self.get(sent.headers["Location"])
        assert self.page.status_code == 200 and 'id="binding-code"' in self.page.text
        return self.page

    @property
    def finish_url(self) -> str:
        return f"/login/{self.uid}/ecps/finish"

    def status(self, wait: float = 0) -> tuple[dict[str, Any], float]:
        began = time.monotonic()
        answer = self.get(f"/login/{self.uid}/ecps/status?wait={wait}")
        assert answer.status_code == 200, answer.text[:300]
        assert answer.headers["Cache-Control"] == "no-store"
        return answer.json(), time.monotonic() - began

    def finish(self) -> requests.Response:
        self.page = self.get(self.finish_url)
        return self.page

    def tokens(self, callback: str) -> dict[str, Any]:
        return self.psc.tokens(self.rp, self.start, callback)


def open_login(live, **params: Any) -> Login:
    """GET /auth in a fresh browser: the first means' page (persona with the defaults)."""
    psc = PscActions(live.issuer, browser=requests.Session())
    psc.browser.trust_env = False
    rp = psc.client()
    start = psc.start(rp, **params)
    page = psc.open(start.url)
    assert page.status_code == 200, page.text[:300]
    return Login(live, psc, rp, start, page)


def ecps_login(live, **params: Any) -> Login:
    login = open_login(live, **params)
    login.means("ecps")
    return login


def binding_code(page: requests.Response) -> str:
    found = re.search(r'id="binding-code"[^>]*>(\d\d)<', page.text)
    assert found, page.text[:500]
    return found.group(1)


def reason(page: requests.Response) -> str:
    found = re.search(r'id="login-error" data-reason="([^"]+)"', page.text)
    assert found, page.text[:500]
    return found.group(1)


def move_clock(live, seconds: float) -> None:
    answer = requests.post(live.base_url + "/api/admin/clock", json={"advance_seconds": seconds})
    assert answer.status_code == 200, answer.text


def audit(live, event: str) -> list[AuditEvent]:
    with live.app.app_context():
        return list(db.session.scalars(db.select(AuditEvent).where(AuditEvent.event == event)))


@pytest.fixture
def phone(live, tmp_path) -> EcpsPhone:
    phone = EcpsPhone(live.base_url, tmp_path / "phone-gp", GP)
    phone.activate(PIN)
    return phone


# ----------------------------------------------------------------------------- the happy path
def test_push_login_gives_tokens_with_mobile_auth_mode(live, phone):
    login = open_login(live, login_hint=GP)
    # persona is the first means: GET /auth answers its form, with links to the e-CPS means
    assert re.search(r'<form method="post" action="/login/[^"]+/persona"', login.page.text)
    assert 'id="means-ecps_otp"' in login.page.text
    form = login.means("ecps")
    assert re.search(rf'id="ecps-national-id"[^>]*value="{GP}"', form.text)  # login_hint
    assert 'id="ecps-send"' in form.text and 'id="means-persona"' in form.text
    assert 'id="means-ecps"' not in form.text

    waiting = login.push(GP)
    [pending] = phone.pending()
    assert pending["binding_code"] == binding_code(waiting)
    assert pending["service_name"] == SERVICE and SERVICE in html.unescape(waiting.text)
    phone.answer(pending, "approve", PIN)

    done = login.finish()
    assert done.status_code == 302, done.text[:300]
    callback = done.headers["Location"]
    params = query(callback)
    assert params["state"] == login.start.state and params["iss"] == live.issuer
    token = login.tokens(callback)
    id_token = login.psc.verify(token["id_token"])
    assert id_token["acr"] == "eidas1" and id_token["amr"] == ["swk", "pin", "mfa"]
    assert id_token["preferred_username"] == GP and id_token["nonce"] == login.start.nonce
    assert login.psc.verify(token["access_token"])["authMode"] == "MOBILE"
    info = login.rp.get(login.psc.metadata["userinfo_endpoint"])
    # PSC's current (2024) userinfo has no authMode: the access token carries it
    assert info.status_code == 200 and "authMode" not in info.json()
    assert info.json()["SubjectNameID"] == GP

    [sent] = audit(live, "ecps.push_sent")
    assert sent.subject == GP and sent.details["challenge_id"] == pending["challenge_id"]
    [success] = audit(live, "login.success")
    assert success.details["authenticator"] == "ecps" and success.details["auth_mode"] == "MOBILE"
    # the login is over: its pages answer an error, not a second code
    assert login.finish().status_code == 400


def test_rpps_alone_is_accepted(live, phone):
    login = ecps_login(live)
    login.push(GP[1:])  # the bare RPPS number
    assert phone.answer_next("approve", PIN, wait=5)["status"] == "approved"
    assert login.finish().status_code == 302


# ----------------------------------------------------------------------------- waiting
def test_status_long_polls_and_returns_early_when_the_phone_answers(live, phone):
    login = ecps_login(live)
    login.push()
    body, _ = login.status()
    assert body["status"] == "pending" and body["challenge"] == "pending"
    assert 100 < body["expires_in"] <= 120
    body, elapsed = login.status(wait=1)
    assert body["status"] == "pending" and elapsed >= 0.9  # it did wait

    answered: list[dict[str, Any]] = []
    timer = threading.Timer(0.6, lambda: answered.append(phone.answer_next("approve", PIN, 5)))
    timer.start()
    body, elapsed = login.status(wait=20)
    timer.join()
    assert answered and answered[0]["status"] == "approved"
    assert body == {"status": "success", "challenge": "approved", "next": login.finish_url}
    assert elapsed < 5, elapsed  # well before the 20 s asked for
    # the status endpoint reports, it does not log in: the finish page does
    assert login.finish().status_code == 302


@pytest.mark.one_backend
def test_status_refuses_a_wait_that_is_not_a_number(live, phone):
    login = ecps_login(live)
    login.push()
    answer = login.get(f"/login/{login.uid}/ecps/status?wait=nan")
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_request"
    answer = login.get(f"/login/{login.uid}/ecps/status?wait=soon")
    assert answer.status_code == 400


def test_finish_before_approval_keeps_waiting(live, phone):
    login = ecps_login(live)
    first = login.push()
    again = login.finish()
    assert again.status_code == 200 and "Location" not in again.headers
    assert binding_code(again) == binding_code(first)  # the same request, no new push
    assert len(phone.pending()) == 1
    phone.answer_next("approve", PIN, wait=1)
    assert login.finish().status_code == 302


@pytest.mark.one_backend
def test_waiting_page_works_without_and_with_javascript(live, phone):
    login = ecps_login(live)
    page = login.push()
    noscript = re.search(r"<noscript>(.*?)</noscript>", page.text, re.S)
    assert noscript and f'id="ecps-continue" href="{login.finish_url}"' in noscript.group(1)
    assert 'src="/static/ecps-wait.js"' in page.text
    assert f'data-status-url="/login/{login.uid}/ecps/status"' in page.text
    assert f'data-events-url="/login/{login.uid}/ecps/events"' in page.text
    assert f'data-finish-url="{login.finish_url}"' in page.text
    assert 'http-equiv="refresh"' not in page.text  # no full-page polling
    script = requests.get(live.base_url + "/static/ecps-wait.js", timeout=10)
    assert script.status_code == 200 and "?wait=" in script.text


@pytest.mark.one_backend
@pytest.mark.browser
@pytest.mark.parametrize("transport", ["event-stream", "long-poll"])
def test_waiting_page_script_finishes_the_login_in_chromium(live, phone, transport):
    """The real script in a real browser: it listens to the event stream (or, without
    EventSource, long-polls), then navigates to the finish URL."""
    from psc_idp.admin.clients import upsert_client
    from psc_idp.config import ClientSeed

    callback = live.base_url + "/rp-callback"  # not served: the URL is what matters
    with live.app.app_context():
        upsert_client(ClientSeed(client_id="js-rp", client_secret="js-rp-secret-1",
                                 name="Service JS", redirect_uris=[callback]),
                      live.app.extensions["psc_idp"].settings, source="test")
        db.session.commit()
    psc = PscActions(live.issuer)
    start = psc.start(psc.client("js-rp", "js-rp-secret-1", callback), ui_locales="en")
    seen: dict[str, Any] = {}

    def answer_when_pushed() -> None:
        [pending] = phone.pending(wait=10)
        seen["phone"] = pending["binding_code"]
        time.sleep(1)  # the page is waiting on its long-poll by now
        phone.answer(pending, "approve", PIN)

    def drive_chromium() -> None:  # a thread of its own: no other Playwright loop in the way
        import os

        from playwright.sync_api import sync_playwright

        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=os.environ.get("PSC_TEST_CHROMIUM", "/usr/bin/chromium"),
                headless=True, args=["--no-sandbox", "--disable-gpu",
                                     "--disable-background-networking"])
            try:
                page = browser.new_page()
                if transport == "long-poll":  # a browser without EventSource
                    page.add_init_script("delete window.EventSource;")
                page.set_default_timeout(15_000)
                page.goto(start.url)
                page.click("#means-ecps")
                page.fill("#ecps-national-id", GP)
                page.click("#ecps-send")
                page.wait_for_selector("#binding-code")
                seen["title"] = page.locator("h1").inner_text()
                seen["page"] = page.locator("#binding-code").inner_text()
                page.wait_for_selector(f"#ecps-wait[data-transport='{transport}']")
                seen["transport"] = page.get_attribute("#ecps-wait", "data-transport")
                page.wait_for_url(re.compile(re.escape(callback) + r"\?.*code="))
                seen["url"] = page.url
            except Exception as exc:  # reported by the assertions below
                seen["error"] = repr(exc)
            finally:
                browser.close()

    phone_thread = threading.Thread(target=answer_when_pushed)
    browser_thread = threading.Thread(target=drive_chromium)
    phone_thread.start()
    browser_thread.start()
    browser_thread.join(60)
    phone_thread.join(20)
    assert "error" not in seen, seen.get("error")
    assert seen["title"] == "Approve the login on your phone"
    assert seen["page"] == seen["phone"]
    assert seen["transport"] == transport
    assert query(seen["url"])["state"] == start.state


# ----------------------------------------------------------------------------- final failures
def test_denied_on_the_phone_sends_access_denied_to_the_rp(live, phone):
    login = ecps_login(live)
    login.push()
    assert phone.answer_next("deny", PIN, wait=5)["status"] == "denied"
    body, _ = login.status()
    assert body["status"] == "failure" and body["challenge"] == "denied"
    done = login.finish()
    assert done.status_code == 302
    params = query(done.headers["Location"])
    assert params["error"] == "access_denied" and "denied" in params["error_description"]
    assert params["state"] == login.start.state and params["iss"] == live.issuer
    assert login.finish().status_code == 400  # over


def test_expired_push_offers_to_try_again(live, phone):
    """An unanswered push ends on PSC's page with "Réessayer" (the login goes on), never on
    the RP's error page; trying again pushes a new request that can be approved."""
    login = ecps_login(live)
    login.push()
    move_clock(live, 121)
    body, elapsed = login.status(wait=5)
    assert body["status"] == "failure" and body["challenge"] == "expired" and elapsed < 2
    with pytest.raises(PhoneError) as closed:
        phone.answer_next("approve", PIN, wait=0.1)
    assert closed.value.code == "no_pending_request"
    page = login.finish()
    assert page.status_code == 400 and reason(page) == "ecps_request_expired"
    assert "a expiré sans réponse" in page.text and ">Réessayer</button>" in page.text
    assert f'value="{GP}"' in page.text  # the identifier is kept: one click to try again
    assert len(audit(live, "ecps.push_expired")) == 1  # once, though polled twice
    assert login.send(GP).status_code == 303  # tried again: a new push
    assert phone.answer_next("approve", PIN, wait=5)["status"] == "approved"
    done = login.finish()
    assert done.status_code == 302 and "code" in query(done.headers["Location"])


def test_challenge_lifetime_is_configurable(make_live, tmp_path):
    live = make_live(ecps={"challenge_lifetime": 30})
    phone = EcpsPhone(live.base_url, tmp_path / "p", GP)
    phone.activate(PIN)
    login = ecps_login(live)
    login.push()
    assert login.status()[0]["expires_in"] <= 30
    move_clock(live, 31)
    assert login.status()[0]["challenge"] == "expired"


def test_means_blocked_in_the_directory_ends_the_request(live):
    login = ecps_login(live)
    done = login.send(BLOCKED)
    assert done.status_code == 302
    params = query(done.headers["Location"])
    assert params["error"] == "access_denied" and params["state"] == login.start.state


def test_cancel_on_the_waiting_page_withdraws_the_push(live, phone):
    login = ecps_login(live)
    login.push()
    done = login.psc.browser.post(f"{live.base_url}/login/{login.uid}/cancel",
                                  data={"csrf": login.csrf}, allow_redirects=False)
    assert done.status_code == 302 and query(done.headers["Location"])["error"] == "access_denied"
    assert phone.pending() == []  # withdrawn from the phone
    assert len(audit(live, "ecps.push_cancelled")) == 1


# ----------------------------------------------------------------------------- retryable pages
def test_unknown_or_malformed_identifier_shows_the_form_again(live):
    login = ecps_login(live)
    for typed in ("899999999999", "81009990001X", "12"):
        page = login.send(typed)
        assert page.status_code == 400 and reason(page) == "unknown_professional"
        assert "Identifiant inconnu ou mal formé." in page.text
        assert 'id="ecps-send"' in page.text
        assert re.search(rf'id="ecps-national-id"[^>]*value="{typed}"', page.text)


def test_no_enrolled_device_gets_a_clear_page(live):
    login = ecps_login(live)
    page = login.send(NURSE)
    assert page.status_code == 400 and reason(page) == "ecps_not_activated"
    assert "Aucune e-CPS n'est activée pour cet identifiant" in html.unescape(page.text)
    assert 'id="means-ecps_otp"' in page.text  # another means is offered
    assert [e.subject for e in audit(live, "ecps.no_usable_device")] == [NURSE]
    # retryable: the request is still open; cancelling tells the RP
    done = login.psc.browser.post(f"{live.base_url}/login/{login.uid}/cancel",
                                  data={"csrf": login.csrf}, allow_redirects=False)
    assert query(done.headers["Location"])["error"] == "access_denied"


def test_blocked_ecps_after_three_wrong_pins_gets_a_clear_page(live, phone):
    login = ecps_login(live)
    login.push()
    [pending] = phone.pending()
    for _ in range(3):
        with pytest.raises(PhoneError):
            phone.answer(pending, "approve", "9999")
    assert phone.device()["status"] == "blocked"
    # the waiting login is told at once: the push is withdrawn, the page says why
    body, _ = login.status()
    assert body["status"] == "failure" and body["challenge"] == "cancelled"
    page = login.finish()
    assert page.status_code == 400 and reason(page) == "ecps_blocked"
    page = login.send(GP)
    assert page.status_code == 400 and reason(page) == "ecps_blocked"
    assert "bloquée après trop de codes PIN erronés" in html.unescape(page.text)


def test_activation_delay_then_expiry_get_their_own_pages(make_live, tmp_path):
    live = make_live(ecps={"activation_delay": 2 * DAY})
    phone = EcpsPhone(live.base_url, tmp_path / "p", GP)
    phone.activate(PIN)
    login = ecps_login(live, ui_locales="en")
    page = login.send(GP)
    assert reason(page) == "ecps_waiting" and "it can be used from" in page.text
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", page.text)
    move_clock(live, 2 * DAY + 1)
    assert login.send(GP).status_code == 303  # usable now: pushed
    move_clock(live, 1096 * DAY)
    page = login.send(GP)
    assert reason(page) == "ecps_expired" and "has expired or was revoked" in page.text


@pytest.mark.one_backend
def test_csrf_is_checked_and_nothing_is_pushed(live, phone):
    login = ecps_login(live)
    page = login.send(GP, csrf="forged")
    assert page.status_code == 400 and reason(page) == "csrf"
    assert phone.pending() == []


@pytest.mark.one_backend
def test_english_pages(live, phone):
    login = ecps_login(live, ui_locales="en")
    assert "Enter your identifier: a login request will be sent" in login.page.text
    assert "e-CPS (mobile app)" in login.page.text and "e-CPS: one-time code" in login.page.text
    page = login.push()
    assert "Approve the login on your phone" in page.text
    assert "Check that your phone shows this code" in page.text


# ----------------------------------------------------------------------------- isolation
def test_phone_of_another_professional_cannot_complete_the_login(live, phone, tmp_path):
    other = EcpsPhone(live.base_url, tmp_path / "phone-nurse", NURSE)
    other.activate(PIN)
    login = ecps_login(live)
    login.push(GP)
    assert other.pending() == []
    [pending] = phone.pending()
    with pytest.raises(PhoneError) as refused:
        other.answer(pending, "approve", PIN)
    assert refused.value.code == "unknown_challenge"
    assert login.finish().status_code == 200  # still waiting: not logged in
    assert login.status()[0]["status"] == "pending"


def test_second_submission_replaces_the_first_push(live, phone):
    login = ecps_login(live)
    login.push()
    first = phone.pending()
    link = re.search(r'id="ecps-resend" href="([^"]+)"', login.page.text)
    assert link and login.get(link.group(1)).status_code == 200  # "send again": the form
    login.push()
    [second] = phone.pending()
    assert second["challenge_id"] != first[0]["challenge_id"]
    with pytest.raises(PhoneError) as closed:
        phone.answer(first[0], "approve", PIN)
    assert closed.value.code == "challenge_closed"
    phone.answer(second, "approve", PIN)
    assert login.finish().status_code == 302


def test_two_logins_in_two_browsers_do_not_mix(live, phone):
    alice, bob = ecps_login(live), ecps_login(live)
    alice.push(GP)
    bob.push(GP)
    first, second = phone.pending()  # oldest first: alice's, then bob's
    assert first["binding_code"] == binding_code(alice.page)
    assert second["binding_code"] == binding_code(bob.page)
    # bob's browser cannot reach alice's login
    assert bob.get(alice.finish_url).status_code == 400
    phone.answer(second, "approve", PIN)
    assert alice.finish().status_code == 200  # alice still waits
    bob_done = bob.finish()
    assert bob_done.status_code == 302
    assert query(bob_done.headers["Location"])["state"] == bob.start.state
    phone.answer(first, "approve", PIN)
    alice_done = alice.finish()
    assert query(alice_done.headers["Location"])["state"] == alice.start.state
    alice_id = alice.psc.verify(alice.tokens(alice_done.headers["Location"])["id_token"])
    bob_id = bob.psc.verify(bob.tokens(bob_done.headers["Location"])["id_token"])
    assert alice_id["nonce"] == alice.start.nonce and bob_id["nonce"] == bob.start.nonce
    assert alice_id["sid"] != bob_id["sid"]


# ----------------------------------------------------------------------------- configuration
def test_without_persona_the_ecps_form_opens_the_login(make_live, tmp_path):
    live = make_live(authenticators={"ecps": {}, "ecps_otp": {}})
    phone = EcpsPhone(live.base_url, tmp_path / "p", GP)
    phone.activate(PIN)
    login = open_login(live)
    assert 'id="ecps-send"' in login.page.text
    assert 'id="means-ecps_otp"' in login.page.text and "means-persona" not in login.page.text
    login.push(GP)
    phone.answer_next("approve", PIN, wait=5)
    assert "code" in query(login.finish().headers["Location"])
    # the full list of means stays available
    login2 = open_login(live)
    page = login2.get(f"/login/{login2.uid}")
    assert 'id="means-ecps"' in page.text and 'id="means-ecps_otp"' in page.text


def test_pending_pushes_per_professional_are_capped(live, phone):
    """At most 3 wait; a fourth push withdraws the oldest (the owner is never refused)."""
    logins = [ecps_login(live) for _ in range(4)]
    for login in logins[:3]:
        login.push(GP)
    first = phone.pending()[0]
    logins[3].push(GP)
    pending = phone.pending()
    assert len(pending) == 3 and first["challenge_id"] not in {c["challenge_id"] for c in pending}
    assert pending[-1]["binding_code"] == binding_code(logins[3].page)
    page = logins[0].finish()  # the withdrawn login: send again
    assert page.status_code == 400 and reason(page) == "ecps_no_request"
    [superseded] = audit(live, "ecps.push_cancelled")
    assert superseded.details["reason"] == "superseded"
    assert superseded.details["challenge_id"] == first["challenge_id"]
