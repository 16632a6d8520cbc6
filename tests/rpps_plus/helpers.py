"""Shared by the RPPS+ tests: the demo habilitations' people, a valid form, and signing in to
the portal through the provider's own login (persona page) with Flask's test client."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from psc_idp.directory.demo_data import CDE_DIRECTOR_ID, demo_rpps
from psc_idp.directory.national_id import national_id_from_rpps

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


def path_of(location: str) -> str:
    parts = urlsplit(location)
    return parts.path + ("?" + parts.query if parts.query else "")


def sign_in(client: Any, national_id: str, start: str = "/rpps-plus/") -> Any:
    """Anonymous visitor → portal → provider's persona page → portal; the last response."""
    response = client.get(start)
    for _ in range(10):
        if response.status_code in (302, 303):
            response = client.get(path_of(response.headers["Location"]))
            continue
        if response.status_code == 200 and 'class="persona' in response.text:
            action = re.search(r'<form method="post" action="(/login/[^"]+/persona)"',
                               response.text)
            csrf = re.search(r'name="csrf" value="([^"]+)"', response.text)
            assert action and csrf, response.text[:300]
            response = client.post(action.group(1), data={"csrf": csrf.group(1),
                                                          "national_id": national_id})
            continue
        return response
    raise AssertionError("too many redirections")


def csrf_of(page: Any) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page.get_data(as_text=True))
    assert found, page.get_data(as_text=True)[:500]
    return found.group(1)


def http_sign_in(browser: Any, base_url: str, national_id: str) -> Any:
    """The same sign-in over real HTTP with a ``requests.Session`` (a live server)."""
    response = browser.get(base_url + "/rpps-plus/", allow_redirects=False, timeout=10)
    for _ in range(10):
        if response.status_code in (302, 303):
            response = browser.get(base_url + path_of(response.headers["Location"]),
                                   allow_redirects=False, timeout=10)
            continue
        if response.status_code == 200 and 'class="persona' in response.text:
            action = re.search(r'<form method="post" action="(/login/[^"]+/persona)"',
                               response.text)
            csrf = re.search(r'name="csrf" value="([^"]+)"', response.text)
            assert action and csrf, response.text[:300]
            response = browser.post(base_url + action.group(1),
                                    data={"csrf": csrf.group(1), "national_id": national_id},
                                    allow_redirects=False, timeout=10)
            continue
        return response
    raise AssertionError("too many redirections")


def page_csrf(text: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', text)
    assert found, text[:500]
    return found.group(1)
