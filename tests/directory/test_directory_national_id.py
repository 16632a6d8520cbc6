"""RPPS check digits and the national identifier (8 + RPPS)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from psc_idp.directory.national_id import (
    is_valid_rpps,
    make_rpps,
    national_id_from_rpps,
    parse_identifier,
    rpps_check_digit,
    rpps_from_national_id,
)

BODIES = st.integers(min_value=0, max_value=10**10 - 1)


@pytest.mark.parametrize("rpps", [
    "10000013994",  # real rows of the public RPPS extraction
    "10006122583",
    "10005681340",
    "99700427885",  # the ANS BAS test identity of the reference capture
])
def test_published_rpps_numbers_pass_the_luhn_check(rpps: str) -> None:
    assert is_valid_rpps(rpps)
    assert rpps_check_digit(rpps[:10]) == rpps[10]


def test_check_digit_of_known_bodies() -> None:
    assert rpps_check_digit("1000001399") == "4"
    assert rpps_check_digit("0000000000") == "0"
    assert make_rpps(1_009_990_001) == "10099900010"


@settings(database=None)
@given(BODIES)
def test_every_made_rpps_is_valid(serial: int) -> None:
    rpps = make_rpps(serial)
    assert len(rpps) == 11
    assert rpps[:10] == f"{serial:010d}"
    assert is_valid_rpps(rpps)


@settings(database=None)
@given(BODIES, st.integers(min_value=0, max_value=10), st.integers(min_value=1, max_value=9))
def test_every_single_digit_change_is_detected(serial: int, position: int, shift: int) -> None:
    rpps = make_rpps(serial)
    changed = str((int(rpps[position]) + shift) % 10)
    typo = rpps[:position] + changed + rpps[position + 1:]
    assert typo != rpps
    assert not is_valid_rpps(typo)
    assert parse_identifier(typo) is None
    assert parse_identifier("8" + typo) is None


@settings(database=None)
@given(BODIES)
def test_national_id_round_trip(serial: int) -> None:
    rpps = make_rpps(serial)
    national_id = national_id_from_rpps(rpps)
    assert national_id == "8" + rpps
    assert parse_identifier(national_id) == national_id
    assert parse_identifier(rpps) == national_id
    assert rpps_from_national_id(national_id) == rpps


@settings(database=None)
@given(st.text(max_size=30))
def test_parse_identifier_never_raises_and_only_returns_valid_ids(text: str) -> None:
    result = parse_identifier(text)
    assert result is None or (len(result) == 12 and result[0] == "8"
                              and is_valid_rpps(result[1:]))


@pytest.mark.parametrize("text", [
    " 810000013994 ",
    "8 1000 0013 994",
    "\t10000013994\n",
    "100 000 139 94",
])
def test_parse_identifier_ignores_whitespace(text: str) -> None:
    assert parse_identifier(text) == "810000013994"


@pytest.mark.parametrize("text", [
    "",
    "   ",
    "10000013995",      # wrong check digit
    "810000013995",     # wrong check digit behind a valid prefix
    "910000013994",     # 12 digits not starting with 8
    "1000001399",       # 10 digits
    "8810000013994",    # 13 digits
    "+810000013994",
    "8-1000-0013-994",
    "81000001399A",
    "١٠٠٠٠٠١٣٩٩٤",      # Arabic-Indic digits: isdigit() but not ASCII
    "１００００013994",   # full-width digits
    "ANS2021010716142",   # EDIT test identity one digit short
    "0A12345678",         # ADELI with a letter in first place
])
def test_parse_identifier_rejects_malformed_input(text: str) -> None:
    assert parse_identifier(text) is None


def test_parse_identifier_rejects_non_strings() -> None:
    assert parse_identifier(None) is None  # type: ignore[arg-type]
    assert parse_identifier(810000013994) is None  # type: ignore[arg-type]


@pytest.mark.parametrize("serial", [-1, 10**10])
def test_make_rpps_rejects_bodies_that_are_not_ten_digits(serial: int) -> None:
    with pytest.raises(ValueError, match="10 digits"):
        make_rpps(serial)


def test_make_rpps_rejects_non_integers() -> None:
    with pytest.raises(TypeError):
        make_rpps(True)
    with pytest.raises(TypeError):
        make_rpps("1000001399")  # type: ignore[arg-type]


def test_invalid_inputs_raise_value_errors() -> None:
    with pytest.raises(ValueError, match="not a valid RPPS"):
        national_id_from_rpps("10000013995")
    with pytest.raises(ValueError, match="10 digits"):
        rpps_check_digit("123")
    with pytest.raises(ValueError, match="national identifier"):
        rpps_from_national_id("810000013995")
    assert not is_valid_rpps(10000013994)  # type: ignore[arg-type]
