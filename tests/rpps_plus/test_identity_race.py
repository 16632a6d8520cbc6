"""The two "one" rules under real parallel requests over HTTP on a live provider (SQLite and
PostgreSQL): two validations at once of two registrations (two structures) for the same new
person create one person, one RPPS number, two situations; filings at once of the same person
leave exactly one waiting request, the others refused in French as the form refuses them."""

from __future__ import annotations

import uuid

import requests
from sqlalchemy import select

from psc_idp.audit import AuditEvent
from psc_idp.db import db
from psc_idp.directory.models import Professional
from psc_idp.directory.national_id import is_valid_rpps
from psc_idp.rpps_plus import service
from psc_idp.rpps_plus.form import check_registration
from psc_idp.rpps_plus.identity import key_of
from psc_idp.rpps_plus.models import RppsPlusRegistration
from tests.rpps_plus.helpers import (
    AUTHORITY_ID,
    EHPAD,
    IME,
    IME_MANAGER_ID,
    MANAGER_ID,
    form,
    http_sign_in,
    page_csrf,
)
from tests.served import fire

PEOPLE = (("Gauthier", "1988-02-03"), ("Hubert", "1979-10-11"), ("Joly", "2001-05-30"))
COPIED = ("civility_code", "family_name", "given_names", "birth_date", "birth_place_code",
          "practice_family_name", "practice_given_name", "contact_email", "contact_mobile",
          "profession_code", "started_on")


def waiting_pair(family: str, born: str) -> tuple[str, str]:
    """Two waiting registrations of one new person, at the EHPAD and at the IME. Only one may
    wait with the identity key now; the other is written as the old race left them (no key,
    as the migration leaves a duplicate): the validations must still make one person."""
    data, errors = check_registration(form(family_name=family, birth_date=born))
    assert data is not None, errors
    first = service.submit(service.find_structure(EHPAD), MANAGER_ID, data)
    second = RppsPlusRegistration(
        uid=str(uuid.uuid4()), structure_id=service.find_structure(IME).id,
        manager_national_id=IME_MANAGER_ID, status="submitted", role_code="GENR10",
        identity_key=None, **{name: getattr(first, name) for name in COPIED})
    db.session.add(second)
    db.session.commit()
    return first.uid, second.uid


def test_parallel_validations_of_one_new_person_make_one_person(live):
    with live.app.app_context():
        pairs = [waiting_pair(family, born) for family, born in PEOPLE]
    uids = [uid for pair in pairs for uid in pair]
    browser = requests.Session()
    assert "Demandes à valider" in http_sign_in(browser, live.base_url, AUTHORITY_ID).text
    csrf = page_csrf(browser.get(f"{live.base_url}/rpps-plus/demandes/{uids[0]}",
                                 timeout=10).text)

    def validate(i: int) -> int:
        return browser.post(f"{live.base_url}/rpps-plus/demandes/{uids[i]}/valider",
                            data={"csrf": csrf}, allow_redirects=False, timeout=60).status_code

    assert fire(len(uids), validate) == [303] * len(uids)
    with live.app.app_context():
        people = list(db.session.scalars(select(Professional).filter_by(source="rpps_plus")))
        assert sorted(p.family_name for p in people) == ["GAUTHIER", "HUBERT", "JOLY"]
        assert len({p.rpps for p in people}) == 3 and all(is_valid_rpps(p.rpps) for p in people)
        for person in people:
            assert person.identity_key == key_of(person)
            [practice] = person.practices
            assert sorted((a.structure.technical_id, a.activity_kind_code)
                          for a in practice.activities) == [(EHPAD, "GENR11"), (IME, "GENR10")]
        for ehpad_uid, ime_uid in pairs:
            ehpad, ime = (service.get_registration(uid) for uid in (ehpad_uid, ime_uid))
            assert ehpad.status == ime.status == "validated"
            assert ehpad.professional_id == ime.professional_id is not None
        validated = list(db.session.scalars(select(AuditEvent).filter_by(
            event="rpps_plus.registration_validated")))
        assert sorted(e.details["new_person"] for e in validated) == [False] * 3 + [True] * 3


def test_parallel_filings_of_one_person_leave_one_waiting_request(live):
    managers = []
    for national_id, structure in ((MANAGER_ID, EHPAD), (IME_MANAGER_ID, IME)):
        browser = requests.Session()
        http_sign_in(browser, live.base_url, national_id)
        url = f"{live.base_url}/rpps-plus/structures/{structure}/enregistrer"
        page = browser.get(url, timeout=10)
        assert page.status_code == 200, page.text[:300]
        managers.append((browser, url, page_csrf(page.text)))
    typed = form(family_name="Lambert", given_names="Zoé")

    def file(i: int) -> tuple[int, str]:
        browser, url, csrf = managers[i % 2]
        answer = browser.post(url, data={**typed, "csrf": csrf}, allow_redirects=False,
                              timeout=60)
        return answer.status_code, answer.text

    answers = fire(6, file)
    codes = sorted(code for code, _ in answers)
    assert codes == [303] + [409] * 5, codes
    for code, text in answers:
        if code == 409:
            assert 'id="form-errors"' in text and "attend déjà la validation" in text
            assert 'value="Lambert"' in text  # what was typed is kept
    with live.app.app_context():
        [waiting] = db.session.scalars(select(RppsPlusRegistration))
        assert waiting.status == "submitted" and waiting.family_name == "LAMBERT"
        assert waiting.identity_key == key_of(waiting) is not None
        assert len(list(db.session.scalars(select(AuditEvent).filter_by(
            event="rpps_plus.registration_submitted")))) == 1
