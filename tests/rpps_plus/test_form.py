"""The registration form's checks: every field of seed 004, French messages, nothing valid
accepted half (no database: the nomenclature is plain data)."""

from __future__ import annotations

from datetime import date

import pytest

from psc_idp.rpps_plus.form import (
    check_registration,
    fold,
    normalise_mobile,
    profession_choices,
    role_choices,
)
from tests.rpps_plus.helpers import form

TODAY = date(2026, 12, 6)


def test_a_valid_form_is_normalised():
    data, errors = check_registration(form(), today=TODAY)
    assert errors == {} and data is not None
    assert data.family_name == "MARTIN" and data.given_names == "Élodie Anne"
    assert data.practice_family_name == "MARTIN" and data.practice_given_name == "Élodie"
    assert data.contact_mobile == "+33612345678" and data.birth_place_code == "97128"
    assert data.birth_date == date(1992, 7, 21) and data.role_code == "GENR11"


@pytest.mark.parametrize(("field", "value", "words"), [
    ("civility_code", "MLLE", "civilité"),
    ("family_name", "", "obligatoire"),
    ("family_name", "Martin2", "lettres"),
    ("given_names", "", "obligatoires"),
    ("birth_date", "21/07/1992", "AAAA-MM-JJ"),
    ("birth_date", "2020-01-01", "invraisemblable"),
    ("birth_date", "1992-02-30", "AAAA-MM-JJ"),
    ("birth_place_code", "1234", "INSEE"),
    ("birth_place_code", "00123", "INSEE"),
    ("birth_place_code", "99100", "INSEE"),
    ("birth_place_code", "2C004", "INSEE"),
    ("contact_email", "", "obligatoire"),
    ("contact_email", "pas-une-adresse", "invalide"),
    ("contact_mobile", "", "obligatoire"),
    ("contact_mobile", "01 23 45 67 89", "mobile invalide"),
    ("profession_code", "10", "Profession inconnue"),
    ("profession_code", "331", "Profession inconnue"),
    ("role_code", "GENR01", "Rôle inconnu"),
    ("role_code", "FON-48", "Rôle inconnu"),
    ("started_on", "", "AAAA-MM-JJ"),
    ("started_on", "2030-01-01", "plus d'un an"),
    ("started_on", "1990-01-01", "précède la naissance"),
])
def test_each_bad_field_has_its_french_message(field, value, words):
    data, errors = check_registration(form(**{field: value}), today=TODAY)
    assert data is None
    assert list(errors) == [field], errors
    assert words in errors[field]


def test_all_errors_at_once_and_nothing_returned():
    data, errors = check_registration({}, today=TODAY)
    assert data is None
    assert set(errors) == {"civility_code", "family_name", "given_names", "birth_date",
                           "birth_place_code", "contact_email", "contact_mobile",
                           "profession_code", "role_code", "started_on"}


@pytest.mark.parametrize("code", ["75056", "2A004", "2B033", "97128", "97411", "98735",
                                  "99134", "01001"])
def test_birth_place_shapes_accepted(code):
    assert check_registration(form(birth_place_code=code), today=TODAY)[1] == {}


def test_mobile_numbers():
    assert normalise_mobile("07.11.22.33.44") == "+33711223344"
    assert normalise_mobile("+262 692 12 34 56") == "+262692123456"
    assert normalise_mobile("0033 6 12 34 56 78") == "+33612345678"
    assert normalise_mobile("12") is None


def test_names_are_folded_for_matching():
    assert fold("  Élodie   d’Arc ") == "ELODIE D'ARC"


def test_choices_cover_seed_004():
    assert [code for code, _ in profession_choices()] == [*map(str, range(312, 331)), "353"]
    assert [code for code, _ in role_choices()] == ["GENR08", "GENR09", "GENR10", "GENR11",
                                                      "GENR12"]


@pytest.mark.parametrize("field", ["contact_email", "family_name", "given_names",
                                   "contact_mobile", "birth_place_code", "started_on"])
def test_control_characters_are_refused(field):
    value = form()[field]
    data, errors = check_registration(form(**{field: value[:3] + "\x00" + value[3:]}),
                                      today=TODAY)
    assert data is None and list(errors) == [field]
