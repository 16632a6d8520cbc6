"""Loading is an idempotent upsert; broken files are refused whole; export for the CLI."""

from __future__ import annotations

import copy
import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from psc_idp.directory import demo_data
from psc_idp.directory.loader import (
    export_professional,
    load_demo_directory,
    load_directory_file,
)
from psc_idp.directory.models import Activity, Practice, Professional, Structure
from psc_idp.directory.national_id import make_rpps

N_STRUCTURES = len(demo_data.DEMO_STRUCTURES)
N_PROFESSIONALS = len(demo_data.DEMO_PROFESSIONALS)


def _ids(session: Session) -> dict[str, list[int]]:
    return {model.__name__: sorted(session.scalars(select(model.id)))
            for model in (Structure, Professional, Practice, Activity)}


def _professional(session: Session, rpps: str) -> Professional:
    return session.scalar(select(Professional).filter_by(rpps=rpps))


def _write(tmp_path: Path, doc: Any, name: str = "directory.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return path


def _replace_persona(monkeypatch: pytest.MonkeyPatch, rpps: str,
                     edit: Callable[[demo_data.ProfessionalData], demo_data.ProfessionalData]
                     ) -> None:
    personas = tuple(edit(p) if p.rpps == rpps else p for p in demo_data.DEMO_PROFESSIONALS)
    monkeypatch.setattr(demo_data, "DEMO_PROFESSIONALS", personas)


def test_first_load_creates_everything(session: Session) -> None:
    counts = load_demo_directory(session)
    assert counts["structures_created"] == N_STRUCTURES
    assert counts["professionals_created"] == N_PROFESSIONALS
    assert counts["structures_updated"] == counts["professionals_updated"] == 0
    stored = _professional(session, demo_data.GP_RPPS)
    assert stored.national_id == "8" + demo_data.GP_RPPS
    assert stored.contact_email == "camille.leroy@demo.psc-idp.test"


def test_second_load_changes_nothing(session: Session,
                                     row_counts: Callable[[], dict[str, int]]) -> None:
    load_demo_directory(session)
    before_ids, before_counts = _ids(session), row_counts()
    counts = load_demo_directory(session)
    assert counts == {
        "structures_created": 0, "structures_updated": 0, "structures_unchanged": N_STRUCTURES,
        "professionals_created": 0, "professionals_updated": 0,
        "professionals_unchanged": N_PROFESSIONALS,
    }
    assert _ids(session) == before_ids  # not even re-created rows
    assert row_counts() == before_counts


def test_edited_persona_is_updated_in_place(session: Session,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    load_demo_directory(session)
    professional_id = _professional(session, demo_data.GP_RPPS).id
    _replace_persona(monkeypatch, demo_data.GP_RPPS,
                     lambda p: dataclasses.replace(p, persona_label="Nouvelle description"))
    counts = load_demo_directory(session)
    assert counts["professionals_updated"] == 1
    assert counts["professionals_unchanged"] == N_PROFESSIONALS - 1
    stored = _professional(session, demo_data.GP_RPPS)
    assert stored.id == professional_id
    assert stored.persona_label == "Nouvelle description"


def test_edited_practice_replaces_practices_without_duplicates(
        session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    load_demo_directory(session)
    before = len(session.scalars(select(Practice)).all())

    def new_specialty(p: demo_data.ProfessionalData) -> demo_data.ProfessionalData:
        [practice] = p.practices
        return dataclasses.replace(p, practices=(dataclasses.replace(
            practice, expertise_code="SM53"),))

    _replace_persona(monkeypatch, demo_data.GP_RPPS, new_specialty)
    assert load_demo_directory(session)["professionals_updated"] == 1
    stored = _professional(session, demo_data.GP_RPPS)
    assert [p.expertise_code for p in stored.practices] == ["SM53"]
    assert len(stored.practices[0].activities) == 1
    assert len(session.scalars(select(Practice)).all()) == before
    assert load_demo_directory(session)["professionals_updated"] == 0


def test_edited_structure_is_updated(session: Session,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    load_demo_directory(session)
    structures = tuple(dataclasses.replace(s, phone="0199000099")
                       if s.technical_id == demo_data.CABINET_LEROY else s
                       for s in demo_data.DEMO_STRUCTURES)
    monkeypatch.setattr(demo_data, "DEMO_STRUCTURES", structures)
    counts = load_demo_directory(session)
    assert counts["structures_updated"] == 1
    assert counts["professionals_unchanged"] == N_PROFESSIONALS
    stored = session.scalar(select(Structure).filter_by(technical_id=demo_data.CABINET_LEROY))
    assert stored.phone == "0199000099"


def test_demo_document_round_trips_through_a_file(session: Session, tmp_path: Path) -> None:
    path = _write(tmp_path, demo_data.as_directory_document())
    counts = load_directory_file(session, path)
    assert counts["professionals_created"] == N_PROFESSIONALS
    # the file and the demo dataset describe the same rows
    counts = load_demo_directory(session)
    assert counts["professionals_unchanged"] == N_PROFESSIONALS
    assert counts["structures_unchanged"] == N_STRUCTURES


def test_file_may_reference_structures_already_in_the_database(session: Session,
                                                               tmp_path: Path) -> None:
    load_demo_directory(session)
    rpps = make_rpps(1_009_998_001)
    doc = {"professionals": [{
        "rpps": rpps, "national_id": "8" + rpps, "civility_code": "M",
        "family_name": "OPERATEUR", "given_name": "Paul",
        "practices": [{"profession_code": "10", "activities": [
            {"structure": demo_data.HOSPITAL_LYON, "mode_code": "S", "sector_code": "SA01",
             "started_on": "2024-01-01", "ended_on": None}]}],
    }]}
    counts = load_directory_file(session, _write(tmp_path, doc))
    assert counts["professionals_created"] == 1
    stored = _professional(session, rpps)
    assert stored.practices[0].activities[0].structure.technical_id == demo_data.HOSPITAL_LYON
    assert stored.means_blocked is False and stored.rpps_plus is False


def _valid_doc() -> dict[str, Any]:
    return copy.deepcopy(demo_data.as_directory_document())


def _break_check_digit(doc: dict[str, Any]) -> None:
    rpps = doc["professionals"][5]["rpps"]
    doc["professionals"][5]["rpps"] = rpps[:-1] + str((int(rpps[-1]) + 1) % 10)


def _break_structure_ref(doc: dict[str, Any]) -> None:
    doc["professionals"][7]["practices"][0]["activities"][0]["structure"] = "R999999"


def _drop_family_name(doc: dict[str, Any]) -> None:
    del doc["professionals"][3]["family_name"]


def _drop_structure_name(doc: dict[str, Any]) -> None:
    del doc["structures"][2]["name"]


def _misspell_field(doc: dict[str, Any]) -> None:
    doc["professionals"][1]["familly_name"] = doc["professionals"][1].pop("family_name")


def _bad_date(doc: dict[str, Any]) -> None:
    doc["professionals"][2]["practices"][0]["activities"][0]["started_on"] = "01/09/2015"


def _bad_type(doc: dict[str, Any]) -> None:
    doc["professionals"][4]["means_blocked"] = "yes"


def _duplicate_rpps(doc: dict[str, Any]) -> None:
    doc["professionals"][9]["rpps"] = doc["professionals"][8]["rpps"]


def _too_long(doc: dict[str, Any]) -> None:
    doc["structures"][1]["finess_site"] = "0B07500170"


def _empty_name(doc: dict[str, Any]) -> None:
    doc["professionals"][6]["given_name"] = "  "


def _mismatched_national_id(doc: dict[str, Any]) -> None:
    doc["professionals"][0]["national_id"] = "899700427885"


def _ended_before_started(doc: dict[str, Any]) -> None:
    doc["professionals"][0]["practices"][0]["activities"][0]["ended_on"] = "2000-01-01"


BROKEN = [
    (_break_check_digit, r"professionals\[5\]: rpps '\d{11}' has a bad check digit"),
    (_break_structure_ref, r"professionals\[7\].*activities\[0\]: unknown structure 'R999999'"),
    (_drop_family_name, r"professionals\[3\]: missing field 'family_name'"),
    (_drop_structure_name, r"structures\[2\]: missing field 'name'"),
    (_misspell_field, r"professionals\[1\]: unknown field\(s\) familly_name"),
    (_bad_date, r"started_on: '01/09/2015' is not a date YYYY-MM-DD"),
    (_bad_type, r"professionals\[4\].means_blocked: expected true or false"),
    (_duplicate_rpps, r"professionals\[9\].*duplicate rpps"),
    (_too_long, r"structures\[1\].*finess_site is longer than 9 characters"),
    (_empty_name, r"professionals\[6\].*given_name must not be empty"),
    (_mismatched_national_id, r"national_id '899700427885' is not '8' \+ rpps"),
    (_ended_before_started, r"ended_on is before started_on"),
]


@pytest.mark.parametrize(("breaker", "message"), BROKEN, ids=[b.__name__ for b, _ in BROKEN])
@pytest.mark.parametrize("preloaded", [False, True], ids=["empty-db", "demo-loaded"])
def test_broken_file_is_refused_and_writes_nothing(
        session: Session, tmp_path: Path, row_counts: Callable[[], dict[str, int]],
        breaker: Callable[[dict[str, Any]], None], message: str, preloaded: bool) -> None:
    if preloaded:
        load_demo_directory(session)
    doc = _valid_doc()
    # make every valid entry differ from the database, so a partial write would show
    for professional in doc["professionals"]:
        professional["persona_label"] = "modifié par le fichier"
    breaker(doc)
    before, before_ids = row_counts(), _ids(session)
    path = _write(tmp_path, doc)
    with pytest.raises(ValueError, match=message) as caught:
        load_directory_file(session, path)
    assert str(path) in str(caught.value)
    session.expire_all()
    assert row_counts() == before
    assert _ids(session) == before_ids
    labels = set(session.scalars(select(Professional.persona_label)))
    assert "modifié par le fichier" not in labels


@pytest.mark.parametrize(("content", "message"), [
    ("{not json", r"invalid JSON at line 1 column 2"),
    ("[]", r"the top level must be an object"),
    ('{"structures": []}', r"missing 'professionals'"),
    ('{"professionals": {}}', r"'professionals' must be a list"),
    ('{"professionals": [], "extra": 1}', r"unknown top-level key\(s\) extra"),
    ('{"professionals": [42]}', r"professionals\[0\]: expected an object, got int"),
])
def test_malformed_documents(session: Session, tmp_path: Path,
                             row_counts: Callable[[], dict[str, int]],
                             content: str, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        load_directory_file(session, path)
    assert row_counts() == {"Structure": 0, "Professional": 0, "Practice": 0, "Activity": 0}


def test_missing_file_is_a_value_error(session: Session, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cannot read the file"):
        load_directory_file(session, tmp_path / "absent.json")


def test_export_professional_for_the_cli(session: Session) -> None:
    load_demo_directory(session)
    exported = export_professional(_professional(session, demo_data.TWO_SITUATIONS_RPPS))
    assert exported["national_id"] == "8" + demo_data.TWO_SITUATIONS_RPPS
    assert exported["rpps"] == demo_data.TWO_SITUATIONS_RPPS
    assert (exported["given_name"], exported["family_name"]) == ("Théo", "MARCHAND")
    assert exported["civility_code"] == "M"
    assert exported["profession_codes"] == ["10"]
    assert exported["persona_label"].startswith("Médecin généraliste")
    assert exported["rpps_plus"] is False and exported["means_blocked"] is False
    [practice] = exported["practices"]
    assert practice["profession_label"] == "Médecin" and practice["active"] is True
    structures = [a["structure"]["technical_id"] for a in practice["activities"]]
    assert structures == [demo_data.CABINET_MARCHAND, demo_data.HOSPITAL_PARIS]
    assert practice["activities"][1]["structure"]["finess_legal"] == "1B0750009"
    assert "contact_email" not in exported and "contact_mobile" not in exported
    json.dumps(exported)  # serialisable as is


def test_export_flags_and_contact(session: Session) -> None:
    load_demo_directory(session)
    idle = export_professional(_professional(session, demo_data.NO_SITUATION_RPPS))
    assert idle["profession_codes"] == []
    assert idle["practices"][0]["active"] is False
    assert idle["practices"][0]["activities"][0]["ended_on"] == "2022-12-31"
    blocked = export_professional(_professional(session, demo_data.BLOCKED_RPPS),
                                  include_contact=True)
    assert blocked["means_blocked"] is True
    assert blocked["contact_email"] == "isabelle.mercier@demo.psc-idp.test"
    assert blocked["contact_mobile"] == "+33600000015"
    rpps_plus = export_professional(
        _professional(session, demo_data.RPPS_PLUS_COORDINATION_RPPS))
    assert rpps_plus["rpps_plus"] is True and rpps_plus["profession_codes"] == ["330"]
    assert rpps_plus["practices"][0]["activities"][0]["activity_kind_code"] == "GENR08"
