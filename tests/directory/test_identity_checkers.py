"""Every national id checker other parts call: each TRE_G08 type, the EDIT test form, structure
technical ids and former ids, ``otherIds`` entries; French reasons."""

from __future__ import annotations

import pytest

from psc_idp.directory.national_id import (
    TRE_G08,
    former_structure_id_problem,
    identifier_kind,
    identifier_origin,
    is_edit_id,
    is_valid_adeli,
    is_valid_rpps_cabinet,
    is_valid_siren,
    national_id_problem,
    other_id_problem,
    parse_identifier,
    parse_staff_id,
    rpps_from_national_id,
    structure_id_problem,
)

VALID = {
    "810099900010": ("RPPS", "RPPS"),                  # 8 + RPPS
    "0339400127": ("ADELI", "ADELI"),                  # 0 + ADELI
    "02B9400127": ("ADELI", "ADELI"),                  # Corsica
    "ANS20231122132732": ("EDIT", "EDIT"),              # the 2024 sample's test identity
    "1339400127/SEC01": ("ADELI", "STAFF"),            # 1 + ADELI cabinet / holder
    "30B0168811/CPET00001": ("FINESS", "STAFF"),       # 3 + FINESS / holder (§10)
    "3750712184/000000001": ("FINESS", "STAFF"),
    "4900990011/CPAT1": ("SIREN", "STAFF"),            # 4 + SIREN / holder
    "500000001815646/CPAT00045": ("SIRET", "STAFF"),   # 5 + SIRET / holder (ANS's CIBA sample)
    "610099900010001/ACC2": ("RPPS", "STAFF"),         # 6 + RPPS cabinet (RPPS + 3) / holder
}


@pytest.mark.parametrize("national_id", sorted(VALID))
def test_every_kind_is_accepted_with_its_origin(national_id: str) -> None:
    origin, kind = VALID[national_id]
    assert national_id_problem(national_id) is None
    assert parse_identifier(national_id) == national_id
    assert identifier_origin(national_id) == origin
    assert identifier_kind(national_id) == kind


def test_tre_g08_types() -> None:
    assert TRE_G08 == {"0": "ADELI", "1": "ADELI cabinet", "3": "FINESS", "4": "SIREN",
                       "5": "SIRET", "6": "RPPS cabinet", "8": "RPPS"}


@pytest.mark.parametrize(("national_id", "reason"), [
    ("", "vide ou illisible"),
    ("810099900011", "clé de contrôle du numéro RPPS invalide"),
    ("81009990001", "8 puis 11 chiffres"),
    ("033940012", "0 puis 9 caractères"),
    ("0C39400127", "0 puis 9 caractères"),
    ("ANS2023112213273", "ANS puis 14 chiffres"),
    ("ans20231122132732", "ANS puis 14 chiffres"),       # the normal form is upper case
    ("30B0168811", "désigne une structure"),             # a structure, not a person
    ("500000001815646", "désigne une structure"),
    ("30B0168811/cpet00001", "à écrire « 30B0168811/CPET00001 »"),
    ("3750712185/X1", "personnel de structure invalide"),  # FINESS key
    ("4900990012/X1", "personnel de structure invalide"),  # SIREN key
    ("610099900011001/X", "personnel de structure invalide"),  # RPPS key in a cabinet number
    ("7123456789", "type d'identifiant national inconnu"),
    ("810099900010\u00e9", "vide ou illisible"),
])
def test_bad_ids_get_a_french_reason(national_id: str, reason: str) -> None:
    problem = national_id_problem(national_id)
    assert problem is not None and reason in problem
    assert identifier_kind(national_id) == ""


def test_parse_identifier_normalises_typed_adeli_and_edit_ids() -> None:
    assert parse_identifier(" 0 339 400 127 ") == "0339400127"
    assert parse_identifier("0 2b9400127") == "02B9400127"
    assert parse_identifier("ans 2023 1122 132732") == "ANS20231122132732"
    assert parse_identifier("ANS2023112213273") is None
    assert parse_identifier("033940012") is None


def test_rpps_only_for_rpps_identities() -> None:
    assert rpps_from_national_id("810099900010") == "10099900010"
    for other in ("0339400127", "ANS20231122132732", "30B0168811/CPET00001"):
        with pytest.raises(ValueError):
            rpps_from_national_id(other)


def test_number_checkers() -> None:
    assert is_valid_siren("900990011") and not is_valid_siren("900990012")
    assert not is_valid_siren("90099001")
    assert is_valid_adeli("339400127") and not is_valid_adeli("33940012X")
    assert is_valid_rpps_cabinet("10099900010001") and not is_valid_rpps_cabinet("10099900011001")
    assert is_edit_id("ANS20231122132732") and not is_edit_id("ANS2023112213273A")
    staff = parse_staff_id("4900990011/cpat1")
    assert staff is not None and staff.origin == "SIREN" and staff.structure_technical_id == ""
    assert parse_staff_id("500000001815646/X").structure_technical_id == "C00000001815646"


@pytest.mark.parametrize("technical_id", ["R100042", "R81311", "F0B0750017", "F750712184",
                                          "C00000001815646", "C90099001100018"])
def test_structure_ids_in_their_real_forms(technical_id: str) -> None:
    assert structure_id_problem(technical_id) is None


@pytest.mark.parametrize(("technical_id", "reason"), [
    ("390099001100018", "ancien identifiant de structure"),   # 3 + SIRET: a former id
    ("499700427885006", "ancien identifiant de structure"),   # 4 + RPPS + nnn: a former id
    ("R10A", "R puis des chiffres"),
    ("F750712185", "FINESS invalide"),
    ("C00000001815647", "SIRET invalide"),
    ("X1", "identifiant technique de structure inconnu"),
    ("", "vide"),
])
def test_structure_ids_refused_with_a_reason(technical_id: str, reason: str) -> None:
    problem = structure_id_problem(technical_id)
    assert problem is not None and reason in problem


def test_former_structure_ids() -> None:
    assert former_structure_id_problem("390099001100018") is None
    assert former_structure_id_problem("499700427885006") is None  # the capture's (§4.2)
    assert former_structure_id_problem("499700237045007") is None  # the 2024 sample's
    assert "ancien identifiant de structure invalide" in former_structure_id_problem(
        "C90099001100018")
    assert former_structure_id_problem("499700427886006") is not None  # RPPS key


@pytest.mark.parametrize(("identifier", "origin", "quality", "reason"), [
    ("810099900010", "RPPS", 1, None),
    ("0339400127", "ADELI", 1, None),
    ("ANS20231122132732", "EDIT", 1, None),
    ("30B0168811/CPET00001", "FINESS", 1, None),
    ("a426c722-6c9e-5cf1-8e31-786932f32a3c", "PSI", 2, None),
    ("a426c722-6c9e-5cf1-8e31-786932f32a3c", "PSI", 1, "qualité 2"),
    ("A426C722-6C9E-5CF1-8E31-786932F32A3C", "PSI", 2, "UUID en minuscules"),
    ("0339400127", "RPPS", 1, "de type ADELI, pas RPPS"),
    ("810099900011", "RPPS", 1, "clé de contrôle"),
    ("810099900010", "NIR", 1, "origine d'identifiant inconnue"),
    ("810099900010", "RPPS", 3, "qualité d'identifiant invalide"),
    ("810099900010", "RPPS", True, "qualité d'identifiant invalide"),
    ("", "RPPS", 1, "identifiant vide"),
])
def test_other_id_entries(identifier: str, origin: str, quality: int,
                          reason: str | None) -> None:
    problem = other_id_problem(identifier, origin, quality)
    if reason is None:
        assert problem is None
    else:
        assert problem is not None and reason in problem
