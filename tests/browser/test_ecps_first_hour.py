"""The first hour with the e-CPS, in headless Chromium (issue 13): the desktop (demo RP → PSC
login page) and the virtual phone's page side by side, as a newcomer meets them.

- the RPPS typed in the phone's activation form activates it; every text is French, the
  protocol code only in a detail line;
- wrong PINs count down on the phone ("2 essais restants", "1 essai restant"), the third blocks
  the e-CPS: the phone hides the PIN and *Accepter* and offers *Réactiver* (also after a
  reload), and the waiting login page says at once that the e-CPS is blocked;
- a login abandoned in a closed tab does not hide the new one: the newest is shown, the other
  is listed with its binding code and can be chosen; refusing needs no PIN, and the RP's error
  page says the error came back by redirect;
- an expired push offers *Réessayer* on the PSC page.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from playwright.sync_api import expect

from clients.ecps_app.phone import EcpsPhone
from clients.ecps_app.web import Settings, create_app
from tests.browser.conftest import TIMEOUT_MS, BrowserSetup, phone_sized_page
from tests.conftest import LiveServer, free_port
from tests.ecps_app.test_web import POLL_WAIT, InFlight

pytestmark = pytest.mark.browser

GP = "810099900010"
RPPS = GP[1:]
PIN = "2468"
ENGLISH = ("usable", "blocked", "revoked", "Wrong PIN", "Unknown", "virtual e-CPS",
           "expired before", "Missing or invalid")


@pytest.fixture
def phone_server(psc: BrowserSetup, tmp_path) -> Iterator[LiveServer]:
    """The phone's page, stopped before the provider once its long-polls relayed to the
    provider are over (one cut by the provider's shutdown leaves a database connection
    behind: a ResourceWarning on PostgreSQL). Listed before ``phone_page`` in a test, so the
    browser has left first."""
    port = free_port()
    app = create_app(Settings(
        SERVER=psc.provider.base_url, HOME=str(tmp_path / "phone"), PORT=port,
        SECRET_KEY=os.urandom(16).hex(), POLL_WAIT=POLL_WAIT))
    in_flight = InFlight(app)
    server = LiveServer(app, port)
    yield server
    in_flight.wait(timeout=POLL_WAIT + 5)
    server.stop()


@pytest.fixture
def phone_page(chromium: Any) -> Iterator[Any]:
    with phone_sized_page(chromium) as page:
        yield page


def no_english(page: Any) -> None:
    text = page.locator("body").inner_text()
    found = [word for word in ENGLISH if word in text]
    assert not found, (found, text)


def activate_on_the_page(phone: Any, server: LiveServer, typed: str = RPPS) -> None:
    phone.goto(server.base_url + "/")
    phone.locator("#national-id").fill(typed)
    phone.locator("#new-pin").fill(PIN)
    with phone.expect_navigation():
        phone.locator("#activate").click()
    expect(phone.locator("#card-name")).to_have_text("Camille LEROY")


def start_push(page: Any, rp: LiveServer) -> str:
    """RP → PSC → e-CPS → the national id: the waiting page; returns its binding code."""
    page.goto(rp.base_url + "/")
    page.get_by_role("link", name="Se connecter avec Pro Santé Connect").click()
    page.locator("#means-ecps").click()
    page.locator("#ecps-national-id").fill(GP)
    page.locator("#ecps-send").click()
    code = page.locator("#binding-code")
    expect(code).to_be_visible()
    return code.inner_text().strip()


@pytest.mark.one_backend
def test_rpps_activation_and_french_texts(psc: BrowserSetup, phone_server: LiveServer,
                                          phone_page: Any):
    phone = phone_page
    phone.goto(phone_server.base_url + "/")
    expect(phone.locator("#device-name")).to_have_value("e-CPS virtuelle (page web)")
    # an unknown identifier: French, the code only as a detail
    phone.locator("#national-id").fill("10099909003")  # a valid RPPS nobody holds
    phone.locator("#new-pin").fill(PIN)
    with phone.expect_navigation():
        phone.locator("#activate").click()
    flash = phone.locator(".flash.error")
    expect(flash).to_contain_text("Activation refusée : Identifiant national ou numéro RPPS "
                                  "inconnu.")
    expect(flash.locator(".detail")).to_have_text("code : unknown_professional")
    expect(phone.locator("#national-id")).to_have_value("810099909003")  # kept, to fix it
    no_english(phone)
    # the RPPS alone, as on the login page
    activate_on_the_page(phone, phone_server, RPPS)
    expect(phone.locator(".flash.ok")).to_have_text("e-CPS activée (utilisable).")
    expect(phone.locator("#device-status")).to_have_text("utilisable")
    expect(phone.locator("#card-national-id")).to_have_text(GP)
    expect(phone.locator("li.device .badge")).to_have_text("utilisable")
    no_english(phone)


def test_wrong_pins_count_down_and_the_block_reaches_the_login_page(
        psc: BrowserSetup, phone_server: LiveServer, phone_page: Any, page: Any):
    phone = phone_page
    activate_on_the_page(phone, phone_server)
    code = start_push(page, psc.rp)
    expect(phone.locator("#binding-code")).to_have_text(code, timeout=15_000)

    for expected in ("Code PIN erroné, 2 essais restants.", "Code PIN erroné, 1 essai restant."):
        phone.locator("#pin").fill("9999")
        phone.locator("#approve").click()
        expect(phone.locator("#result")).to_have_text(expected)
        expect(phone.locator("#result-detail")).to_have_text("code : invalid_pin")
        expect(phone.locator("#request")).to_be_visible()
    expect(page.locator("#ecps-status")).to_have_text("En attente de votre validation…")

    phone.locator("#pin").fill("9999")
    phone.locator("#approve").click()
    expect(phone.locator("#result")).to_contain_text("e-CPS bloquée")
    expect(phone.locator("#blocked")).to_be_visible()
    expect(phone.locator("#requests")).to_be_hidden()
    expect(phone.locator("#device-status")).to_have_text("bloquée")
    no_english(phone)

    # the waiting login page is told at once (woken through its event stream)
    error = page.locator("#login-error")
    expect(error).to_have_attribute("data-reason", "ecps_blocked", timeout=8_000)
    expect(error).to_contain_text("Votre e-CPS est bloquée après trop de codes PIN erronés")
    no_english(page)

    # after a reload the phone still offers no PIN and no Accepter, but Réactiver
    phone.reload()
    expect(phone.locator("#blocked")).to_be_visible()
    expect(phone.locator("#pin")).to_be_hidden()
    expect(phone.locator("#approve")).to_be_hidden()
    expect(phone.locator("#device-status")).to_have_text("bloquée")
    no_english(phone)
    with phone.expect_navigation():
        phone.locator("#reactivate").click()
    expect(phone.locator("#national-id")).to_have_value(GP)  # one PIN away from a new e-CPS


@pytest.mark.one_backend
def test_the_newest_request_first_the_stale_one_can_be_chosen(
        psc: BrowserSetup, phone_server: LiveServer, phone_page: Any, chromium: Any):
    phone = phone_page
    activate_on_the_page(phone, phone_server)
    desktops = []
    try:
        for _ in range(2):  # the first tab is then forgotten (closed): a stale request
            context = chromium.new_context(locale="fr-FR")
            context.set_default_timeout(TIMEOUT_MS)
            desktops.append(context)
        stale_page, fresh_page = (c.new_page() for c in desktops)
        stale_code = start_push(stale_page, psc.rp)
        fresh_code = start_push(fresh_page, psc.rp)

        expect(phone.locator("#binding-code")).to_have_text(fresh_code, timeout=15_000)
        choice = phone.locator("#request-list button.request-choice")
        expect(choice).to_have_count(1)
        expect(choice).to_have_attribute("data-binding-code", stale_code)
        expect(phone.locator("#pending-count")).to_contain_text("1 autre demande en attente")
        no_english(phone)

        # the professional picks the stale one, and refuses it with no PIN
        choice.click()
        expect(phone.locator("#binding-code")).to_have_text(stale_code)
        phone.locator("#deny").click()
        expect(phone.locator("#result")).to_contain_text("Connexion refusée")
        # a denial ends that login at the RP: its page says the error came by redirect
        expect(stale_page).to_have_url(re.compile(r"/callback\?.*error=access_denied"),
                                       timeout=15_000)
        expect(stale_page.locator(".error-status")).to_contain_text(
            "Revenue par redirection vers /callback avec error=access_denied")

        # the new login is still there, shown alone: approved with the PIN
        expect(phone.locator("#binding-code")).to_have_text(fresh_code)
        expect(phone.locator("#other-requests")).to_be_hidden()
        phone.locator("#pin").fill(PIN)
        phone.locator("#approve").click()
        expect(phone.locator("#result")).to_contain_text("Connexion acceptée")
        expect(fresh_page).to_have_url(psc.rp.base_url + "/", timeout=15_000)
        expect(fresh_page.locator("section.identity-card h1")).to_have_text("Dr Camille LEROY")
    finally:
        for context in desktops:
            context.close()


@pytest.mark.one_backend
def test_an_expired_push_offers_to_try_again(psc: BrowserSetup, tmp_path, page: Any):
    phone = EcpsPhone(psc.provider.base_url, tmp_path / "cli-phone", GP)
    phone.activate(PIN)
    start_push(page, psc.rp)
    moved = requests.post(psc.provider.base_url + "/api/admin/clock",
                          json={"advance_seconds": 121}, timeout=10)
    assert moved.status_code == 200
    error = page.locator("#login-error")
    expect(error).to_have_attribute("data-reason", "ecps_request_expired", timeout=8_000)
    expect(error).to_contain_text("a expiré sans réponse")
    assert page.url.startswith(psc.provider.base_url)  # still on PSC, not the RP's error page
    retry = page.locator("#ecps-send")
    expect(retry).to_have_text("Réessayer")
    expect(page.locator("#ecps-national-id")).to_have_value(GP)
    no_english(page)
    retry.click()
    code = page.locator("#binding-code")
    expect(code).to_be_visible()
    answered = phone.answer_next("approve", PIN, wait=10, binding_code=code.inner_text().strip())
    assert answered["status"] == "approved"
    expect(page).to_have_url(psc.rp.base_url + "/", timeout=15_000)
