"""PSC userinfo built from demo personas, in both shapes: checked against the schema, the 2024
sandbox sample (the default shape) and the 2023 capture."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from psc_idp.claims import (
    SCOPE_ALL,
    build_userinfo,
    other_ids,
    subject,
    validate_userinfo,
)
from psc_idp.directory import demo_data
from psc_idp.directory.models import Activity, Practice, Professional, Structure
from psc_idp.directory.national_id import make_rpps

FEDERATION_ID = "550dc1c8-d97b-4b1e-ac8c-8eb4471cf9dd"
REFERENCE = json.loads((Path(__file__).parent / "reference_userinfo.json").read_text("utf-8"))
REFERENCE_2024 = json.loads(
    (Path(__file__).parent / "reference_userinfo_2024.json").read_text("utf-8"))
FULL = frozenset({"openid", SCOPE_ALL})
Persona = Callable[[str], Professional]


def _userinfo(professional: Professional, scopes: Any = FULL, shape: str = "2024"
              ) -> dict[str, Any]:
    return build_userinfo(professional, sub=subject(professional, FEDERATION_ID),
                          auth_mode="CARD", scopes=scopes, shape=shape)


def _walk(value: Any) -> Iterator[Any]:
    yield value
    if isinstance(value, dict):
        for item in value.values():
            yield from _walk(item)
    elif isinstance(value, list):
        for item in value:
            yield from _walk(item)


def _shape(value: Any) -> Any:
    """Key structure of a document, ignoring values and list lengths beyond the first item."""
    if isinstance(value, dict):
        return {key: _shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_shape(value[0])] if value else []
    return type(value).__name__


def test_subject_and_other_ids(persona: Persona) -> None:
    professional = persona(demo_data.GP_RPPS)
    assert subject(professional, FEDERATION_ID) == f"f:{FEDERATION_ID}:8{demo_data.GP_RPPS}"
    assert other_ids(professional) == [
        {"identifiant": "8" + demo_data.GP_RPPS, "origine": "RPPS", "qualite": 1}]


@pytest.mark.parametrize("shape", ["2024", "2023"])
def test_every_persona_gives_a_valid_userinfo_without_contact_data(session: Session,
                                                                    shape: str) -> None:
    professionals = list(session.scalars(select(Professional)))
    assert len(professionals) == len(demo_data.DEMO_PROFESSIONALS)
    for professional in professionals:
        userinfo = _userinfo(professional, shape=shape)
        validate_userinfo(userinfo, shape)
        dump = json.dumps(userinfo, ensure_ascii=False)
        assert professional.contact_email not in dump
        assert professional.contact_mobile not in dump
        assert "0" + professional.contact_mobile[3:] not in dump  # national format
        assert "demo.psc-idp.test" not in dump
        assert not any(v is None for v in _walk(userinfo)), professional.rpps
        assert userinfo["SubjectNameID"] == userinfo["preferred_username"] == \
            professional.national_id


def test_capture_mirror_persona_has_the_reference_shape_and_values(persona: Persona) -> None:
    professional = persona(demo_data.TWO_SITUATIONS_RPPS)
    userinfo = _userinfo(professional, shape="2023")
    assert _shape(userinfo) == _shape(REFERENCE)
    assert list(userinfo) == list(REFERENCE)  # same key order as the capture
    for key in ("Secteur_Activite", "SubjectRole", "Mode_Acces_Raison",
                "Acces_Regulation_Medicale", "UITVersion", "authMode",
                "Palier_Authentification", "PSI_Locale"):
        assert userinfo[key] == REFERENCE[key], key
    assert userinfo["SubjectOrganization"] == "CABINET M MARCHAND"
    assert userinfo["SubjectOrganizationID"] == demo_data.CABINET_MARCHAND
    practice = userinfo["SubjectRefPro"]["exercices"][0]
    reference_practice = REFERENCE["SubjectRefPro"]["exercices"][0]
    for key in ("codeProfession", "codeCategorieProfessionnelle", "codeCiviliteDexercice",
                "codeTypeSavoirFaire", "codeSavoirFaire"):
        assert practice[key] == reference_practice[key], key
    cabinet, hospital = practice["activities"]
    reference_cabinet = reference_practice["activities"][0]
    empty_in_capture = [k for k, v in reference_cabinet.items() if v == ""]
    assert [k for k, v in cabinet.items() if v == ""] == empty_in_capture
    for key in ("codeModeExercice", "codeSecteurDactivite", "codeTypeDeVoie", "codePays",
                "autoriteDenregistrement"):
        assert cabinet[key] == reference_cabinet[key], key
    assert cabinet["ancienIdentifiantDeLaStructure"] == f"4{professional.rpps}006"
    # The capture's second activity: salaried at a hospital site (reference §4.2).
    assert (hospital["codeModeExercice"], hospital["codeSecteurDactivite"]) == ("S", "SA01")
    assert hospital["identifiantTechniqueDeLaStructure"] == "F" + hospital["numeroFinessSite"]
    assert hospital["numeroFinessetablissementJuridique"]
    assert hospital["autoriteDenregistrement"] == "CNOM/CNOM/ARS"


def test_2024_shape_has_the_sample_keys_in_the_sample_order(persona: Persona) -> None:
    professional = persona(demo_data.TWO_SITUATIONS_RPPS)
    userinfo = _userinfo(professional)
    assert _shape(userinfo) == _shape(REFERENCE_2024)
    assert list(userinfo) == list(REFERENCE_2024)  # Keycloak's HashMap order, as the sample
    validate_userinfo(userinfo, "2024")
    assert "authMode" not in userinfo and set(userinfo["SubjectRefPro"]) == {"exercices"}
    assert userinfo["codeCivilite"] == professional.civility_code == "M"
    [practice] = userinfo["SubjectRefPro"]["exercices"]
    cabinet = practice["activities"][0]
    # top-level codeGenreActivite: the first activity's (the one giving SubjectOrganization),
    # which keeps its own codeGenreActivite as in the sample
    # ("" for this persona, which mirrors the 2023 capture's empty one; GENR01 for the GP)
    assert userinfo["codeGenreActivite"] == cabinet["codeGenreActivite"] == ""
    assert _userinfo(persona(demo_data.GP_RPPS))["codeGenreActivite"] == "GENR01"
    assert userinfo["SubjectOrganizationID"] == cabinet["identifiantTechniqueDeLaStructure"]
    # everything else is the 2023 shape's content
    old = _userinfo(professional, shape="2023")
    assert old["SubjectRefPro"]["codeCivilite"] == userinfo["codeCivilite"]
    assert old["SubjectRefPro"]["exercices"] == userinfo["SubjectRefPro"]["exercices"]
    common = set(old) - {"authMode", "SubjectRefPro"}
    assert {k: old[k] for k in common} == {k: userinfo[k] for k in common}
    assert set(userinfo) == common | {"codeCivilite", "codeGenreActivite", "SubjectRefPro"}


def test_2024_genre_is_empty_without_an_active_activity(persona: Persona) -> None:
    userinfo = _userinfo(persona(demo_data.NO_SITUATION_RPPS))
    validate_userinfo(userinfo, "2024")
    assert userinfo["codeGenreActivite"] == "" and userinfo["SubjectOrganization"] == ""


def test_rpps_plus_genre_reaches_the_top_level(persona: Persona) -> None:
    userinfo = _userinfo(persona(demo_data.RPPS_PLUS_COORDINATION_RPPS))
    assert userinfo["codeGenreActivite"] == "GENR08"


def test_unknown_shape_is_refused(persona: Persona) -> None:
    with pytest.raises(ValueError):
        _userinfo(persona(demo_data.GP_RPPS), shape="2022")


def test_no_email_verified_claim(persona: Persona) -> None:
    assert "email_verified" not in _userinfo(persona(demo_data.GP_RPPS))
    assert "email" not in _userinfo(persona(demo_data.GP_RPPS))


@pytest.mark.parametrize("shape", ["2024", "2023"])
def test_without_scope_all_only_the_identity_is_sent(persona: Persona, shape: str) -> None:
    professional = persona(demo_data.GP_RPPS)
    userinfo = _userinfo(professional, scopes={"openid", "profile"}, shape=shape)
    assert list(userinfo) == ["sub", "SubjectNameID", "preferred_username", "given_name",
                              "family_name"]
    assert userinfo == {
        "sub": f"f:{FEDERATION_ID}:8{demo_data.GP_RPPS}",
        "SubjectNameID": "8" + demo_data.GP_RPPS,
        "preferred_username": "8" + demo_data.GP_RPPS,
        "given_name": "Camille",
        "family_name": "LEROY",
    }
    validate_userinfo(userinfo)


def test_a_scope_string_is_split_not_iterated(persona: Persona) -> None:
    userinfo = _userinfo(persona(demo_data.GP_RPPS), scopes="openid scope_all")
    assert "SubjectRefPro" in userinfo
    assert "SubjectRefPro" not in _userinfo(persona(demo_data.GP_RPPS), scopes="openid")


def test_auth_mode_is_passed_through_in_the_2023_shape_only(persona: Persona) -> None:
    professional = persona(demo_data.GP_RPPS)
    userinfo = build_userinfo(professional, sub=subject(professional, FEDERATION_ID),
                              auth_mode="MOBILE", scopes=FULL, shape="2023")
    assert userinfo["authMode"] == "MOBILE"
    validate_userinfo(userinfo, "2023")
    assert "authMode" not in build_userinfo(professional, sub=userinfo["sub"],
                                            auth_mode="MOBILE", scopes=FULL)


def test_no_situation_persona(persona: Persona) -> None:
    userinfo = _userinfo(persona(demo_data.NO_SITUATION_RPPS))
    validate_userinfo(userinfo)
    assert userinfo["SubjectRole"] == []
    assert userinfo["SubjectOrganization"] == ""
    assert userinfo["SubjectOrganizationID"] == ""
    assert userinfo["Secteur_Activite"] == ""
    [practice] = userinfo["SubjectRefPro"]["exercices"]
    assert practice["codeProfession"] == "10" and practice["codeSavoirFaire"] == "SM54"
    assert practice["activities"] == []  # the ended cabinet is not published
    assert "CABINET DU DR JEAN-PIERRE BLANC" not in json.dumps(userinfo)


def test_blocked_persona_claims_are_ordinary(persona: Persona) -> None:
    # Blocking is enforced by the authenticators; the directory still describes the person,
    # and nothing in the claims reveals the blocking to an RP.
    userinfo = _userinfo(persona(demo_data.BLOCKED_RPPS))
    validate_userinfo(userinfo)
    assert userinfo["SubjectRole"] == ["10^1.2.250.1.213.1.1.5.5"]
    assert "bloqu" not in json.dumps(userinfo, ensure_ascii=False).lower()
    assert "blocked" not in json.dumps(userinfo).lower()


def test_rpps_plus_persona_carries_its_role_as_genre_activite(persona: Persona) -> None:
    userinfo = _userinfo(persona(demo_data.RPPS_PLUS_COORDINATION_RPPS))
    validate_userinfo(userinfo)
    assert userinfo["SubjectRole"] == ["330^1.2.250.1.213.1.1.5.5"]
    assert userinfo["Secteur_Activite"] == "SA63^1.2.250.1.71.4.2.4"
    [practice] = userinfo["SubjectRefPro"]["exercices"]
    assert practice["codeCiviliteDexercice"] == ""
    [activity] = practice["activities"]
    assert activity["codeGenreActivite"] == "GENR08"
    assert activity["codeRole"] == ""
    assert activity["numeroFinessSite"] and activity["numeroFinessetablissementJuridique"]


def test_rpps_plus_two_roles_one_subject_role(session: Session) -> None:
    professional = session.scalar(select(Professional).filter_by(family_name="HAMIDI"))
    userinfo = _userinfo(professional)
    assert userinfo["SubjectRole"] == ["326^1.2.250.1.213.1.1.5.5"]
    activities = userinfo["SubjectRefPro"]["exercices"][0]["activities"]
    assert [a["codeGenreActivite"] for a in activities] == ["GENR10", "GENR08"]


def test_pharmacist_in_officine(session: Session) -> None:
    professional = session.scalar(select(Professional).filter_by(family_name="LAMBERT"))
    userinfo = _userinfo(professional)
    [activity] = userinfo["SubjectRefPro"]["exercices"][0]["activities"]
    assert activity["codeSectionPharmacien"] == "A"
    assert activity["numeroSiretSite"] == "90099001100018"
    assert activity["numeroSirenSite"] == "900990011"
    assert activity["enseigneCommercialeSite"] == "PHARMACIE DU MARCHE"
    assert userinfo["Secteur_Activite"] == "SA33^1.2.250.1.71.4.2.4"


def test_ended_activities_are_dropped_and_roles_deduplicated(session: Session) -> None:
    structure = session.scalar(select(Structure).filter_by(
        technical_id=demo_data.HOSPITAL_PARIS))
    old = session.scalar(select(Structure).filter_by(technical_id=demo_data.CABINET_BLANC))
    rpps = make_rpps(1_009_996_001)
    professional = Professional(
        rpps=rpps, national_id="8" + rpps, civility_code="MME", family_name="TEST",
        given_name="Alice", contact_email="alice@demo.psc-idp.test",
        contact_mobile="+33600000099",
        practices=[
            Practice(profession_code="10", practice_civility_code="DR", activities=[
                Activity(structure=old, mode_code="L", sector_code="SA07",
                         ended_on=date(2020, 1, 1)),
                Activity(structure=structure, mode_code="S", sector_code="SA01"),
            ]),
            Practice(profession_code="10", expertise_type_code="S", expertise_code="SM59",
                     activities=[Activity(structure=structure, mode_code="S",
                                          sector_code="SA01")]),
        ])
    session.add(professional)
    session.flush()
    userinfo = _userinfo(professional)
    validate_userinfo(userinfo)
    assert userinfo["SubjectRole"] == ["10^1.2.250.1.213.1.1.5.5"]
    # the first *active* activity gives the organisation, not the ended cabinet
    assert userinfo["SubjectOrganizationID"] == demo_data.HOSPITAL_PARIS
    assert userinfo["Secteur_Activite"] == "SA01^1.2.250.1.71.4.2.4"
    first, second = userinfo["SubjectRefPro"]["exercices"]
    assert [a["identifiantTechniqueDeLaStructure"] for a in first["activities"]] == [
        demo_data.HOSPITAL_PARIS]
    # exercise names fall back on the civil names when the directory has none
    assert (first["nomDexercice"], first["prenomDexercice"]) == ("TEST", "Alice")
    assert second["codeSavoirFaire"] == "SM59"
    assert "alice@demo.psc-idp.test" not in json.dumps(userinfo)


def test_building_claims_writes_nothing(session: Session, persona: Persona) -> None:
    session.commit()
    professional = persona(demo_data.TWO_SITUATIONS_RPPS)
    before = professional.persona_label
    _userinfo(professional)
    assert not session.new and not session.dirty and not session.deleted
    assert professional.persona_label == before


@pytest.mark.parametrize("rpps", [demo_data.GP_RPPS, demo_data.TWO_SITUATIONS_RPPS,
                                  demo_data.BLOCKED_RPPS, demo_data.NO_SITUATION_RPPS,
                                  demo_data.RPPS_PLUS_COORDINATION_RPPS])
def test_all_values_are_strings_except_lists_and_qualite(persona: Persona, rpps: str) -> None:
    userinfo = _userinfo(persona(rpps))
    for practice in userinfo["SubjectRefPro"]["exercices"]:
        assert all(isinstance(v, str) for k, v in practice.items() if k != "activities")
        for activity in practice["activities"]:
            assert len(activity) == 30
            assert all(isinstance(v, str) for v in activity.values())
    assert isinstance(userinfo["otherIds"][0]["qualite"], int)


def test_claims_modules_import_neither_flask_nor_the_database() -> None:
    import ast

    import psc_idp.claims as package

    for path in Path(package.__file__).parent.glob("*.py"):
        tree = ast.parse(path.read_text("utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [("." * node.level) + (node.module or "")]
            else:
                continue
            for name in names:
                assert not name.startswith(("flask", "sqlalchemy", "..db")), (path.name, name)
