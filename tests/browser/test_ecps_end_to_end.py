"""The whole e-CPS story in headless Chromium: demo RP → PSC login page → e-CPS → the virtual
app's page (a second browser context, like a phone) approves with the PIN → the RP shows the
professional signed in with the e-CPS ``amr``."""

from __future__ import annotations

import os
from typing import Any

import pytest
from playwright.sync_api import expect

from clients.ecps_app.phone import EcpsPhone
from clients.ecps_app.web import Settings, create_app
from tests.browser.conftest import TIMEOUT_MS, BrowserSetup
from tests.conftest import LiveServer, free_port

pytestmark = pytest.mark.browser

GP = "810099900010"
PIN = "2468"


def test_ecps_push_approved_on_the_virtual_app_page(psc: BrowserSetup, chromium: Any, page: Any,
                                                    tmp_path):
    home = tmp_path / "phone"
    EcpsPhone(psc.provider.base_url, home, GP).activate(PIN)
    port = free_port()
    app_page_server = LiveServer(create_app(Settings(
        SERVER=psc.provider.base_url, HOME=str(home), PORT=port,
        SECRET_KEY=os.urandom(16).hex(), POLL_WAIT=2)), port)
    psc.servers.append(app_page_server)

    # the professional, on the service: PSC button → e-CPS → national id
    page.goto(psc.rp.base_url + "/")
    page.get_by_role("link", name="Se connecter avec Pro Santé Connect").click()
    page.locator("#means-ecps").click()
    page.locator("#ecps-national-id").fill(GP)
    page.locator("#ecps-send").click()
    code = page.locator("#binding-code")
    expect(code).to_be_visible()
    shown_on_login_page = code.inner_text().strip()
    assert len(shown_on_login_page) == 2 and shown_on_login_page.isdigit()

    # the phone: its page shows the same binding code; PIN, approve
    phone_context = chromium.new_context(locale="fr-FR", viewport={"width": 390, "height": 844})
    phone_context.set_default_timeout(TIMEOUT_MS)
    try:
        phone = phone_context.new_page()
        phone.goto(app_page_server.base_url + "/")
        chooser = phone.locator(f"button[data-national-id='{GP}']")
        if chooser.count():
            chooser.click()
        expect(phone.locator("#binding-code")).to_have_text(shown_on_login_page,
                                                              timeout=15_000)
        phone.locator("#pin").fill(PIN)
        phone.locator("#approve").click()
        expect(phone.locator("#result")).not_to_be_empty()
    finally:
        phone_context.close()

    # back on the service, signed in, and the ID token says how
    expect(page).to_have_url(psc.rp.base_url + "/", timeout=30_000)
    expect(page.locator("section.identity-card h1")).to_have_text("Dr Camille LEROY")
    body = page.locator("body").inner_text()
    assert "swk" in body and "eidas1" in body
