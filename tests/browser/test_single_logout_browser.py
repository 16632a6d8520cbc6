"""SSO and single logout in headless Chromium with the two demo services as ``psc-idp demo``
registers them ("Dossier patient", "Messagerie sécurisée"): sign in to the first, open the
second (no login page), log out from the second: the first one's open page shows it."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import serve_demo_rp
from tests.conftest import LiveServer, free_port

pytestmark = pytest.mark.browser

GP = "810099900010"
LOGIN_LINK = "Se connecter avec Pro Santé Connect"


@dataclass
class TwoServices:
    provider: LiveServer
    dossier: LiveServer
    messagerie: LiveServer


@pytest.fixture
def services(make_live: Callable[..., LiveServer]) -> Iterator[TwoServices]:
    ports = free_port(), free_port()
    provider = make_live(demo_rp_url=f"http://127.0.0.1:{ports[0]}",
                         demo_rp2_url=f"http://127.0.0.1:{ports[1]}")
    dossier = serve_demo_rp(provider.issuer, ports[0], TITLE="Dossier patient")
    messagerie = serve_demo_rp(provider.issuer, ports[1], CLIENT_ID="psc-demo-mss",
                               CLIENT_SECRET="demo-mss-secret",  # noqa: S106 (demo client)
                               TITLE="Messagerie sécurisée")
    yield TwoServices(provider, dossier, messagerie)
    stops = [threading.Thread(target=s.stop) for s in (provider, dossier, messagerie)]
    for thread in stops:
        thread.start()
    for thread in stops:
        thread.join()


def _signed_in(page: Any) -> None:
    expect(page.locator("#signed-in")).to_contain_text(GP)


def test_sso_then_single_logout_across_two_services(services: TwoServices, chromium: Any
                                                     ) -> None:
    context = chromium.new_context(locale="fr-FR")
    context.set_default_timeout(10_000)
    try:
        dossier, messagerie = context.new_page(), context.new_page()
        provider = services.provider.base_url

        # 1. Dossier patient: the PSC login page, a persona.
        dossier.goto(services.dossier.base_url + "/")
        dossier.get_by_role("link", name=LOGIN_LINK).click()
        expect(dossier.locator("main h1")).to_have_text("Connexion à Dossier patient")
        dossier.locator(f'button.persona[data-national-id="{GP}"]').click()
        _signed_in(dossier)

        # 2. Messagerie sécurisée in another tab: SSO, no page at the provider.
        seen: list[tuple[str, int]] = []
        messagerie.on("response", lambda r: seen.append((r.url, r.status))
                      if r.request.is_navigation_request() else None)
        messagerie.goto(services.messagerie.base_url + "/")
        messagerie.get_by_role("link", name=LOGIN_LINK).click()
        _signed_in(messagerie)
        at_provider = [(u, s) for u, s in seen if u.startswith(provider + "/")]
        assert at_provider and all(300 <= s < 400 for _, s in at_provider), at_provider

        # 3. Log out from Messagerie: the provider ends the SSO session and tells every service.
        messagerie.get_by_role("button", name="Se déconnecter").click()
        expect(messagerie).to_have_url(re.compile(
            "^" + re.escape(services.messagerie.base_url + "/")))
        expect(messagerie.get_by_role("link", name=LOGIN_LINK)).to_be_visible()

        # 4. Dossier patient's open page notices on its own (no reload), and after a reload.
        expect(dossier.locator("#logged-out-notice")).to_be_visible()
        expect(dossier.locator("#signed-in")).to_have_count(0)
        dossier.reload()
        expect(dossier.locator("#logged-out-notice")).to_be_visible()

        # 5. The next login at Dossier patient asks for a persona again.
        dossier.get_by_role("link", name=LOGIN_LINK).click()
        expect(dossier.locator(f'button.persona[data-national-id="{GP}"]')).to_be_visible()
    finally:
        context.close()
