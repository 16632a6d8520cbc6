"""Shared by the RPPS+ tests: the demo habilitations' people, a valid form and its submission,
and signing in to the portal through the provider's own login (persona page) with Flask's
test client."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from psc_idp.directory.demo_data import CDE_DIRECTOR_ID, demo_rpps
from psc_idp.directory.national_id import national_id_from_rpps
from psc_idp.rpps_plus import service
from psc_idp.rpps_plus.form import check_registration
from psc_idp.rpps_plus.models import RppsPlusRegistration

MANAGER_ID = national_id_from_rpps(demo_rpps(18))  # Nicolas ROUX, EHPAD LES TILLEULS
IME_MANAGER_ID = national_id_from_rpps(demo_rpps(19))  # Chloé LEGRAND, IME LES PETITS PONTS
AUTHORITY_ID = CDE_DIRECTOR_ID  # Martine ROCHE, authority of both
NOBODY_ID = national_id_from_rpps(demo_rpps(1))  # Camille LEROY: no habilitation
EHPAD = "F0B0330019"
IME = "F0B0590015"


def form(**changes: str) -> dict[str, str]:
    """A valid registration form (seed 004's data)."""
    values = {"civility_code": "MME", "family_name": "Martin", "given_names": "Élodie Anne",
              "birth_date": "1992-07-21", "birth_place_code": "97128",
              "practice_family_name": "", "practice_given_name": "",
              "contact_email": "elodie.martin@example.test", "contact_mobile": "06 12 34 56 78",
              "profession_code": "313", "role_code": "GENR11", "started_on": "2025-01-06"}
    values.update(changes)
    return values


def submit(structure: str = EHPAD, manager: str = MANAGER_ID, **changes: str
           ) -> RppsPlusRegistration:
    """A valid registration (``form(**changes)``) submitted by ``manager`` for ``structure``."""
    data, errors = check_registration(form(**changes))
    assert data is not None, errors
    return service.submit(service.find_structure(structure), manager, data)


def path_of(location: str) -> str:
    parts = urlsplit(location)
    return parts.path + ("?" + parts.query if parts.query else "")


def _through_persona_page(get: Callable[[str], Any], post: Callable[[str, dict[str, str]], Any],
                          start: str, national_id: str) -> Any:
    """Follows redirections from ``start`` and answers the persona page; the last response.
    ``get``/``post`` take a path (and form data), so one walk serves both clients."""
    response = get(start)
    for _ in range(10):
        if response.status_code in (302, 303):
            response = get(path_of(response.headers["Location"]))
            continue
        if response.status_code == 200 and 'class="persona' in response.text:
            action = re.search(r'<form method="post" action="(/login/[^"]+/persona)"',
                               response.text)
            assert action, response.text[:300]
            response = post(action.group(1), {"csrf": page_csrf(response.text),
                                              "national_id": national_id})
            continue
        return response
    raise AssertionError("too many redirections")


def sign_in(client: Any, national_id: str, start: str = "/rpps-plus/") -> Any:
    """Anonymous visitor → portal → provider's persona page → portal; the last response."""
    return _through_persona_page(client.get, lambda path, data: client.post(path, data=data),
                                 start, national_id)


def csrf_of(page: Any) -> str:
    return page_csrf(page.get_data(as_text=True))


def http_sign_in(browser: Any, base_url: str, national_id: str) -> Any:
    """The same sign-in over real HTTP with a ``requests.Session`` (a live server)."""
    return _through_persona_page(
        lambda path: browser.get(base_url + path, allow_redirects=False, timeout=10),
        lambda path, data: browser.post(base_url + path, data=data, allow_redirects=False,
                                        timeout=10),
        "/rpps-plus/", national_id)


def page_csrf(text: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', text)
    assert found, text[:500]
    return found.group(1)
