"""A card login in headless Chromium through the reader's page: the demo service, the
provider's « Carte CPS » page, the reader (choose the card, type the PIN), back to the service
signed in. The reader presents the card in a real TLS handshake to the provider's
client-certificate listener; the browser, holding the provider's cookie, finishes the login."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from clients.card_reader.web import create_app
from tests.browser.conftest import fresh_page, serve_demo_rp
from tests.card_reader.conftest import GP, PIN, CardSetup
from tests.conftest import LiveServer, free_port

pytestmark = pytest.mark.browser
LOGIN_LINK = "Se connecter avec Pro Santé Connect"
TIMEOUT_MS = 15_000


@pytest.fixture
def browser_page(chromium: Any) -> Iterator[Any]:
    with fresh_page(chromium, timeout_ms=TIMEOUT_MS) as page:
        yield page


@pytest.fixture
def wired(make_card_setup: Callable[..., CardSetup]) -> Iterator[tuple[CardSetup, str, str]]:
    """(setup, the demo RP's URL, the reader page's URL), the provider pointing at both."""
    rp_port, reader_port = free_port(), free_port()
    reader_url = f"http://127.0.0.1:{reader_port}"
    setup = make_card_setup(demo_rp_url=f"http://127.0.0.1:{rp_port}",
                            cards={"reader_url": reader_url})
    rp = serve_demo_rp(setup.provider.issuer, rp_port)
    reader = LiveServer(create_app(setup.cards_dir), reader_port)
    try:
        yield setup, rp.base_url, reader_url
    finally:
        reader.stop()
        rp.stop()


def _to_the_reader(page: Any, rp_url: str, reader_url: str) -> None:
    page.goto(rp_url + "/")
    page.get_by_role("link", name=LOGIN_LINK).click()
    page.locator("#means-card").click()
    page.locator("#card-open-reader").click()
    expect(page).to_have_url(re.compile("^" + re.escape(reader_url) + r"/\?step=https"))
    expect(page.locator("h1")).to_have_text("Insérez votre carte, saisissez le code PIN")


@pytest.mark.one_backend
def test_choose_the_card_type_the_pin_land_on_the_service_signed_in(
        wired: tuple[CardSetup, str, str], browser_page: Any):
    setup, rp_url, reader_url = wired
    setup.issue(name="cps-leroy")
    page = browser_page
    _to_the_reader(page, rp_url, reader_url)
    card = page.locator("label.card", has_text="LEROY")
    expect(card).to_contain_text(GP)
    card.locator("input[type=radio]").check()
    page.locator("#pin").fill(PIN)
    with page.expect_event("load"):
        page.locator("#reader-submit").click()
    expect(page).to_have_url(rp_url + "/")
    identity = page.locator("section.identity-card")
    expect(identity.locator("h1")).to_have_text("Dr Camille LEROY")
    expect(identity.locator(".national-id code")).to_have_text(GP)


@pytest.mark.one_backend
def test_wrong_pin_is_told_on_the_reader_page(wired: tuple[CardSetup, str, str],
                                              browser_page: Any):
    setup, rp_url, reader_url = wired
    setup.issue(name="cps-leroy")
    page = browser_page
    _to_the_reader(page, rp_url, reader_url)
    page.locator("#pin").fill("9999")
    with page.expect_event("load"):
        page.locator("#reader-submit").click()
    expect(page.locator("#reader-message")).to_have_text(
        "Code PIN erroné : il reste 2 essais.")
    expect(page.locator("label.card .card-state")).to_have_text("2 essais restants")


@pytest.mark.one_backend
def test_a_blocked_card_sends_the_person_back_to_the_providers_card_page(
        wired: tuple[CardSetup, str, str], browser_page: Any):
    from psc_idp.credentials.card_chip import Chip, ChipError

    setup, rp_url, reader_url = wired
    folder = setup.issue(name="cps-leroy")
    for _ in range(3):
        with pytest.raises(ChipError):
            Chip.open(folder).verify_pin("0000")
    page = browser_page
    _to_the_reader(page, rp_url, reader_url)
    expect(page.locator("label.card.blocked")).to_contain_text("bloquée")
    page.locator("#pin").fill(PIN)
    with page.expect_event("load"):
        page.locator("#reader-submit").click()
    expect(page.locator("#reader-message")).to_contain_text("Carte bloquée")
    with page.expect_event("load"):
        page.locator("#reader-back").click()
    expect(page).to_have_url(re.compile(
        "^" + re.escape(setup.provider.base_url) + r"/login/[^/]+/card$"))
    expect(page.locator("#card-open-reader")).to_be_visible()
    with page.expect_event("load"):
        page.locator("#cancel-login").click()
    expect(page).to_have_url(re.compile("^" + re.escape(rp_url)))
    expect(page.locator("body")).to_contain_text("access_denied")
