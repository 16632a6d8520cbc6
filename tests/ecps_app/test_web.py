"""The virtual e-CPS page in headless Chromium (Debian's), over a live provider.

The page is served in a thread like the provider (``LiveServer``), with a short long-poll
(``POLL_WAIT``) so a test never waits on a poll in flight.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from playwright.sync_api import expect

from clients.ecps_app.phone import EcpsPhone
from clients.ecps_app.web import Settings, create_app
from psc_idp.credentials import ecps
from psc_idp.db import db
from psc_idp.directory.lookup import find_by_national_id
from tests.browser.conftest import phone_sized_page
from tests.conftest import LiveServer, free_port
from tests.ecps.test_mobile_api import GP, PIN, push_login, status_of
from tests.ecps_app.test_cli import binding_code_of

pytestmark = pytest.mark.browser


@pytest.fixture
def page(chromium: Any) -> Iterator[Any]:
    with phone_sized_page(chromium) as phone_page:
        yield phone_page


POLL_WAIT = 2


class InFlight:
    """Counts the page app's requests in progress (a long-poll relayed to the provider)."""

    def __init__(self, app: Any) -> None:
        self.count = 0
        self.idle = threading.Condition()
        app.before_request(self.begin)
        app.teardown_request(self.end)

    def begin(self) -> None:
        with self.idle:
            self.count += 1

    def end(self, exc: BaseException | None) -> None:
        with self.idle:
            self.count -= 1
            self.idle.notify_all()

    def wait(self, timeout: float) -> None:
        with self.idle:
            self.idle.wait_for(lambda: self.count <= 0, timeout=timeout)


@pytest.fixture
def serve_app(live, tmp_path) -> Iterator[Callable[..., LiveServer]]:
    """The page app in a thread. At the end, long-polls still relayed to the provider after the
    browser left are let finish first: a provider request cut by the provider's shutdown would
    leave its database connection to a disposed pool (a ResourceWarning on PostgreSQL)."""
    servers: list[tuple[LiveServer, InFlight]] = []

    def start(home: Path | None = None) -> LiveServer:
        port = free_port()
        settings = Settings(SERVER=live.base_url, HOME=str(home or tmp_path / "home"),
                            PORT=port, SECRET_KEY=os.urandom(16).hex(), POLL_WAIT=POLL_WAIT)
        app = create_app(settings)
        in_flight = InFlight(app)
        server = LiveServer(app, port)
        servers.append((server, in_flight))
        return server

    yield start
    for _, in_flight in servers:
        in_flight.wait(timeout=POLL_WAIT + 5)
    stops = [threading.Thread(target=s.stop) for s, _ in servers]
    for thread in stops:
        thread.start()
    for thread in stops:
        thread.join()


@pytest.fixture
def web(serve_app) -> LiveServer:
    return serve_app()


def activate(page: Any, web: LiveServer, national_id: str = GP, pin: str = PIN) -> None:
    page.goto(web.base_url + "/")
    page.locator("#national-id").fill(national_id)
    page.locator("#new-pin").fill(pin)
    with page.expect_navigation():
        page.locator("#activate").click()
    expect(page.locator("#card-name")).to_have_text("Camille LEROY")


@pytest.mark.one_backend
def test_activate_see_the_login_type_the_pin_and_approve(live, web, page):
    activate(page, web)
    expect(page.locator("#card-profession")).to_contain_text("Médecin")
    expect(page.locator("#card-national-id")).to_have_text(GP)
    expect(page.locator("#card-rpps")).to_have_text(GP[1:])
    expect(page.locator("#device-status")).to_have_text("utilisable")
    assert page.locator("#card-qr").get_attribute("src").startswith("data:image/svg+xml;base64,")
    expect(page.locator("#no-request")).to_be_visible()
    phone_width = page.locator(".phone").bounding_box()["width"]
    assert phone_width <= 420

    challenge_id = push_login(live, GP, "Dossier patient")
    expect(page.locator("#binding-code")).to_have_text(binding_code_of(live, challenge_id))
    expect(page.locator("#service-name")).to_have_text("Dossier patient")
    page.locator("#pin").fill(PIN)
    page.locator("#approve").click()
    expect(page.locator("#result")).to_contain_text("Connexion acceptée")
    assert status_of(live, challenge_id) == "approved"
    expect(page.locator("#request")).to_be_hidden()

    # the TOTP code shown is one the provider accepts
    code = page.locator("#totp").inner_text()
    assert len(code) == 6 and code.isdigit()
    with live.app.app_context():
        ecps.verify_otp(find_by_national_id(GP), code)
        db.session.commit()


def test_wrong_pin_then_deny(live, web, page):
    activate(page, web)
    challenge_id = push_login(live, GP, "Messagerie")
    expect(page.locator("#binding-code")).to_have_text(binding_code_of(live, challenge_id))
    page.locator("#pin").fill("9999")
    page.locator("#approve").click()
    expect(page.locator("#result")).to_have_text("Code PIN erroné, 2 essais restants.")
    assert status_of(live, challenge_id) == "pending"
    expect(page.locator("#request")).to_be_visible()  # still there: try again, or deny
    page.locator("#deny").click()  # no PIN needed to refuse
    expect(page.locator("#result")).to_contain_text("Connexion refusée")
    assert status_of(live, challenge_id) == "denied"


@pytest.mark.one_backend
def test_devices_listed_and_revoked(live, web, page, tmp_path):
    tablet = EcpsPhone(live.base_url, tmp_path / "tablet", GP)
    tablet.activate("4321", device_name="tablette")
    activate(page, web)
    row = page.locator(f'li.device[data-device-id="{tablet._load()["device_id"]}"]')
    expect(row).to_contain_text("tablette")
    with page.expect_navigation():
        row.get_by_role("button", name="Révoquer").click()
    expect(page.locator(".flash.ok")).to_contain_text("tablette")
    expect(row.locator(".badge")).to_have_text("révoquée")
    expect(row.locator(".badge")).to_have_attribute("data-status", "revoked")
    locked_out = requests.get(live.base_url + "/api/mobile/v1/device", timeout=5,
                              headers={"Authorization": "Bearer " + tablet._load()["device_token"]})
    assert locked_out.status_code == 401


@pytest.mark.one_backend
def test_pick_an_activated_professional(live, serve_app, page, tmp_path):
    home = tmp_path / "shared-home"
    EcpsPhone(live.base_url, home, GP).activate(PIN)  # e.g. by the ecps-app CLI
    web = serve_app(home)
    page.goto(web.base_url + "/")
    with page.expect_navigation():
        page.locator(f'button[data-national-id="{GP}"]').click()
    expect(page.locator("#card-name")).to_have_text("Camille LEROY")
    with page.expect_navigation():
        page.locator("#switch").click()
    expect(page.locator("#national-id")).to_be_visible()


@pytest.mark.one_backend
def test_forms_and_api_need_the_session_token(live, web):
    http = requests.Session()
    http.trust_env = False
    home = http.get(web.base_url + "/", timeout=5)
    assert home.status_code == 200
    assert "frame-ancestors 'none'" in home.headers["Content-Security-Policy"]
    # no token: nothing activated, the page says so
    answer = http.post(web.base_url + "/activate", data={"national_id": GP, "pin": PIN},
                       timeout=10)
    assert "Formulaire expiré" in answer.text
    assert not (Path(web.app.extensions["ecps_app"].home_path) / f"{GP}.json").exists()
    # the page's JSON API as well, GET included (it shows OTP codes)
    refused = http.get(web.base_url + "/api/otp", timeout=5)
    assert refused.status_code == 403 and refused.json()["error"] == "csrf"
    refused = http.post(web.base_url + "/api/answer", json={}, timeout=5,
                        headers={"X-CSRF-Token": "forged"})
    assert refused.status_code == 403


@pytest.mark.one_backend
def test_sessions_listed_and_ended_from_the_page(live, web, page):
    from tests.psc_actions import PscActions

    browser = PscActions(live.issuer)
    _, tokens = browser.full_login()
    sid = browser.verify(tokens["id_token"])["sid"]
    activate(page, web)
    row = page.locator(f'li.session[data-sid="{sid}"]')
    expect(row.locator(".services")).to_have_text("psc-demo-rp")
    with page.expect_navigation():
        row.get_by_role("button", name="Se déconnecter").click()
    expect(page.locator(".flash.ok")).to_contain_text("Session terminée")
    expect(page.locator("li.session")).to_have_count(0)
    start = browser.start(browser.client(), prompt="none")
    assert "login_required" in browser.open(start.url).headers["Location"]


@pytest.mark.one_backend
def test_the_session_list_follows_the_provider_live_in_paris_time(live, web, page):
    """Issue 13 item 12: times in Paris time with the offset, and the phone's session list
    updating while the page is open (a login elsewhere appears, a logout disappears)."""
    from tests.psc_actions import PscActions

    activate(page, web)
    expect(page.locator("li.device .hint").first).to_contain_text("heure de Paris, UTC+0")
    browser = PscActions(live.issuer)
    _, tokens = browser.full_login()
    sid = browser.verify(tokens["id_token"])["sid"]
    row = page.locator(f'li.session[data-sid="{sid}"]')
    expect(row).to_have_count(1, timeout=15000)  # no reload: the page's script refreshed it
    expect(row.locator(".services")).to_have_text("psc-demo-rp")
    expect(row.locator(".hint")).to_contain_text("heure de Paris, UTC+0")
    logout = browser.open(browser.metadata["end_session_endpoint"] + "?id_token_hint=" +
                          tokens["id_token"])
    assert logout.status_code in (200, 302)
    expect(row).to_have_count(0, timeout=15000)


@pytest.mark.one_backend
def test_paris_time_shows_the_offset():
    from clients.ecps_app.web import paris_time

    assert paris_time("2026-12-01T13:05:00Z") == "01/12/2026 14:05 (heure de Paris, UTC+01:00)"
    assert paris_time("2026-07-01T13:05:00") == "01/07/2026 15:05 (heure de Paris, UTC+02:00)"
    assert paris_time("not a time") == "not a time" and paris_time(None) == ""
