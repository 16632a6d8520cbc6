"""The JSON loader and export for every identity kind: ADELI and EDIT ids, several otherIds,
ended people, nomenclature codes and structure ids checked with French messages naming the
field; and who may sign in (``lookup.login_refusal``)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from psc_idp.directory import demo_data
from psc_idp.directory.loader import export_professional, load_demo_directory, load_directory_file
from psc_idp.directory.lookup import (
    ENDED,
    find_by_identifier,
    is_ended,
    list_professionals,
    login_refusal,
)
from psc_idp.directory.models import OtherIdentifier, Professional

PSI = "0e6c3b1a-2f0d-4c55-9a57-3f5bd1c0a111"


def _doc(**person: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "rpps": None, "staff_national_id": "0759300012", "civility_code": "M",
        "family_name": "NOUVEAU", "given_name": "Paul",
        "practices": [{"profession_code": "92", "activities": [
            {"structure": demo_data.CABINET_LEROY, "mode_code": "L", "sector_code": "SA07",
             "activity_kind_code": "GENR01"}]}],
    }
    base.update(person)
    return {"structures": [], "professionals": [base]}


def _load(session: Session, tmp_path: Path, doc: dict[str, Any]) -> dict[str, int]:
    path = tmp_path / "people.json"
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return load_directory_file(session, path)


@pytest.fixture
def loaded(session: Session) -> Session:
    load_demo_directory(session, include_staff=True)
    return session


def test_demo_identities_round_trip_with_their_other_ids(loaded: Session) -> None:
    multi = find_by_identifier("8" + demo_data.MULTI_IDS_RPPS)
    assert [(o.identifier, o.origin, o.quality) for o in multi.other_ids] == [
        ("8" + demo_data.MULTI_IDS_RPPS, "RPPS", 1), (demo_data.MULTI_IDS_ADELI, "ADELI", 1),
        (demo_data.MULTI_IDS_PSI, "PSI", 2)]
    exported = export_professional(multi)
    assert exported["other_ids"][2] == {"identifier": demo_data.MULTI_IDS_PSI, "origin": "PSI",
                                        "quality": 2}
    adeli = export_professional(find_by_identifier(demo_data.ADELI_ID))
    assert adeli["identifier_origin"] == "ADELI" and adeli["staff"] is False
    assert adeli["rpps"] is None and adeli["national_id"] == demo_data.ADELI_ID
    edit = export_professional(find_by_identifier(demo_data.EDIT_ID))
    assert edit["identifier_origin"] == "EDIT"
    ended = export_professional(find_by_identifier("8" + demo_data.ENDED_RPPS))
    assert ended["ended_on"] == "2025-06-30"
    # a second load changes nothing, other ids included
    again = load_demo_directory(loaded, include_staff=True)
    assert again["professionals_updated"] == again["professionals_created"] == 0
    stored = loaded.scalar(select(func.count()).select_from(OtherIdentifier))
    assert stored == 1 + 1 + 3  # the ADELI holder, the EDIT identity, three for one person


def test_exported_demo_document_loads_back(loaded: Session, tmp_path: Path) -> None:
    doc = demo_data.as_directory_document(include_staff=True)
    counts = _load(loaded, tmp_path, doc)
    assert counts["professionals_updated"] == counts["professionals_created"] == 0
    assert counts["structures_updated"] == 0


def test_an_operator_file_with_an_adeli_holder_and_other_ids(loaded: Session,
                                                              tmp_path: Path) -> None:
    doc = _doc(other_ids=[{"identifier": "0759300012", "origin": "ADELI", "quality": 1},
                          {"identifier": PSI, "origin": "PSI", "quality": 2}],
               ended_on=None)
    assert _load(loaded, tmp_path, doc)["professionals_created"] == 1
    person = find_by_identifier("0 759 300 012")
    assert person is not None and [o.origin for o in person.other_ids] == ["ADELI", "PSI"]
    # edited identifiers replace the stored ones; the file is the truth for that person
    doc["professionals"][0]["other_ids"] = [{"identifier": PSI, "origin": "PSI", "quality": 2}]
    assert _load(loaded, tmp_path, doc)["professionals_updated"] == 1
    loaded.expire_all()
    assert [o.origin for o in find_by_identifier("0759300012").other_ids] == ["PSI"]
    assert _load(loaded, tmp_path, doc)["professionals_unchanged"] == 1


@pytest.mark.parametrize(("change", "message"), [
    ({"practices": [{"profession_code": "998", "activities": []}]},
     r"professionals\[0\] \(national_id 0759300012\): practices\[0\]\.profession_code : "
     r"code inconnu dans la nomenclature profession : « 998 »"),
    ({"civility_code": "MLLE"}, r"\.civility_code : code inconnu dans la nomenclature civilite"),
    ({"practices": [{"profession_code": "92", "category_code": "X", "activities": []}]},
     r"practices\[0\]\.category_code : code inconnu dans la nomenclature categorie : « X »"),
    ({"practices": [{"profession_code": "10", "expertise_type_code": "S",
                     "expertise_code": "SM99", "activities": []}]},
     r"practices\[0\]\.expertise_code : code inconnu dans la nomenclature savoir_faire"),
    ({"practices": [{"profession_code": "92", "activities": [
        {"structure": demo_data.CABINET_LEROY, "role_code": "FON-99"}]}]},
     r"practices\[0\]\.activities\[0\]\.role_code : code inconnu dans la nomenclature role"),
    ({"practices": [{"profession_code": "92", "activities": [
        {"structure": demo_data.CABINET_LEROY, "activity_kind_code": "GENR42"}]}]},
     r"activities\[0\]\.activity_kind_code : code inconnu dans la nomenclature genre_activite"),
    ({"practices": [{"profession_code": "92", "activities": [
        {"structure": demo_data.CABINET_LEROY, "mode_code": "X"}]}]},
     r"activities\[0\]\.mode_code : code inconnu dans la nomenclature mode_exercice"),
    ({"staff_national_id": "075930001"}, r"un identifiant ADELI compte 0 puis 9 caractères"),
    ({"staff_national_id": "ANS2024"}, r"ANS puis 14 chiffres"),
    ({"staff_national_id": "810099900010"}, r"written with its rpps"),
    ({"other_ids": [{"identifier": "0759300012", "origin": "RPPS", "quality": 1}]},
     r"other_ids\[0\] : l'identifiant « 0759300012 » est de type ADELI, pas RPPS"),
    ({"other_ids": [{"identifier": PSI, "origin": "PSI", "quality": 2},
                    {"identifier": PSI, "origin": "PSI", "quality": 2}]},
     r"other_ids\[1\] : identifiant en double"),
    ({"other_ids": [{"identifier": PSI, "origin": "PSI", "quality": "2"}]},
     r"other_ids\[0\]\.quality: expected an integer"),
    ({"other_ids": [{"identifier": PSI, "origin": "PSI"}]}, r"PSI a la qualité 2"),
])
def test_bad_codes_and_ids_are_refused_naming_the_field(loaded: Session, tmp_path: Path,
                                                        change: dict[str, Any],
                                                        message: str) -> None:
    before = loaded.scalar(select(func.count()).select_from(Professional))
    with pytest.raises(ValueError, match=message):
        _load(loaded, tmp_path, _doc(**change))
    assert loaded.scalar(select(func.count()).select_from(Professional)) == before


@pytest.mark.parametrize(("structure", "message"), [
    ({"technical_id": "390099001100018", "name": "X"},
     r"structures\[0\] \(390099001100018\): technical_id : .*ancien identifiant de structure"),
    ({"technical_id": "F0B07500", "name": "X"}, r"technical_id : FINESS invalide"),
    ({"technical_id": "R100200", "name": "X", "former_id": "3123"},
     r"former_id : ancien identifiant de structure invalide"),
    ({"technical_id": "R100200", "name": "X", "sector_code": "SA99"},
     r"structures\[0\] \(R100200\)\.sector_code : code inconnu dans la nomenclature secteur"),
])
def test_structures_in_real_forms_only(loaded: Session, tmp_path: Path,
                                       structure: dict[str, Any], message: str) -> None:
    doc = _doc()
    doc["structures"] = [structure]
    with pytest.raises(ValueError, match=message):
        _load(loaded, tmp_path, doc)


def test_deprecated_codes_of_old_files_are_accepted(loaded: Session, tmp_path: Path) -> None:
    doc = _doc(practices=[{"profession_code": "92", "activities": [
        {"structure": demo_data.CABINET_LEROY, "activity_kind_code": "GENR05"}]}])
    assert _load(loaded, tmp_path, doc)["professionals_created"] == 1


# ------------------------------------------------------------------------ who may sign in


def test_ended_and_blocked_people_are_refused(loaded: Session) -> None:
    ended = find_by_identifier("8" + demo_data.ENDED_RPPS)
    blocked = find_by_identifier("8" + demo_data.BLOCKED_RPPS)
    gp = find_by_identifier("8" + demo_data.GP_RPPS)
    assert login_refusal(ended) == ENDED == "professional_ended"
    assert login_refusal(ended, "blocked!", "ended!") == "ended!"
    assert login_refusal(blocked) == "means_blocked"
    assert login_refusal(gp) is None
    summaries = {p.national_id: p for p in list_professionals()}
    assert is_ended(summaries[ended.national_id]) and not is_ended(gp)


def test_ended_counts_from_its_day_on_the_provider_clock(loaded: Session) -> None:
    person = find_by_identifier("8" + demo_data.GP_RPPS)
    today = datetime.now(UTC).date()  # a bare app: no provider clock, UTC's day
    person.ended_on = today + timedelta(days=1)
    assert not is_ended(person) and login_refusal(person) is None
    person.ended_on = today
    assert is_ended(person) and login_refusal(person) == ENDED
    assert not is_ended(person, today=today - timedelta(days=1))
    assert is_ended(person, today=date(2999, 1, 1))
    loaded.rollback()


def test_the_message_names_the_line_where_the_entry_starts(loaded: Session,
                                                           tmp_path: Path) -> None:
    doc = _doc()
    second = dict(doc["professionals"][0], staff_national_id="0759300020",
                  civility_code="M", practices=[{"profession_code": "92", "activities": [
                      {"structure": demo_data.CABINET_LEROY, "role_code": "FON-99"}]}])
    doc["professionals"].append(second)
    path = tmp_path / "pretty.json"
    text = json.dumps(doc, ensure_ascii=False, indent=2)
    path.write_text(text, encoding="utf-8")
    line = 1 + text[:text.index('"staff_national_id": "0759300020"')].count("\n") - 2
    assert text.splitlines()[line - 1].strip() == "{"
    with pytest.raises(ValueError) as refused:
        load_directory_file(loaded, path)
    assert str(refused.value).startswith(f"{path}: ligne {line} : professionals[1] ")
    assert "activities[0].role_code : code inconnu dans la nomenclature role : « FON-99 »" in str(
        refused.value)
