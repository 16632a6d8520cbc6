"""The RPPS+ service on SQLite and PostgreSQL: registration → validation (RPPS number,
practice, situation with the role) or refusal, decided once; the second structure's
registration of the same person; the end of a situation; everything audited."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from psc_idp.audit import AuditEvent
from psc_idp.credentials.models import OutboxMessage
from psc_idp.db import db
from psc_idp.directory.models import Activity, Professional
from psc_idp.directory.national_id import is_valid_rpps, national_id_from_rpps
from psc_idp.rpps_plus import service
from psc_idp.rpps_plus.form import check_registration
from psc_idp.rpps_plus.models import RppsPlusRegistration
from tests.rpps_plus.helpers import (
    AUTHORITY_ID,
    EHPAD,
    IME,
    IME_MANAGER_ID,
    MANAGER_ID,
    NOBODY_ID,
    form,
    submit,
)


@pytest.fixture
def app(make_app):
    app = make_app()
    with app.app_context():
        yield app


def events(name: str) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).filter_by(event=name)))


def test_validation_creates_the_person_with_a_valid_rpps_and_the_role(app):
    registration = submit()
    assert registration.status == "submitted" and registration.professional_id is None
    done = service.validate(registration.uid, decided_by=AUTHORITY_ID, authority=AUTHORITY_ID)
    assert done.status == "validated" and done.decided_by == AUTHORITY_ID
    person = db.session.get(Professional, done.professional_id)
    assert is_valid_rpps(person.rpps) and person.national_id == national_id_from_rpps(
        person.rpps)
    assert person.rpps_plus and person.source == "rpps_plus"
    assert (person.family_name, person.given_name) == ("MARTIN", "Élodie")
    assert (person.birth_date, person.birth_place_code) == (date(1992, 7, 21), "97128")
    assert (person.contact_email, person.contact_mobile) == ("elodie.martin@example.test",
                                                             "+33612345678")
    [practice] = person.practices
    assert practice.profession_code == "313"
    [activity] = practice.activities
    assert activity.structure.technical_id == EHPAD and activity.activity_kind_code == "GENR11"
    assert activity.started_on == date(2025, 1, 6) and activity.mode_code == "S"
    # The e-mail on record is told the number (seed 004); the audit trail says who did what.
    [mail] = db.session.scalars(select(OutboxMessage).filter_by(national_id=person.national_id))
    assert person.rpps in mail.body and mail.recipient == "elodie.martin@example.test"
    assert events("rpps_plus.registration_submitted")[0].subject == MANAGER_ID
    [validated] = events("rpps_plus.registration_validated")
    assert validated.subject == person.national_id
    assert validated.details["decided_by"] == AUTHORITY_ID
    assert "elodie" not in str(validated.details)  # no contact data in the trail


def rpps_of(registration: RppsPlusRegistration) -> str:
    return db.session.get(Professional, registration.professional_id).rpps


def test_numbers_follow_each_other_and_stay_valid(app):
    numbers = [rpps_of(service.validate(submit(family_name=name).uid, decided_by="operator"))
               for name in ("Durand", "Duval", "Dumas")]
    assert all(is_valid_rpps(n) for n in numbers)
    assert [int(n[:10]) for n in numbers] == [int(numbers[0][:10]) + i for i in range(3)]


def test_a_registration_is_decided_once(app):
    registration = submit()
    service.validate(registration.uid, decided_by="operator")
    with pytest.raises(service.RppsPlusError) as again:
        service.validate(registration.uid, decided_by="operator")
    assert again.value.code == "already_decided" and "validée" in again.value.message
    with pytest.raises(service.RppsPlusError) as refused:
        service.refuse(registration.uid, "doublon", decided_by="operator")
    assert refused.value.code == "already_decided"
    assert db.session.scalar(select(db.func.count()).select_from(Professional).filter_by(
        source="rpps_plus")) == 1
    assert len(events("rpps_plus.decision_refused")) == 2


def test_refusal_keeps_the_reason_and_creates_nobody(app):
    registration = submit()
    with pytest.raises(service.RppsPlusError, match="motif"):
        service.refuse(registration.uid, "   ", decided_by="operator")
    done = service.refuse(registration.uid, "Pièce d'identité illisible",
                          decided_by=AUTHORITY_ID, authority=AUTHORITY_ID)
    assert done.status == "refused" and done.refusal_reason == "Pièce d'identité illisible"
    assert done.professional_id is None
    with pytest.raises(service.RppsPlusError, match="déjà été traitée"):
        service.validate(registration.uid, decided_by="operator")
    assert events("rpps_plus.registration_refused")[0].details["reason"] == \
        "Pièce d'identité illisible"


def test_only_the_structures_authority_decides(app):
    registration = submit()
    for someone in (MANAGER_ID, NOBODY_ID, IME_MANAGER_ID):
        with pytest.raises(service.RppsPlusError) as refused:
            service.validate(registration.uid, decided_by=someone, authority=someone)
        assert refused.value.status == 403
    assert db.session.get(RppsPlusRegistration, registration.id).status == "submitted"


def test_only_a_manager_submits(app):
    data, _ = check_registration(form())
    with pytest.raises(service.RppsPlusError) as refused:
        service.submit(service.find_structure(IME), MANAGER_ID, data)
    assert refused.value.status == 403
    assert db.session.scalar(select(db.func.count()).select_from(RppsPlusRegistration)) == 0


def test_second_structure_adds_a_situation_to_the_same_person(app):
    first = service.validate(submit().uid, decided_by="operator")
    # Another structure, another role and the same profession; names typed differently.
    second = submit(IME, IME_MANAGER_ID, family_name="martin", given_names="Elodie",
                    role_code="GENR10", contact_email="autre@example.test")
    done = service.validate(second.uid, decided_by=AUTHORITY_ID, authority=AUTHORITY_ID)
    assert done.professional_id == first.professional_id  # same person, same RPPS
    person = db.session.get(Professional, done.professional_id)
    [practice] = person.practices
    assert sorted((a.structure.technical_id, a.activity_kind_code)
                  for a in practice.activities) == [(EHPAD, "GENR11"), (IME, "GENR10")]
    assert person.contact_email == "elodie.martin@example.test"  # contact kept as registered
    assert db.session.scalar(select(db.func.count()).select_from(Professional).filter_by(
        source="rpps_plus")) == 1


def test_an_existing_demo_person_is_matched(app):
    # Manon PETIT (demo persona, RPPS+ at the IME) joins the EHPAD as an aide-soignante.
    registration = submit(family_name="Petit", given_names="Manon", birth_date="1995-11-11",
                          birth_place_code="59350", role_code="GENR11")
    done = service.validate(registration.uid, decided_by="operator")
    person = db.session.get(Professional, done.professional_id)
    assert person.source == "" and person.given_name == "Manon"
    assert sorted(p.profession_code for p in person.practices) == ["313", "353"]


def test_one_situation_per_structure_and_one_pending_request_per_person(app):
    service.validate(submit().uid, decided_by="operator")
    with pytest.raises(service.RppsPlusError) as same_structure:
        submit()
    assert same_structure.value.code == "already_in_structure"
    submit(family_name="Bernard")
    with pytest.raises(service.RppsPlusError) as pending:
        submit(IME, IME_MANAGER_ID, family_name="Bernard")
    assert pending.value.code == "pending_elsewhere"


def test_end_of_a_situation(app):
    done = service.validate(submit().uid, decided_by="operator")
    [activity] = db.session.scalars(select(Activity).join(Activity.practice).where(
        Activity.practice.has(professional_id=done.professional_id)))
    assert [s.activity.id for s in service.situations([activity.structure_id])].count(
        activity.id) == 1
    with pytest.raises(service.RppsPlusError) as not_manager:
        service.end_situation(activity.id, manager=IME_MANAGER_ID)
    assert not_manager.value.status == 403
    ended = service.end_situation(activity.id, manager=MANAGER_ID)
    assert ended.ended_on == date.today() - timedelta(days=1) and not ended.is_active
    assert activity.id not in [s.activity.id for s in service.situations([activity.structure_id])]
    with pytest.raises(service.RppsPlusError) as twice:
        service.end_situation(activity.id, manager=MANAGER_ID)
    assert twice.value.code == "already_ended"
    [audit] = events("rpps_plus.situation_ended")
    assert audit.details["ended_by"] == MANAGER_ID


def test_habilitations(app):
    row, created = service.grant_habilitation(NOBODY_ID, IME, "autorite")
    assert created and row.kind == "autorite_enregistrement"
    assert service.grant_habilitation(NOBODY_ID, IME, "autorite")[1] is False
    for args, code in (((NOBODY_ID, IME, "chef"), "unknown_kind"),
                       (("899999999999", IME, "gestionnaire"), "unknown_person"),
                       ((NOBODY_ID, "F000000000", "gestionnaire"), "unknown_structure")):
        with pytest.raises(service.RppsPlusError) as refused:
            service.grant_habilitation(*args)
        assert refused.value.code == code
    listed = service.list_habilitations()
    assert {"national_id": MANAGER_ID, "structure": EHPAD, "kind": "gestionnaire_rpps_plus"
            } in [{k: h[k] for k in ("national_id", "structure", "kind")} for h in listed]
    assert len(listed) == 5


def test_a_number_taken_meanwhile_is_retried_with_the_next(app, monkeypatch):
    from psc_idp.rpps_plus import numbers

    taken = rpps_of(service.validate(submit(family_name="Premier").uid, decided_by="operator"))
    real_next = numbers.next_rpps
    answers = iter([taken])  # a concurrent validation's number, as a race would give it
    monkeypatch.setattr(numbers, "next_rpps", lambda: next(answers, None) or real_next())
    second = rpps_of(service.validate(submit(family_name="Second").uid, decided_by="operator"))
    assert second != taken and is_valid_rpps(second)
    assert int(second[:10]) == int(taken[:10]) + 1


def test_a_refusal_reason_loses_its_control_characters(app):
    done = service.refuse(submit().uid, "Pièce\x00 illisible\x07", decided_by="operator")
    assert done.refusal_reason == "Pièce illisible"
