"""Structure staff identities (CPE, CPA, CDE holders) and the CPF intern in the directory.

Staff have no RPPS: their national id is ``3``+FINESS or ``5``+SIRET, ``/``, a card id
(reference §10), their practice an empty profession. Parsing is checked example by example and
by properties (hypothesis); the demo personas are checked in the loaded database.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session

from psc_idp.directory import demo_data
from psc_idp.directory.loader import (
    export_professional,
    load_demo_directory,
    load_directory_file,
)
from psc_idp.directory.lookup import find_by_identifier
from psc_idp.directory.models import Professional
from psc_idp.directory.national_id import (
    identifier_origin,
    is_valid_finess,
    is_valid_siret,
    luhn_check_digit,
    make_rpps,
    parse_identifier,
    parse_staff_id,
    rpps_from_national_id,
)
from psc_idp.directory.nomenclature import ACTIVITY_KINDS, PROFESSIONS, ROLES, SECTORS

CPE = demo_data.CPE_STAFF_ID
CPA = demo_data.CPA_STAFF_ID
CDE = demo_data.CDE_DIRECTOR_ID

# ------------------------------------------------------------------------------ parsing


@pytest.mark.parametrize(("typed", "expected"), [
    ("30B0168811/CPET00001", "30B0168811/CPET00001"),          # reference §10 (CPE)
    ("500000001815646/CPAT00045", "500000001815646/CPAT00045"),  # ANS's CIBA sample (CPA)
    (" 5 00000001815646 / cpat00045 ", "500000001815646/CPAT00045"),
    ("30b0168811/cpet00001", "30B0168811/CPET00001"),
    ("3750712184/000000001", "3750712184/000000001"),           # an all-digit FINESS, Luhn ok
    ("810099900010", "810099900010"),                           # RPPS ids unchanged
    ("10099900010", "810099900010"),
])
def test_parse_identifier_accepts_staff_and_rpps_ids(typed: str, expected: str) -> None:
    assert parse_identifier(typed) == expected


@pytest.mark.parametrize("typed", [
    "3750712185/ABC",              # FINESS key wrong
    "500000001815647/CPAT00045",   # SIRET key wrong
    "50000000181564/CPAT00045",    # SIRET too short
    "30B0168811/",                 # no holder
    "/CPET00001",
    "30B0168811/CPE-T1",           # holder with a dash
    "30B0168811/" + "A" * 25,      # holder too long
    "40B0168811/CPET00001",        # type 4 (SIREN) is a structure, not a holder
    "80B0168811/CPET00001",
    "30C0168811/CPET00001",        # only A/B in second place
    "30B0168811/CPET00001/X",
    "30B0168811／CPET00001",        # full-width slash
    "3٠B0168811/CPET00001",        # Arabic-Indic digit
    "",
])
def test_parse_identifier_refuses_malformed_staff_ids(typed: str) -> None:
    assert parse_identifier(typed) is None
    assert parse_staff_id(typed) is None


def test_staff_id_parts() -> None:
    cpe = parse_staff_id(CPE)
    assert cpe is not None
    assert (cpe.origin, cpe.structure_number, cpe.holder_id) == ("FINESS", "0B0168811", "CPET00001")
    assert cpe.structure_technical_id == "F0B0168811" == demo_data.HOSPITAL_TOURS
    assert cpe.card_type == "CPE"
    cpa = parse_staff_id(CPA)
    assert cpa is not None
    assert (cpa.origin, cpa.structure_number) == ("SIRET", "00000001815646")
    assert cpa.structure_technical_id == "C00000001815646" == demo_data.CENTRE_ACACIAS
    assert cpa.card_type == "CPA"
    assert parse_staff_id(CDE).card_type == "CDE"
    assert parse_staff_id("3750712184/000000001").card_type is None


def test_origins_and_rpps_extraction() -> None:
    assert identifier_origin(CPE) == "FINESS"
    assert identifier_origin(CPA) == "SIRET"
    assert identifier_origin("810099900010") == "RPPS"
    with pytest.raises(ValueError, match="no RPPS"):
        rpps_from_national_id(CPE)
    assert rpps_from_national_id("810099900010") == "10099900010"


def test_key_digits_of_known_numbers() -> None:
    # SIRET: INSEE's Luhn, and La Poste's exception (digit sum a multiple of 5)
    assert is_valid_siret("00000001815646")
    assert is_valid_siret("73282932000074")
    assert not is_valid_siret("73282932000075")
    assert is_valid_siret("35600000000010") and not is_valid_siret("35600000000011")
    # FINESS: Luhn when all digits (published numbers), unchecked with a letter
    for finess in ("750712184", "440000289", "330781196"):
        assert is_valid_finess(finess), finess
    assert not is_valid_finess("750712185")
    assert is_valid_finess("0B0168811") and is_valid_finess("2A0000018")
    assert not is_valid_finess("0B016881") and not is_valid_finess("0B01688111")


_DIGITS = st.text(alphabet="0123456789", min_size=1, max_size=20)
_HOLDER = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=1, max_size=24)


def _siret_from(body13: str) -> str:
    return body13 + luhn_check_digit(body13)


@given(st.text(alphabet="0123456789", min_size=13, max_size=13), _HOLDER)
def test_property_every_keyed_siret_staff_id_round_trips(body: str, holder: str) -> None:
    siret = _siret_from(body)
    if siret.startswith("356000000"):
        return  # La Poste's rule, tested above
    national_id = f"5{siret}/{holder}"
    assert parse_identifier(national_id) == national_id
    spaced = " ".join(national_id[i:i + 3] for i in range(0, len(national_id), 3)).lower()
    assert parse_identifier(spaced) == national_id
    staff = parse_staff_id(national_id)
    assert staff is not None and staff.structure_technical_id == "C" + siret


@given(st.text(alphabet="0123456789", min_size=13, max_size=13), _HOLDER,
       st.integers(min_value=0, max_value=13), st.integers(min_value=1, max_value=9))
def test_property_one_wrong_siret_digit_is_refused(body: str, holder: str, position: int,
                                                   delta: int) -> None:
    siret = _siret_from(body)
    if siret.startswith("356000000"):
        return
    wrong = siret[:position] + str((int(siret[position]) + delta) % 10) + siret[position + 1:]
    if wrong.startswith("356000000"):
        return
    assert parse_identifier(f"5{wrong}/{holder}") is None


@given(st.text(alphabet="0123456789", min_size=8, max_size=8), _HOLDER)
def test_property_all_digit_finess_needs_its_key(body: str, holder: str) -> None:
    finess = body + luhn_check_digit(body)
    assert parse_identifier(f"3{finess}/{holder}") == f"3{finess}/{holder}"
    wrong = body + str((int(finess[-1]) + 1) % 10)
    assert parse_identifier(f"3{wrong}/{holder}") is None


@given(st.text(max_size=60))
def test_property_parse_never_raises_and_is_idempotent(text: str) -> None:
    parsed = parse_identifier(text)
    if parsed is not None:
        assert parse_identifier(parsed) == parsed
        assert len(parsed) <= 40 and parsed.isascii() and " " not in parsed


@given(st.integers(min_value=0, max_value=10 ** 10 - 1))
def test_property_rpps_ids_keep_their_behaviour(serial: int) -> None:
    rpps = make_rpps(serial)
    assert parse_identifier(rpps) == parse_identifier("8" + rpps) == "8" + rpps
    assert parse_staff_id("8" + rpps) is None


# ------------------------------------------------------------------------------ demo data


@pytest.fixture
def loaded(session: Session) -> Session:
    load_demo_directory(session, include_staff=True)
    return session


def _by_id(session: Session, national_id: str) -> Professional:
    professional = session.scalar(select(Professional).filter_by(national_id=national_id))
    assert professional is not None, national_id
    return professional


def test_role_and_kind_codes_of_the_demo_are_in_the_tables() -> None:
    for persona in demo_data.ALL_DEMO_PERSONAS:
        for practice in persona.practices:
            for activity in practice.activities:
                assert activity.role_code in ROLES or activity.role_code == ""
                assert activity.activity_kind_code in ACTIVITY_KINDS or \
                    activity.activity_kind_code == ""


def test_one_demo_holder_per_card_type() -> None:
    assert sorted(demo_data.DEMO_CARD_HOLDERS.values()) == ["CDE", "CPA", "CPE", "CPF", "CPS"]
    ids = {p.national_id for p in demo_data.ALL_DEMO_PERSONAS}
    assert set(demo_data.DEMO_CARD_HOLDERS) <= ids
    assert len(ids) == len(demo_data.ALL_DEMO_PERSONAS)
    for staff in demo_data.DEMO_STAFF:
        parsed = parse_staff_id(staff.national_id)
        assert parsed is not None and parsed.national_id == staff.national_id
        assert parsed.card_type == demo_data.DEMO_CARD_HOLDERS[staff.national_id]
        assert staff.rpps is None and staff.is_staff and staff.persona_label.strip()
        assert staff.contact_email.endswith("@demo.psc-idp.test")


@pytest.mark.parametrize(("national_id", "structure", "role"), [
    (CPE, demo_data.HOSPITAL_TOURS, "FON-AU"),
    (CPA, demo_data.CENTRE_ACACIAS, "FON-AU"),
    (CDE, demo_data.HOSPITAL_TOURS, "FON-09"),
])
def test_staff_exist_with_structure_role_and_empty_profession(
        loaded: Session, national_id: str, structure: str, role: str) -> None:
    professional = _by_id(loaded, national_id)
    assert professional.rpps is None and not professional.rpps_plus
    [practice] = professional.practices
    assert practice.profession_code == "" and practice.category_code == ""
    [activity] = practice.active_activities
    assert activity.structure.technical_id == structure
    assert activity.role_code == role and activity.activity_kind_code == "GENR04"
    assert activity.mode_code == "S" and activity.sector_code in SECTORS
    assert find_by_identifier(national_id.lower()).id == professional.id


def test_staff_structures_carry_their_identifiers(loaded: Session) -> None:
    hospital = _by_id(loaded, CPE).practices[0].activities[0].structure
    assert hospital.finess_site == "0B0168811" and hospital.finess_legal
    centre = _by_id(loaded, CPA).practices[0].activities[0].structure
    assert centre.siret == "00000001815646" and centre.siret.startswith(centre.siren)
    assert centre.technical_id == "C" + centre.siret


def test_cpf_intern_is_an_rpps_student(loaded: Session) -> None:
    intern = _by_id(loaded, "8" + demo_data.CPF_INTERN_RPPS)
    assert intern.rpps == demo_data.CPF_INTERN_RPPS
    [practice] = intern.practices
    assert (practice.profession_code, practice.category_code) == ("10", "E")
    assert practice.profession_code in PROFESSIONS
    [activity] = practice.active_activities
    assert activity.role_code == "FON-48"  # TRE_R21 "Interne"
    assert activity.structure.technical_id == demo_data.HOSPITAL_LYON


def test_staff_are_loaded_only_on_request(session: Session) -> None:
    counts = load_demo_directory(session)
    assert counts["professionals_created"] == len(demo_data.DEMO_PROFESSIONALS)
    assert find_by_identifier(CPE) is None
    counts = load_demo_directory(session, include_staff=True)
    assert counts["professionals_created"] == (
        len(demo_data.DEMO_STAFF) + len(demo_data.DEMO_OTHER_IDENTITIES))
    assert counts["professionals_unchanged"] == len(demo_data.DEMO_PROFESSIONALS)
    again = load_demo_directory(session, include_staff=True)
    assert again["professionals_unchanged"] == len(demo_data.ALL_DEMO_PERSONAS)
    assert again["professionals_created"] == again["professionals_updated"] == 0


def test_export_for_the_cli(loaded: Session) -> None:
    exported = export_professional(_by_id(loaded, CPA))
    assert exported["national_id"] == CPA and exported["rpps"] is None
    assert exported["staff"] is True and exported["profession_codes"] == []
    [practice] = exported["practices"]
    assert practice["profession_code"] == "" and practice["active"] is True
    assert practice["activities"][0]["structure"]["technical_id"] == demo_data.CENTRE_ACACIAS
    json.dumps(exported)
    assert export_professional(_by_id(loaded, "8" + demo_data.GP_RPPS))["staff"] is False


def test_document_with_staff_round_trips_through_a_file(session: Session,
                                                        tmp_path: Path) -> None:
    path = tmp_path / "directory.json"
    doc = demo_data.as_directory_document(include_staff=True)
    staff_docs = [p for p in doc["professionals"] if p["rpps"] is None]
    assert [p["staff_national_id"] for p in staff_docs] == [
        CPE, CPA, CDE, demo_data.ADELI_ID, demo_data.EDIT_ID]
    assert all("staff_national_id" not in p for p in doc["professionals"] if p["rpps"])
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    counts = load_directory_file(session, path)
    assert counts["professionals_created"] == len(demo_data.ALL_DEMO_PERSONAS)
    assert load_demo_directory(session, include_staff=True)["professionals_unchanged"] == \
        len(demo_data.ALL_DEMO_PERSONAS)


def _staff_doc(**person: object) -> dict[str, object]:
    base: dict[str, object] = {
        "civility_code": "M", "family_name": "AGENT", "given_name": "Paul",
        "practices": [{"profession_code": "", "category_code": "", "activities": [
            {"structure": demo_data.HOSPITAL_PARIS, "mode_code": "S", "sector_code": "SA01"}]}],
    }
    base.update(person)
    return {"professionals": [base]}


def test_operator_file_staff_by_national_id(loaded: Session, tmp_path: Path) -> None:
    path = tmp_path / "staff.json"
    path.write_text(json.dumps(_staff_doc(national_id="3 0B0750017/cpet00777")))
    with pytest.raises(ValueError, match="must be written '30B0750017/CPET00777'"):
        load_directory_file(loaded, path)
    path.write_text(json.dumps(_staff_doc(national_id="30B0750017/CPET00777")))
    assert load_directory_file(loaded, path)["professionals_created"] == 1
    stored = _by_id(loaded, "30B0750017/CPET00777")
    assert stored.rpps is None and stored.practices[0].profession_code == ""
    # loading again is an update in place keyed on the national id, not a second row
    path.write_text(json.dumps(_staff_doc(national_id="30B0750017/CPET00777",
                                          given_name="Pauline")))
    assert load_directory_file(loaded, path)["professionals_updated"] == 1
    assert _by_id(loaded, "30B0750017/CPET00777").given_name == "Pauline"


@pytest.mark.parametrize(("person", "message"), [
    ({"rpps": None}, r"rpps is missing"),
    ({"staff_national_id": "30B0750017"}, r"désigne une structure"),
    ({"staff_national_id": "3750712185/X1"}, r"is not '3'\+FINESS or '5'\+SIRET"),
    ({"staff_national_id": "30B0750017/X1", "national_id": "30B0750017/X2"}, r"differ"),
    ({"staff_national_id": CPE}, r"duplicate national_id"),
])
def test_operator_file_staff_mistakes_are_refused(loaded: Session, tmp_path: Path,
                                                  person: dict[str, object],
                                                  message: str) -> None:
    doc = _staff_doc(**person)
    if "duplicate" in message:
        doc["professionals"] = [doc["professionals"][0], dict(doc["professionals"][0])]
    path = tmp_path / "staff.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(ValueError, match=message):
        load_directory_file(loaded, path)


def test_only_staff_may_have_an_empty_profession(loaded: Session, tmp_path: Path) -> None:
    rpps = make_rpps(1_009_997_001)
    doc = _staff_doc(rpps=rpps)
    path = tmp_path / "rpps.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(ValueError, match="profession_code must not be empty"):
        load_directory_file(loaded, path)
    doc = _staff_doc(rpps=rpps, staff_national_id=CPE)
    path.write_text(json.dumps(doc))
    with pytest.raises(ValueError, match="only for identities without rpps"):
        load_directory_file(loaded, path)
