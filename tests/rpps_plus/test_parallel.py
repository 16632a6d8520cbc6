"""Validations at the same time, over real HTTP on a live provider (SQLite and PostgreSQL):
different registrations never get the same RPPS number; the same registration validated by
several requests at once is decided once."""

from __future__ import annotations

import requests
from sqlalchemy import select

from psc_idp.db import db
from psc_idp.directory.models import Professional
from psc_idp.directory.national_id import is_valid_rpps
from psc_idp.rpps_plus import service
from psc_idp.rpps_plus.form import check_registration
from psc_idp.rpps_plus.models import RppsPlusRegistration
from tests.rpps_plus.helpers import AUTHORITY_ID, EHPAD, MANAGER_ID, form, http_sign_in, page_csrf
from tests.served import fire

COUNT = 6
NAMES = ("Aubert", "Barbier", "Carpentier", "Dupuis", "Etienne", "Fabre")


def _submit_many(live, count: int) -> list[str]:
    with live.app.app_context():
        uids = []
        for i in range(count):
            data, errors = check_registration(form(family_name=NAMES[i],
                                                   birth_date=f"199{i}-03-0{i + 1}"))
            assert data is not None, errors
            uids.append(service.submit(service.find_structure(EHPAD), MANAGER_ID, data).uid)
        return uids


def _authority(live, uid: str) -> tuple[requests.Session, str]:
    """The authority signed in, and the CSRF token of their session (from a decision page)."""
    browser = requests.Session()
    home = http_sign_in(browser, live.base_url, AUTHORITY_ID)
    assert home.status_code == 200 and "Demandes à valider" in home.text
    page = browser.get(f"{live.base_url}/rpps-plus/demandes/{uid}", timeout=10)
    assert page.status_code == 200 and 'id="validate"' in page.text
    return browser, page_csrf(page.text)


def test_parallel_validations_get_distinct_valid_numbers(live):
    uids = _submit_many(live, COUNT)
    browser, csrf = _authority(live, uids[0])

    def validate(i: int) -> int:
        return browser.post(f"{live.base_url}/rpps-plus/demandes/{uids[i]}/valider",
                            data={"csrf": csrf}, allow_redirects=False, timeout=60).status_code

    assert fire(COUNT, validate) == [303] * COUNT
    with live.app.app_context():
        numbers = list(db.session.scalars(select(Professional.rpps).filter_by(
            source="rpps_plus")))
        statuses = set(db.session.scalars(select(RppsPlusRegistration.status)))
    assert len(numbers) == COUNT and len(set(numbers)) == COUNT
    assert all(is_valid_rpps(n) for n in numbers) and statuses == {"validated"}


def test_the_same_registration_validated_at_once_is_decided_once(live):
    [uid] = _submit_many(live, 1)
    browser, csrf = _authority(live, uid)

    def validate(_: int) -> int:
        return browser.post(f"{live.base_url}/rpps-plus/demandes/{uid}/valider",
                            data={"csrf": csrf}, allow_redirects=False, timeout=60).status_code

    codes = fire(COUNT, validate)
    assert sorted(codes) == [303] + [409] * (COUNT - 1), codes
    with live.app.app_context():
        assert db.session.scalar(select(db.func.count()).select_from(Professional).filter_by(
            source="rpps_plus")) == 1


def test_first_visitors_at_once_register_the_portal_client_once(live):
    def visit(_: int) -> int:
        return requests.get(live.base_url + "/rpps-plus/connexion", allow_redirects=False,
                            timeout=30).status_code

    assert fire(COUNT, visit) == [303] * COUNT
    with live.app.app_context():
        from psc_idp.oidc.models import Client

        assert db.session.get(Client, "psc-rpps-plus-portal").redirect_uris == [
            live.base_url + "/rpps-plus/connexion/retour"]
