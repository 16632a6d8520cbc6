"""The demo dataset covers every category a relying party must be tested against.

Coverage is asserted by querying the loaded database, so it also proves the loader keeps it.
"""

from __future__ import annotations

import re
from datetime import date

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from psc_idp.directory import demo_data
from psc_idp.directory.loader import load_demo_directory
from psc_idp.directory.models import Activity, Practice, Professional, Structure
from psc_idp.directory.national_id import is_valid_rpps, make_rpps
from psc_idp.directory.nomenclature import (
    MEDICO_SOCIAL_SECTORS,
    PROFESSIONS,
    RPPS_PLUS_ROLES,
    SECTORS,
    SPECIALTIES,
    is_rpps_plus_profession,
)


@pytest.fixture
def loaded(session: Session) -> Session:
    load_demo_directory(session)
    return session


def _professionals(session: Session) -> list[Professional]:
    return list(session.scalars(select(Professional)))


def _active_practices(session: Session, profession: str, **practice: str) -> list[Practice]:
    query = select(Practice).filter_by(profession_code=profession, **practice)
    return [p for p in session.scalars(query) if p.active_activities]


def test_at_least_twenty_personas_with_valid_unique_numbers() -> None:
    personas = demo_data.DEMO_PROFESSIONALS
    assert len(personas) >= 20
    rpps = [p.rpps for p in personas]
    assert len(set(rpps)) == len(rpps)
    assert all(is_valid_rpps(r) and r.startswith("100999") for r in rpps)
    assert len({p.national_id for p in personas}) == len(personas)


def test_numbers_are_stable_across_runs() -> None:
    # Changing these breaks bookmarks, RP test fixtures and docs: they must never move.
    assert demo_data.GP_RPPS == "10099900010" == make_rpps(1_009_990_001)
    assert demo_data.TWO_SITUATIONS_RPPS == "10099900028"
    assert demo_data.BLOCKED_RPPS == "10099900150"
    assert demo_data.NO_SITUATION_RPPS == "10099900168"
    assert demo_data.RPPS_PLUS_COORDINATION_RPPS == "10099900176"


def test_personas_have_civil_status_contact_and_label() -> None:
    mobiles = set()
    for p in demo_data.DEMO_PROFESSIONALS:
        assert p.civility_code in {"M", "MME"}
        assert p.family_name.isupper() and p.given_name
        assert p.persona_label.strip()
        assert p.contact_email.endswith("@demo.psc-idp.test")
        assert re.fullmatch(r"\+336000000\d\d", p.contact_mobile)
        mobiles.add(p.contact_mobile)
        assert isinstance(p.birth_date, date) and re.fullmatch(r"\d{5}", p.birth_place_code)
    assert len(mobiles) == len(demo_data.DEMO_PROFESSIONALS)


def test_codes_used_by_the_dataset_are_in_the_tables() -> None:
    for p in demo_data.DEMO_PROFESSIONALS:
        for practice in p.practices:
            assert practice.profession_code in PROFESSIONS
            assert practice.expertise_code in SPECIALTIES or practice.expertise_code == ""
            for activity in practice.activities:
                assert activity.sector_code in SECTORS
                assert activity.mode_code in {"L", "S", "B"}


def test_every_activity_references_a_demo_structure() -> None:
    ids = [s.technical_id for s in demo_data.DEMO_STRUCTURES]
    assert len(set(ids)) == len(ids)
    for p in demo_data.DEMO_PROFESSIONALS:
        for practice in p.practices:
            for activity in practice.activities:
                assert activity.structure in ids


def test_physicians_with_specialties(loaded: Session) -> None:
    gps = _active_practices(loaded, "10", expertise_code="SM26")
    assert any(a.mode_code == "L" for gp in gps for a in gp.active_activities)
    assert _active_practices(loaded, "10", expertise_code="SM04")  # cardiologist
    assert _active_practices(loaded, "10", expertise_code="SM40")  # paediatrician
    assert _active_practices(loaded, "10", expertise_code="SM42")  # psychiatrist
    assert _active_practices(loaded, "10", practice_civility_code="PR")


def test_pharmacist_in_an_officine(loaded: Session) -> None:
    [practice] = [p for p in _active_practices(loaded, "21")
                  if p.active_activities[0].structure.sector_code == "SA33"]
    activity = practice.active_activities[0]
    assert activity.pharmacist_section_code == "A"
    assert activity.mode_code == "L"
    structure = activity.structure
    assert len(structure.siret) == 14 and structure.siret.startswith(structure.siren)
    # the technical id of a SIRET structure is C + SIRET; 3 + SIRET is its former id (§10)
    assert structure.technical_id == "C" + structure.siret
    assert structure.former_id == "3" + structure.siret


@pytest.mark.parametrize("profession", ["60", "70", "50", "40"])
def test_nurse_physiotherapist_midwife_dentist(loaded: Session, profession: str) -> None:
    assert _active_practices(loaded, profession)


def test_dentist_has_a_dental_specialty(loaded: Session) -> None:
    assert _active_practices(loaded, "40", expertise_code="SCD01")


def test_each_of_the_five_rpps_plus_roles_is_held(loaded: Session) -> None:
    rpps_plus = [p for p in _professionals(loaded) if p.rpps_plus]
    roles = set()
    for professional in rpps_plus:
        assert professional.active_practices
        for practice in professional.practices:
            assert is_rpps_plus_profession(practice.profession_code)
            assert practice.practice_civility_code == ""
            for activity in practice.active_activities:
                assert activity.mode_code == "S"
                structure = activity.structure
                assert structure.finess_site and structure.finess_legal
                assert structure.technical_id == "F" + structure.finess_site
                assert structure.sector_code in MEDICO_SOCIAL_SECTORS
                roles.add(activity.activity_kind_code)
    assert roles == set(RPPS_PLUS_ROLES)
    # and only RPPS+ professionals practise RPPS+ professions
    for professional in _professionals(loaded):
        if not professional.rpps_plus:
            assert not any(is_rpps_plus_profession(p.profession_code)
                           for p in professional.practices)


def test_a_professional_with_two_situations_in_two_structures(loaded: Session) -> None:
    found = []
    for professional in _professionals(loaded):
        active = [a for p in professional.practices for a in p.active_activities]
        if len({a.structure.technical_id for a in active}) >= 2 and not professional.rpps_plus:
            found.append((professional, active))
    assert found
    professional, active = next((p, a) for p, a in found
                                if p.rpps == demo_data.TWO_SITUATIONS_RPPS)
    assert [a.mode_code for a in active] == ["L", "S"]
    assert [a.structure.sector_code for a in active] == ["SA07", "SA01"]


def test_a_professional_without_active_situation(loaded: Session) -> None:
    idle = [p for p in _professionals(loaded) if p.practices and not p.active_practices]
    assert [p.rpps for p in idle] == [demo_data.NO_SITUATION_RPPS]
    activities = [a for p in idle[0].practices for a in p.activities]
    assert activities and all(a.ended_on is not None and a.ended_on < date.today()
                              for a in activities)


def test_exactly_one_professional_has_blocked_means(loaded: Session) -> None:
    blocked = [p for p in _professionals(loaded) if p.means_blocked]
    assert [p.rpps for p in blocked] == [demo_data.BLOCKED_RPPS]
    assert blocked[0].active_practices  # blocked, not idle: the two cases stay distinct


def test_structure_kinds_and_addresses(loaded: Session) -> None:
    structures = list(loaded.scalars(select(Structure)))
    hospitals = [s for s in structures if s.sector_code == "SA01"]
    assert len(hospitals) >= 2
    assert all(s.technical_id == "F" + s.finess_site and s.finess_legal for s in hospitals)
    cabinets = [s for s in structures if s.technical_id.startswith("R")]
    assert {s.sector_code for s in cabinets} >= {"SA07", "SA08"}
    esms = [s for s in structures if s.sector_code in MEDICO_SOCIAL_SECTORS]
    assert {s.name.split()[0] for s in esms} >= {"EHPAD", "IME", "SAAD"}
    for s in structures:
        assert re.fullmatch(r"\d{5}", s.postal_code), s.name
        assert s.street_name and s.cedex_office.startswith(s.postal_code)
        assert s.country_code == "99000"


def test_capture_mirror_persona(loaded: Session) -> None:
    professional = loaded.scalar(
        select(Professional).filter_by(rpps=demo_data.TWO_SITUATIONS_RPPS))
    [practice] = professional.practices
    assert (practice.profession_code, practice.practice_civility_code,
            practice.expertise_type_code, practice.expertise_code) == ("10", "DR", "S", "SM26")
    cabinet, hospital = practice.activities
    assert cabinet.structure.technical_id.startswith("R")
    assert cabinet.structure.registration_authority == "CNOM/CNOM/CNOM"
    assert cabinet.structure.former_id == f"4{professional.rpps}006"
    assert hospital.structure.registration_authority == "CNOM/CNOM/ARS"
    assert loaded.scalar(select(Activity).filter_by(activity_kind_code="GENR01")) is not None
