"""Card login in headless Chromium, from the demo service to the claims: the browser presents
the virtual card in the TLS handshake itself (Playwright's client certificates play the CPS
middleware's part), as on PSC's wallet host."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import TIMEOUT_MS, BrowserSetup
from tests.cards.cardlogin import card_credentials, issue
from tests.listener import attach_listener

pytestmark = pytest.mark.browser

GP = "810099900010"            # Dr Camille LEROY, médecin généraliste
CPE = "30B0168811/CPET00001"   # Claire NGUYEN, secrétaire médicale (staff card CPE)
CPE_STRUCTURE = "F0B0168811"
LOGIN_LINK = "Se connecter avec Pro Santé Connect"


def _card_browser(chromium: Any, mtls_base: str, credentials: tuple[str, str]) -> Any:
    context = chromium.new_context(
        locale="fr-FR", viewport={"width": 1280, "height": 900}, ignore_https_errors=True,
        client_certificates=[{"origin": mtls_base, "certPath": credentials[0],
                              "keyPath": credentials[1]}])
    context.set_default_timeout(TIMEOUT_MS)
    return context


def _login_with_card(psc: BrowserSetup, chromium: Any, tmp_path: Path, national_id: str,
                     card_type: str, structure: str | None = None) -> Any:
    listener, _ = attach_listener(psc.provider)
    try:
        settings = psc.provider.app.extensions["psc_idp"].settings
        card = issue(psc.provider.app, tmp_path / "card", national_id, card_type, structure)
        context = _card_browser(chromium, settings.mtls_base,
                                card_credentials(card.folder, tmp_path))
        page = context.new_page()
        page.goto(psc.rp.base_url + "/")
        page.get_by_role("link", name=LOGIN_LINK).click()
        page.locator("#means-card").click()
        expect(page.locator("h2.means-title")).to_have_text("Carte CPS")
        expect(page.locator("main")).to_contain_text("Insérez votre carte CPS dans le lecteur")
        page.locator("#card-step-link").click()  # the handshake with the card, then back
        expect(page).to_have_url(psc.rp.base_url + "/")
        expect(page.locator("tr", has_text="(amr)").first).to_contain_text("sc, pin, hwk")
        return context, page
    finally:
        listener.stop()


@pytest.mark.one_backend
def test_card_login_in_chromium(psc: BrowserSetup, chromium: Any, tmp_path: Path) -> None:
    context, page = _login_with_card(psc, chromium, tmp_path, GP, "CPS")
    try:
        card = page.locator("section.identity-card")
        expect(card.locator(".national-id code")).to_have_text(GP)
        expect(page.locator("tr", has_text="(acr)").first).to_contain_text("eidas1")
    finally:
        context.close()


@pytest.mark.one_backend
def test_staff_card_login_shows_the_structure(psc: BrowserSetup, chromium: Any,
                                              tmp_path: Path) -> None:
    from psc_idp.db import db
    from psc_idp.directory.loader import load_demo_directory

    with psc.provider.app.app_context():  # the structure staff (idempotent)
        load_demo_directory(db.session, include_staff=True)
    context, page = _login_with_card(psc, chromium, tmp_path, CPE, "CPE", CPE_STRUCTURE)
    try:
        expect(page.locator("section.identity-card .national-id code")).to_have_text(CPE)
        expect(page.locator("main")).to_contain_text(CPE_STRUCTURE)
    finally:
        context.close()
