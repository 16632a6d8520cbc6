"""Code tables and the OIDs used in claims."""

from __future__ import annotations

import pytest

from psc_idp.directory import nomenclature as nom


def test_rpps_plus_professions_are_exactly_312_to_330_and_353() -> None:
    expected = {str(code) for code in range(312, 331)} | {"353"}
    assert set(nom.RPPS_PLUS_PROFESSIONS) == expected
    assert len(nom.RPPS_PLUS_PROFESSIONS) == 20
    assert nom.RPPS_PLUS_PROFESSIONS["313"] == "Aide-soignant"
    assert nom.RPPS_PLUS_PROFESSIONS["326"] == "Educateur spécialisé"
    assert nom.RPPS_PLUS_PROFESSIONS["330"] == "Coordonnateur de parcours"
    assert nom.RPPS_PLUS_PROFESSIONS["353"] == "Membre de l'équipe de soins"


@pytest.mark.parametrize(("code", "label"), [
    ("10", "Médecin"), ("21", "Pharmacien"), ("26", "Audioprothésiste"),
    ("28", "Opticien-Lunetier"), ("40", "Chirurgien-Dentiste"), ("50", "Sage-Femme"),
    ("60", "Infirmier"), ("70", "Masseur-Kinésithérapeute"), ("80", "Pédicure-Podologue"),
    ("91", "Orthophoniste"), ("92", "Orthoptiste"), ("94", "Ergothérapeute"),
    ("95", "Diététicien"), ("96", "Psychomotricien"), ("98", "Manipulateur ERM"),
])
def test_health_professions_follow_tre_g15(code: str, label: str) -> None:
    assert nom.profession_label(code) == label
    assert not nom.is_rpps_plus_profession(code)


def test_profession_helpers() -> None:
    assert nom.is_rpps_plus_profession("313")
    assert nom.is_rpps_plus_profession("353")
    assert not nom.is_rpps_plus_profession("311")
    assert nom.profession_label("999") == "999"
    assert nom.profession_label("330") == "Coordonnateur de parcours"


def test_the_five_rpps_plus_roles_are_tre_r22_genr08_to_genr12() -> None:
    assert list(nom.RPPS_PLUS_ROLES) == ["GENR08", "GENR09", "GENR10", "GENR11", "GENR12"]
    assert nom.RPPS_PLUS_ROLES["GENR08"] == "Coordination et orientation"
    assert all(nom.is_rpps_plus_role(code) for code in nom.RPPS_PLUS_ROLES)
    assert not nom.is_rpps_plus_role("GENR01")
    assert set(nom.RPPS_PLUS_ROLES) <= set(nom.ACTIVITY_KINDS)


@pytest.mark.parametrize("code", ["SM26", "SM54", "SM04", "SM40", "SM42", "SM20", "SM02",
                                  "SM15", "SM32", "SM53", "SCD01"])
def test_specialties_needed_by_the_demo_are_listed(code: str) -> None:
    assert nom.SPECIALTIES[code]


def test_specialty_labels_follow_tre_r38() -> None:
    assert nom.SPECIALTIES["SM26"] == "Qualifié en Médecine générale"
    assert nom.SPECIALTIES["SM40"] == "Pédiatrie"
    assert nom.SPECIALTIES["SCD01"] == "Orthopédie dento-faciale"


def test_sectors_modes_and_civilities() -> None:
    assert nom.SECTORS["SA01"] == "Etablissement public de santé"
    assert nom.SECTORS["SA07"] == "Cabinet individuel"
    assert nom.SECTORS["SA08"] == "Cabinet de groupe"
    assert nom.SECTORS["SA33"] == "Pharmacie d'officine"
    assert set(nom.SECTORS) >= nom.MEDICO_SOCIAL_SECTORS
    assert set(nom.PRACTICE_MODES) == {"L", "S", "B", "I"}
    assert set(nom.CIVILITIES) == {"M", "MME"}
    assert set(nom.PRACTICE_CIVILITIES) == {"DR", "PR"}


def test_claim_values_and_oids() -> None:
    assert nom.subject_role("10") == "10^1.2.250.1.213.1.1.5.5"
    assert nom.sector_claim("SA07") == "SA07^1.2.250.1.71.4.2.4"
    assert nom.sector_claim("") == ""
    assert nom.PALIER_AUTHENTIFICATION == "APPPRIP3^1.2.250.1.213.1.5.1.1.1"
    assert nom.PSI_LOCALE == "1.2.250.1.213.1.3.1.1"
