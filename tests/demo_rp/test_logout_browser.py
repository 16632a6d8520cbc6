"""The demo RP's home page in headless Chromium notices a provider logout by itself.

The RP is served over HTTP on a free 127.0.0.1 port against the fake PSC (``fake_psc.py``),
whose authorize endpoint answers at once, so ``/login`` lands straight back on a signed-in page.
Playwright's ``expect`` waits (bounded) for the page's watcher script to update the page.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
import requests
from playwright.sync_api import expect

from clients.demo_rp.app import create_app
from clients.demo_rp.settings import Settings
from tests.conftest import LiveServer, free_port
from tests.demo_rp.fake_psc import CLIENT_ID, CLIENT_SECRET

pytestmark = pytest.mark.browser

LOGGED_OUT = "Vous avez été déconnecté de Pro Santé Connect."


@pytest.fixture
def live_rp(provider: Any) -> Iterator[LiveServer]:
    port = free_port()
    settings = Settings(ISSUER=provider.issuer, PUBLIC_URL=f"http://127.0.0.1:{port}", PORT=port,
                        CLIENT_ID=CLIENT_ID, CLIENT_SECRET=CLIENT_SECRET,
                        SECRET_KEY=os.urandom(16).hex(), TITLE="Dossier patient", LABEL="RP 1")
    server = LiveServer(create_app(settings), port)
    yield server
    server.stop()


@pytest.fixture
def context(chromium: Any) -> Iterator[Any]:
    ctx = chromium.new_context(locale="fr-FR")
    ctx.set_default_timeout(10_000)
    try:
        yield ctx
    finally:
        ctx.close()


def signed_in_page(context: Any, rp: LiveServer) -> Any:
    page = context.new_page()
    page.goto(rp.base_url + "/login")
    expect(page).to_have_url(rp.base_url + "/")
    expect(page.locator("#signed-in")).to_be_visible()
    expect(page.locator("#signed-in")).to_have_attribute("data-national-id", "899700427885")
    expect(page.locator("#rp-label")).to_have_text("RP 1")
    expect(page.locator("#logged-out-notice")).to_have_count(0)
    return page


def test_back_channel_logout_shows_on_the_open_page_without_reload(provider, live_rp, context):
    page = signed_in_page(context, live_rp)
    page.evaluate("window.__same_document = true")  # gone if the page were reloaded

    resp = requests.post(live_rp.base_url + "/backchannel-logout",
                         data={"logout_token": provider.logout_token()}, timeout=10)
    assert resp.status_code == 200

    notice = page.locator("#logged-out-notice")
    expect(notice).to_be_visible()
    expect(notice).to_contain_text(LOGGED_OUT)
    expect(notice).to_contain_text("déconnexion back-channel")
    expect(page.locator("#signed-in")).to_have_count(0)
    expect(page.locator("#login-content")).to_have_attribute("data-login-state", "logged-out")
    expect(page.get_by_role("link", name="Se connecter avec Pro Santé Connect")).to_be_visible()
    assert page.evaluate("window.__same_document") is True

    page.reload()
    expect(page.locator("#logged-out-notice")).to_contain_text(LOGGED_OUT)
    expect(page.locator("#signed-in")).to_have_count(0)


def test_front_channel_iframe_on_the_provider_page_logs_the_open_page_out(provider, live_rp,
                                                                           context):
    page = signed_in_page(context, live_rp)

    logout_page = context.new_page()  # the provider's logout page, one iframe per RP
    logout_page.goto(provider.base + "/frontchannel-page?" + urlencode({"rp": live_rp.base_url}))
    frame = logout_page.frame_locator("#rp-frame")
    expect(frame.locator("#frontchannel-result")).to_contain_text("Déconnexion effectuée")

    notice = page.locator("#logged-out-notice")
    expect(notice).to_contain_text(LOGGED_OUT)
    expect(notice).to_contain_text("déconnexion front-channel")
    expect(page.locator("#signed-in")).to_have_count(0)


def test_a_frame_with_the_wrong_issuer_ends_nothing(provider, live_rp, context):
    page = signed_in_page(context, live_rp)
    logout_page = context.new_page()
    logout_page.goto(provider.base + "/frontchannel-page?" + urlencode(
        {"rp": live_rp.base_url, "iss": "https://evil.example/auth/realms/esante-wallet"}))
    frame = logout_page.frame_locator("#rp-frame")
    expect(frame.locator("#frontchannel-result")).to_contain_text("refusée")
    status = page.request.get(live_rp.base_url + "/session-status").json()
    assert status["state"] == "signed-in"
    expect(page.locator("#signed-in")).to_be_visible()
