"""Lookups by what a person types at the login form."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from psc_idp.directory import demo_data
from psc_idp.directory.loader import load_demo_directory
from psc_idp.directory.lookup import find_by_identifier, find_by_national_id, list_professionals
from psc_idp.directory.national_id import make_rpps


@pytest.fixture
def loaded(session: Session) -> Session:
    load_demo_directory(session)
    return session


@pytest.mark.parametrize("typed", [
    "8" + demo_data.GP_RPPS,
    demo_data.GP_RPPS,
    f"  8 {demo_data.GP_RPPS[:4]} {demo_data.GP_RPPS[4:]} ",
])
def test_find_by_identifier_accepts_national_id_or_rpps(loaded: Session, typed: str) -> None:
    professional = find_by_identifier(typed)
    assert professional is not None
    assert professional.rpps == demo_data.GP_RPPS
    assert professional.family_name == "LEROY"


def test_find_by_identifier_rejects_typos_and_unknown_numbers(loaded: Session) -> None:
    typo = demo_data.GP_RPPS[:-1] + str((int(demo_data.GP_RPPS[-1]) + 1) % 10)
    assert find_by_identifier(typo) is None
    assert find_by_identifier("") is None
    assert find_by_identifier(make_rpps(1_009_997_777)) is None  # valid, not in the directory


def test_find_by_national_id_is_exact(loaded: Session) -> None:
    assert find_by_national_id("8" + demo_data.BLOCKED_RPPS).means_blocked is True
    assert find_by_national_id(demo_data.BLOCKED_RPPS) is None  # bare RPPS is not a national id


def test_list_professionals_is_complete_and_sorted(loaded: Session) -> None:
    people = list_professionals()
    assert len(people) == len(demo_data.DEMO_PROFESSIONALS)
    keys = [(p.family_name, p.given_name, p.national_id) for p in people]
    assert keys == sorted(keys)


def test_list_professionals_on_an_empty_directory(session: Session) -> None:
    assert list_professionals() == []


def test_package_re_exports_the_public_api(loaded: Session) -> None:
    import psc_idp.directory as directory

    assert directory.find_by_identifier(demo_data.GP_RPPS).family_name == "LEROY"
    assert directory.Professional.__tablename__ == "professional"
    assert directory.parse_identifier(demo_data.GP_RPPS) == "8" + demo_data.GP_RPPS
    assert callable(directory.load_directory_file) and callable(directory.export_professional)
    assert set(directory.__all__) <= set(dir(directory)) | set(directory._LAZY)
    with pytest.raises(AttributeError):
        directory.no_such_name  # noqa: B018
