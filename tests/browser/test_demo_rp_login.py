"""The demo relying service and the provider in headless Chromium: real pages, real clicks.

Each test runs on SQLite and PostgreSQL (``backend`` via ``make_live``). The provider and the RP
share the host 127.0.0.1 on different ports; cookies are per host, so both sets of cookies live
in the same jar, under different names (``PSC_IDP_SESSION``, ``psc_demo_rp_session``). Two demo
RPs on 127.0.0.1 share the cookie name ``psc_demo_rp_session``: in the SSO test the second RP's
cookie replaces the first's, which is harmless there (the first RP is not visited again).
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import requests
from playwright.sync_api import expect

from tests.browser.conftest import BrowserSetup

pytestmark = pytest.mark.browser

GP = "810099900010"            # Dr Camille LEROY, médecin généraliste
TWO_SITUATIONS = "810099900028"  # Dr Théo MARCHAND, cabinet + hôpital
BLOCKED = "810099900150"       # Isabelle MERCIER, means of identification blocked
RP_TITLE = "Service de démonstration"  # the RP's own page title (its default)
CLIENT_NAME = "Dossier patient"  # the demo client's name at the provider
LOGIN_LINK = "Se connecter avec Pro Santé Connect"


def _start_login(page: Any, rp_url: str) -> None:
    """RP home → the PSC button → the provider's persona page."""
    page.goto(rp_url + "/")
    page.get_by_role("link", name=LOGIN_LINK).click()
    expect(page.locator("#emulation-banner")).to_be_visible()


def _submit(page: Any, button: Any) -> None:
    """Click a form button and wait for the next document (after any redirects) to load."""
    with page.expect_event("load"):
        button.click()


def _acr_cell(page: Any) -> Any:
    row = page.locator("table.fields tr").filter(
        has=page.locator("th", has_text="Niveau d'authentification (acr)"))
    return row.locator("td")


def _expect_signed_in(page: Any, rp_url: str, name: str, national_id: str) -> None:
    expect(page).to_have_url(rp_url + "/")
    card = page.locator("section.identity-card")
    expect(card.locator("h1")).to_have_text(name)
    expect(card.locator(".national-id code")).to_have_text(national_id)
    expect(card.locator("ul.professions li")).to_have_text(["Médecin"])
    expect(_acr_cell(page)).to_have_text("eidas1")


class Navigations:
    """Every top-level navigation of a page, redirect hops included, with its status."""

    def __init__(self, page: Any):
        self.seen: list[tuple[str, int]] = []
        page.on("response", self._record)

    def _record(self, response: Any) -> None:
        if response.request.is_navigation_request() and response.frame.parent_frame is None:
            self.seen.append((response.url, response.status))

    def to(self, base_url: str) -> list[tuple[str, int]]:
        return [(url, status) for url, status in self.seen if url.startswith(base_url + "/")]


@pytest.mark.one_backend
def test_persona_login_shows_claims_then_logout(psc: BrowserSetup, page: Any,
                                                screenshot: Any) -> None:
    provider, rp = psc.provider.base_url, psc.rp.base_url
    page.goto(rp + "/")
    expect(page).to_have_title(RP_TITLE)
    expect(page.locator("section.welcome h1")).to_have_text(RP_TITLE)
    page.get_by_role("link", name=LOGIN_LINK).click()

    # The provider's login page, announcing the test environment.
    expect(page).to_have_url(re.compile("^" + re.escape(provider + "/")))
    expect(page).to_have_title("Pro Santé Connect · psc-idp")
    banner = page.locator("#emulation-banner")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("Environnement de test psc-idp (test)")
    expect(page.locator("main h1")).to_have_text(f"Connexion à {CLIENT_NAME}")
    persona = page.locator(f'button.persona[data-national-id="{GP}"]')
    expect(persona).to_contain_text("Camille LEROY")
    screenshot(page, "psc-persona-page")
    persona.click()

    # Back on the RP with the validated ID token and userinfo.
    _expect_signed_in(page, rp, "Dr Camille LEROY", GP)
    expect(page.locator("article.exercice").first).to_contain_text(
        "Qualifié en Médecine générale (SM)")
    screenshot(page, "demo-rp-claims")

    # RP-initiated logout through the provider's end-session endpoint.
    end_session = requests.get(psc.issuer + "/.well-known/wallet-openid-configuration",
                               timeout=10).json()["end_session_endpoint"]
    navigations = Navigations(page)
    _submit(page, page.get_by_role("button", name="Se déconnecter"))
    if page.url.startswith(provider + "/") and page.locator("#confirm-logout").count():
        _submit(page, page.locator("#confirm-logout"))  # not shown when id_token_hint matches
    expect(page).to_have_url(re.compile("^" + re.escape(rp + "/") + r"(\?state=[^&]+)?$"))
    expect(page.locator("p.notice")).to_have_text("Vous êtes déconnecté.")
    expect(page.get_by_role("link", name=LOGIN_LINK)).to_be_visible()
    expect(page.locator("section.identity-card")).to_have_count(0)
    assert any(url.startswith(end_session) for url, _ in navigations.seen), navigations.seen

    # The provider's session ended too: the next login asks for a persona again.
    page.get_by_role("link", name=LOGIN_LINK).click()
    expect(page.locator(f'button.persona[data-national-id="{GP}"]')).to_be_visible()


@pytest.mark.one_backend
def test_sso_second_service_signs_in_without_the_login_page(psc: BrowserSetup,
                                                            page: Any) -> None:
    _start_login(page, psc.rp.base_url)
    page.locator(f'button.persona[data-national-id="{GP}"]').click()
    _expect_signed_in(page, psc.rp.base_url, "Dr Camille LEROY", GP)

    other = psc.add_rp("psc-demo-rp-2", "second-rp-secret", "Second service")
    navigations = Navigations(page)
    page.goto(other.base_url + "/")
    expect(page.locator("section.welcome h1")).to_have_text("Second service")
    page.get_by_role("link", name=LOGIN_LINK).click()
    _expect_signed_in(page, other.base_url, "Dr Camille LEROY", GP)

    at_provider = navigations.to(psc.provider.base_url)
    assert at_provider, navigations.seen
    # Only redirects at the provider: no login page, no persona list, no /login/ step.
    assert all(300 <= status < 400 for _, status in at_provider), at_provider
    assert not [url for url, _ in at_provider if "/login/" in url], at_provider


@pytest.mark.one_backend
def test_typed_national_id_and_malformed_input(psc: BrowserSetup, page: Any) -> None:
    provider = psc.provider.base_url
    _start_login(page, psc.rp.base_url)
    field, sign_in = page.locator("#national_id"), page.locator("#sign-in")

    for malformed in ("81009990001", "810099900011", "abc"):  # too short, bad check digit
        field.fill(malformed)
        _submit(page, sign_in)
        expect(page.locator("#login-error")).to_have_text("Identifiant inconnu ou mal formé.")
        expect(page).to_have_url(re.compile("^" + re.escape(provider + "/login/")))
        expect(page.locator("#emulation-banner")).to_be_visible()
        expect(page.locator("button.persona").first).to_be_visible()
        expect(field).to_have_value("")

    field.fill(TWO_SITUATIONS)
    sign_in.click()
    _expect_signed_in(page, psc.rp.base_url, "Dr Théo MARCHAND", TWO_SITUATIONS)


@pytest.mark.one_backend
def test_blocked_persona_gets_access_denied_on_the_rp(psc: BrowserSetup, page: Any) -> None:
    _start_login(page, psc.rp.base_url)
    blocked = page.locator(f'button.persona[data-national-id="{BLOCKED}"]')
    expect(blocked.locator("em.tag")).to_have_text("moyens bloqués")
    blocked.click()

    expect(page).to_have_url(re.compile(
        "^" + re.escape(psc.rp.base_url + "/callback?") + ".*error=access_denied"))
    error_page = page.locator("section.error-page")
    expect(error_page.locator("h1")).to_have_text("Connexion non aboutie")
    expect(error_page.locator("td code")).to_have_text("access_denied")
    expect(error_page).to_contain_text("means_blocked")
    expect(error_page.locator(".error-status")).to_contain_text(
        "Revenue par redirection vers /callback avec error=access_denied")
    expect(error_page.locator(".error-status")).not_to_contain_text("Code HTTP")
    expect(page.locator("section.identity-card")).to_have_count(0)
