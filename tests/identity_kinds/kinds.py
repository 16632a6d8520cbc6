"""What a relying party must receive for each identity kind of the demo directory.

One row per kind (``demo_data.IDENTITY_KINDS``): the national id, the ``otherIds`` PSC sends,
the first situation's structure (``SubjectOrganizationID``) and the professions
(``SubjectRole``). The tests check claims built in process and claims received over HTTP
against these rows and against the JSON Schema of both userinfo shapes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from psc_idp.claims.schemas import validate_access_token_claims, validate_userinfo
from psc_idp.directory import demo_data as d
from psc_idp.directory.national_id import national_id_from_rpps


@dataclass(frozen=True)
class Kind:
    national_id: str
    other_ids: tuple[tuple[str, str, int], ...]
    organization_id: str
    roles: tuple[str, ...]
    situations: int


def _rpps(rpps: str, structure: str, roles: tuple[str, ...], situations: int = 1) -> Kind:
    national_id = national_id_from_rpps(rpps)
    return Kind(national_id, ((national_id, "RPPS", 1),), structure, roles, situations)


KINDS: dict[str, Kind] = {
    "rpps": _rpps(d.GP_RPPS, d.CABINET_LEROY, ("10",)),
    "adeli": Kind(d.ADELI_ID, ((d.ADELI_ID, "ADELI", 1),), d.CABINET_MASSON, ("94",), 1),
    "edit": Kind(d.EDIT_ID, ((d.EDIT_ID, "EDIT", 1),), d.CABINET_ROUSSEAU, ("80",), 1),
    "staff_finess": Kind(d.CPE_STAFF_ID, ((d.CPE_STAFF_ID, "FINESS", 1),), d.HOSPITAL_TOURS,
                         (), 1),
    "staff_siret": Kind(d.CPA_STAFF_ID, ((d.CPA_STAFF_ID, "SIRET", 1),), d.CENTRE_ACACIAS,
                        (), 1),
    "student": _rpps(d.STUDENT_RPPS, d.HOSPITAL_PARIS, ("50",)),
    "intern": _rpps(d.CPF_INTERN_RPPS, d.HOSPITAL_LYON, ("10",)),
    "several_other_ids": Kind(
        national_id_from_rpps(d.MULTI_IDS_RPPS),
        ((national_id_from_rpps(d.MULTI_IDS_RPPS), "RPPS", 1), (d.MULTI_IDS_ADELI, "ADELI", 1),
         (d.MULTI_IDS_PSI, "PSI", 2)), d.CABINET_LEFEBVRE, ("70",), 1),
    "two_situations": _rpps(d.TWO_SITUATIONS_RPPS, d.CABINET_MARCHAND, ("10",), 2),
    "three_situations": _rpps(d.THREE_SITUATIONS_RPPS, d.ASSOCIATION_SOLIDARITE, ("60", "10"),
                              3),
    "rpps_plus": _rpps(d.RPPS_PLUS_ROLE_RPPS, d.EHPAD_TILLEULS, ("328",)),
}
assert set(KINDS) == set(d.IDENTITY_KINDS)
assert all(KINDS[name].national_id == d.IDENTITY_KINDS[name] for name in KINDS)


def expected_other_ids(kind: Kind) -> list[dict[str, Any]]:
    return [{"identifiant": i, "origine": o, "qualite": q} for i, o, q in kind.other_ids]


def check_userinfo(body: dict[str, Any], kind: Kind, shape: str) -> None:
    """Everything a document for ``kind`` must hold in ``shape`` (``2024`` or ``2023``)."""
    validate_userinfo(body, shape)
    validate_userinfo(body)  # and the schema's anyOf, as an RP validating blindly would
    assert body["SubjectNameID"] == body["preferred_username"] == kind.national_id
    assert body["sub"].startswith("f:") and body["sub"].endswith(":" + kind.national_id)
    assert body["otherIds"] == expected_other_ids(kind)
    assert body["SubjectOrganizationID"] == kind.organization_id
    assert body["SubjectRole"] == [f"{r}^1.2.250.1.213.1.1.5.5" for r in kind.roles]
    exercices = body["SubjectRefPro"]["exercices"]
    assert sum(len(e["activities"]) for e in exercices) == kind.situations
    first = next(a for e in exercices for a in e["activities"])
    assert first["identifiantTechniqueDeLaStructure"] == kind.organization_id
    if shape == "2024":
        assert "authMode" not in body and set(body["SubjectRefPro"]) == {"exercices"}
        assert body["codeGenreActivite"] == first["codeGenreActivite"]
    else:
        assert body["authMode"] in ("CARD", "MOBILE")
        assert set(body["SubjectRefPro"]) == {"codeCivilite", "exercices"}


def check_access_token(claims: dict[str, Any], kind: Kind) -> None:
    validate_access_token_claims(claims)
    assert claims["preferred_username"] == kind.national_id
    assert claims["otherIds"] == expected_other_ids(kind)
