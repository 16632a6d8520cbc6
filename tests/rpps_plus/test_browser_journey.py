"""RPPS+ end to end in headless Chromium (seed 004), on SQLite and PostgreSQL:

the EHPAD's manager signs in to the portal through the provider's own login (persona page) →
registers a professional → the registration authority validates (RPPS number) → the new
professional activates an e-CPS on the virtual phone's page (e-mail and SMS codes read from the
outbox) → signs in to the demo relying service with the e-CPS → the role (codeGenreActivite
GENR11) and the profession are in the claims → the manager ends the situation → the next login
carries no situation in the EHPAD any more.
"""

from __future__ import annotations

import json
import os
from typing import Any

import pytest
from playwright.sync_api import expect

from clients.ecps_app.web import Settings, create_app
from psc_idp.directory.national_id import is_valid_rpps
from tests.browser.conftest import BrowserSetup, fresh_page, phone_sized_page
from tests.conftest import LiveServer, free_port
from tests.rpps_plus.helpers import AUTHORITY_ID, EHPAD, MANAGER_ID

pytestmark = pytest.mark.browser

PIN = "2468"
FINESS = "0B0330019"


def _persona(page: Any, national_id: str) -> None:
    page.locator(f'button.persona[data-national-id="{national_id}"]').click()


def _userinfo(page: Any) -> dict[str, Any]:
    expect(page.locator("section.identity-card h1")).to_be_visible(timeout=30_000)
    details = page.locator("details", has_text="Userinfo (JSON)")
    return json.loads(details.locator("pre").first.text_content())


def _activities(userinfo: dict[str, Any]) -> list[dict[str, Any]]:
    return [activity for exercice in userinfo["SubjectRefPro"]["exercices"]
            for activity in exercice["activities"]]


def _login_with_ecps(psc: BrowserSetup, page: Any, phone: Any, national_id: str) -> None:
    page.goto(psc.rp.base_url + "/login")
    page.locator("#means-ecps").click()
    page.locator("#ecps-national-id").fill(national_id)
    page.locator("#ecps-send").click()
    shown = page.locator("#binding-code")
    expect(shown).to_be_visible()
    expect(phone.locator("#binding-code")).to_have_text(shown.inner_text().strip(),
                                                        timeout=15_000)
    phone.locator("#pin").fill(PIN)
    phone.locator("#approve").click()
    expect(page).to_have_url(psc.rp.base_url + "/", timeout=30_000)


def test_rpps_plus_journey(psc: BrowserSetup, chromium: Any, tmp_path) -> None:
    portal = psc.provider.base_url + "/rpps-plus/"

    # 1. The manager: portal → PSC login (persona) → register a professional.
    with fresh_page(chromium) as manager:
        manager.goto(portal)
        _persona(manager, MANAGER_ID)
        expect(manager).to_have_url(portal)
        expect(manager.locator("#signed-in-as")).to_contain_text(MANAGER_ID)
        manager.locator(f"#register-{EHPAD}").click()
        expect(manager.locator("#structure-finess")).to_have_text(FINESS)
        manager.locator("#civility_code").select_option("MME")
        manager.locator("#family_name").fill("Lefèvre")
        manager.locator("#given_names").fill("Inès Marie")
        manager.locator("#birth_date").fill("1990-05-17")
        manager.locator("#birth_place_code").fill("97128")  # Sainte-Anne (Guadeloupe)
        manager.locator("#contact_email").fill("ines.lefevre@example.test")
        manager.locator("#contact_mobile").fill("06 11 22 33 44")
        manager.locator("#profession_code").select_option("313")  # aide-soignant
        manager.locator("#role_code").select_option("GENR11")  # accompagnement au soin
        manager.locator("#started_on").fill("2025-03-03")
        # A mistake first: the form comes back in French, what was typed kept.
        manager.locator("#birth_place_code").fill("9712")
        manager.locator("#submit-registration").click()
        expect(manager.locator("#error-birth_place_code")).to_contain_text("Code INSEE")
        expect(manager.locator("#family_name")).to_have_value("Lefèvre")
        manager.locator("#birth_place_code").fill("97128")
        manager.locator("#submit-registration").click()
        expect(manager.locator("#submitted")).to_be_visible()
        expect(manager.locator("#status")).to_have_attribute("data-status", "submitted")
        expect(manager.locator("#validate")).to_have_count(0)
        uid = manager.url.split("/demandes/")[1].split("?")[0]

    # 2. The registration authority validates: an RPPS number with a valid key.
    with fresh_page(chromium) as authority:
        authority.goto(portal)
        _persona(authority, AUTHORITY_ID)
        authority.locator(f'#pending tr[data-uid="{uid}"] a.decide').click()
        authority.locator("#validate").click()
        expect(authority.locator("#status")).to_have_attribute("data-status", "validated")
        rpps = authority.locator("#rpps").inner_text().strip()
        national_id = authority.locator("#national-id").inner_text().strip()
    assert is_valid_rpps(rpps) and national_id == "8" + rpps

    # 3. The professional activates an e-CPS on the phone's page (codes from the outbox).
    port = free_port()
    phone_server = LiveServer(create_app(Settings(
        SERVER=psc.provider.base_url, HOME=str(tmp_path / "phone"), PORT=port,
        SECRET_KEY=os.urandom(16).hex(), POLL_WAIT=2)), port)
    psc.servers.append(phone_server)
    with phone_sized_page(chromium) as phone, fresh_page(chromium) as service:
        phone.goto(phone_server.base_url + "/")
        phone.locator("#national-id").fill(national_id)
        phone.locator("#new-pin").fill(PIN)
        phone.locator("#activate").click()
        expect(phone.locator("#card")).to_have_attribute("data-national-id", national_id)

        # 4. …and signs in to the relying service: the role is in the claims.
        _login_with_ecps(psc, service, phone, national_id)
        userinfo = _userinfo(service)
        assert userinfo["preferred_username"] == national_id
        [activity] = _activities(userinfo)
        assert activity["codeGenreActivite"] == "GENR11"
        assert activity["numeroFinessSite"] == FINESS
        [exercice] = userinfo["SubjectRefPro"]["exercices"]
        assert exercice["codeProfession"] == "313"
        assert "ines.lefevre" not in json.dumps(userinfo)  # contact data never in claims
        assert "+33611223344" not in json.dumps(userinfo)

        # 5. The manager ends the situation in the EHPAD.
        with fresh_page(chromium) as manager:
            manager.goto(psc.provider.base_url + f"/rpps-plus/structures/{EHPAD}/situations")
            _persona(manager, MANAGER_ID)
            row = manager.locator(f'tr.situation[data-national-id="{national_id}"]')
            expect(row).to_have_count(1)
            row.locator("button").click()
            expect(manager.locator("#ended")).to_be_visible()
            expect(manager.locator(f'tr.situation[data-national-id="{national_id}"]')
                   ).to_have_count(0)

        # The next login of the professional carries no situation in the structure.
        service.context.clear_cookies()
        _login_with_ecps(psc, service, phone, national_id)
        assert _activities(_userinfo(service)) == []
