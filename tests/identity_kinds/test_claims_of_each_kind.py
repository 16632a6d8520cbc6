"""Claims of every identity kind built in process, in both userinfo shapes (no HTTP).

The live tests (``test_login_each_kind``) show the same documents after a full login; these
pin the details: the order of several situations, stored ``otherIds`` versus derived ones, the
RPPS+ codes, and every demo persona against the JSON Schema.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from psc_idp.claims import SHAPES, build_userinfo, other_ids, subject
from psc_idp.claims.schemas import validate_userinfo
from psc_idp.db import db
from psc_idp.directory import demo_data
from psc_idp.directory.loader import load_demo_directory
from psc_idp.directory.lookup import find_by_identifier
from psc_idp.directory.nomenclature import TRE_R85_OID, check_code, profession_oid
from tests.bare_app import app  # noqa: F401  (the fixture)
from tests.identity_kinds.kinds import KINDS, check_userinfo

FEDERATION_ID = "550dc1c8-d97b-4b1e-ac8c-8eb4471cf9dd"


@pytest.fixture
def session(app: Flask) -> Iterator[Session]:  # noqa: F811
    load_demo_directory(db.session, include_staff=True)
    yield db.session


def _userinfo(national_id: str, shape: str, scopes: str = "openid scope_all") -> dict:
    professional = find_by_identifier(national_id)
    assert professional is not None, national_id
    return build_userinfo(professional, sub=subject(professional, FEDERATION_ID),
                          auth_mode="CARD", scopes=scopes, shape=shape)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("kind", sorted(KINDS))
def test_each_kind_in_each_shape(session: Session, kind: str, shape: str) -> None:
    check_userinfo(_userinfo(KINDS[kind].national_id, shape), KINDS[kind], shape)
    minimal = _userinfo(KINDS[kind].national_id, shape, scopes="openid")
    validate_userinfo(minimal, shape)
    assert minimal["SubjectNameID"] == KINDS[kind].national_id and "otherIds" not in minimal


@pytest.mark.parametrize("shape", SHAPES)
def test_every_demo_persona_validates(session: Session, shape: str) -> None:
    for persona in demo_data.ALL_DEMO_PERSONAS:
        body = _userinfo(persona.national_id, shape)
        validate_userinfo(body, shape)
        assert body["SubjectNameID"] == persona.national_id


def test_edit_identity_has_the_2024_sample_shape(session: Session) -> None:
    body = _userinfo(demo_data.EDIT_ID, "2024")
    sample_keys = ["Secteur_Activite", "sub", "codeGenreActivite", "SubjectOrganization",
                   "Mode_Acces_Raison", "preferred_username", "codeCivilite", "given_name",
                   "Acces_Regulation_Medicale", "UITVersion", "Palier_Authentification",
                   "SubjectRefPro", "SubjectOrganizationID", "SubjectRole", "PSI_Locale",
                   "otherIds", "SubjectNameID", "family_name"]
    assert list(body) == sample_keys  # the sample's key order (reference §10)
    assert body["otherIds"] == [{"identifiant": demo_data.EDIT_ID, "origine": "EDIT",
                                 "qualite": 1}]
    [exercice] = body["SubjectRefPro"]["exercices"]
    assert exercice["codeProfession"] == "80" and exercice["codeCategorieProfessionnelle"] == "C"
    assert body["codeGenreActivite"] == "GENR01"
    assert body["SubjectRefPro"]["exercices"][0]["activities"][0][
        "ancienIdentifiantDeLaStructure"] == "499700237045007"


def test_adeli_holder(session: Session) -> None:
    professional = find_by_identifier(demo_data.ADELI_ID)
    assert professional is not None and professional.rpps is None
    assert other_ids(professional) == [{"identifiant": "0339400127", "origine": "ADELI",
                                        "qualite": 1}]
    body = _userinfo(demo_data.ADELI_ID, "2023")
    assert body["SubjectNameID"] == "0339400127"
    assert body["SubjectRefPro"]["exercices"][0]["codeProfession"] == "94"


def test_several_other_ids_in_stored_order_with_psi_quality_2(session: Session) -> None:
    kind = KINDS["several_other_ids"]
    body = _userinfo(kind.national_id, "2024")
    assert [(o["origine"], o["qualite"]) for o in body["otherIds"]] == [
        ("RPPS", 1), ("ADELI", 1), ("PSI", 2)]
    assert body["otherIds"][1]["identifiant"] == demo_data.MULTI_IDS_ADELI
    assert body["SubjectNameID"] == kind.national_id  # the national id stays the RPPS one


def test_three_situations_come_in_directory_order(session: Session) -> None:
    """exercices[0] is the old nursing registration: an RP taking it blindly sees a volunteer
    nurse in an association, not the physician who signed in (documented in demo_data)."""
    body = _userinfo(KINDS["three_situations"].national_id, "2024")
    nurse, physician = body["SubjectRefPro"]["exercices"]
    assert nurse["codeProfession"] == "60" and physician["codeProfession"] == "10"
    situations = [(a["identifiantTechniqueDeLaStructure"], a["codeModeExercice"], a["codeRole"],
                   a["codeGenreActivite"])
                  for e in (nurse, physician) for a in e["activities"]]
    assert situations == [
        (demo_data.ASSOCIATION_SOLIDARITE, "B", "FON-AU", "GENR01"),
        (demo_data.HOSPITAL_PARIS, "S", "FON-33", "GENR01"),
        (demo_data.CABINET_LEROY, "L", "FON-22", "GENR03"),
    ]
    assert len({s[0] for s in situations}) == 3 and len({s[2] for s in situations}) == 3
    assert body["SubjectOrganizationID"] == demo_data.ASSOCIATION_SOLIDARITE
    assert body["Secteur_Activite"] == "SA28^1.2.250.1.71.4.2.4"
    for _, _, role, genre in situations:  # every code is in its nomenclature
        assert check_code("role", role) and check_code("genre_activite", genre)


def test_rpps_plus_role_and_tre_r85_profession(session: Session) -> None:
    body = _userinfo(KINDS["rpps_plus"].national_id, "2024")
    [exercice] = body["SubjectRefPro"]["exercices"]
    [activity] = exercice["activities"]
    assert exercice["codeProfession"] == "328" and profession_oid("328") == TRE_R85_OID
    assert activity["codeGenreActivite"] == body["codeGenreActivite"] == "GENR11"
    assert check_code("role_rpps_plus", "GENR11")


def test_derived_other_ids_when_none_stored(session: Session) -> None:
    gp = find_by_identifier(KINDS["rpps"].national_id)
    assert gp is not None and list(gp.other_ids) == []
    assert other_ids(gp) == [{"identifiant": "810099900010", "origine": "RPPS", "qualite": 1}]
