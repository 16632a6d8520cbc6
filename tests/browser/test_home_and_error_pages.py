"""The provider's home page and the redirect-URI error page as Chromium shows them: the
developer's details visible, a long received URI wrapped inside the card, the links usable."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest


@pytest.mark.one_backend
def test_error_page_shows_the_details_inside_the_card(live, page, screenshot):
    long_uri = "http://localhost:5001/callback?" + "x=" + "a" * 300
    query = urlencode({"client_id": "psc-demo-rp", "response_type": "code", "scope": "openid",
                       "redirect_uri": long_uri})
    page.goto(f"{live.base_url}/auth?{query}")
    details = page.locator("#error-details")
    assert details.is_visible()
    assert page.locator("#redirect-uri-received").inner_text() == long_uri
    assert page.locator("#redirect-uris-registered li").all_inner_texts() == [
        "http://127.0.0.1:5001/callback"]
    assert page.locator("#redirect-uri-hint").is_visible()
    card = page.locator("main.card").bounding_box()
    received = page.locator("#redirect-uri-received").bounding_box()
    assert received["x"] + received["width"] <= card["x"] + card["width"] + 1
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    screenshot(page, "error-redirect-uri")


@pytest.mark.one_backend
def test_home_page_links_the_session_page(live, page, screenshot):
    page.goto(live.base_url + "/")
    assert page.title().startswith("Accueil")
    assert page.locator("#demo-links a").count() == 6
    screenshot(page, "home")
    page.click("#link-sessions")
    assert page.url == live.issuer + "/account/sessions"
    assert page.locator("#no-session").is_visible()
