"""The import on both backends: both formats, rejections, idempotence, newer files, resumption
after a failure, people of other sources left alone, audit."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask

from psc_idp.audit.trail import AuditEvent
from psc_idp.db import db
from psc_idp.directory.importer import run as run_module
from psc_idp.directory.importer.run import run_import
from psc_idp.directory.models import Activity, OtherIdentifier, Practice, Professional

from .helpers import dump, make_file, record, rejections, wipe_directory


def _import(app: Flask, path: Path, **kw: object):  # noqa: ANN202
    with app.app_context():
        return run_import(path, **kw)  # type: ignore[arg-type]


def _count(app: Flask, model: type) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def test_psc_file_imported_with_civil_status_contact_and_other_ids(app: Flask, tmp_path: Path
                                                                   ) -> None:
    path, _ = make_file(tmp_path, "Extraction_ProSanteConnect_Personne_activite_1.txt",
                        rows=300, fmt="psc")
    report = _import(app, path, batch_size=50)
    assert (report.status, report.lines, report.accepted, report.rejected) == \
        ("done", 300, 300, 0)
    text = path.read_text(encoding="utf-8").splitlines()
    first = text[1].split("|")
    with app.app_context():
        person = db.session.execute(sa.select(Professional).where(
            Professional.national_id == first[2])).scalar_one()
        assert (person.source, person.last_import_id, person.ended_on) == \
            ("psc", report.import_id, None)
        assert person.family_name == first[3] and person.given_name == first[4].split("'")[0]
        assert person.birth_date is not None and person.contact_email == first[11]
        assert person.contact_mobile == first[10]
        assert [(o.origin, o.identifier) for o in person.other_ids][0][1] == first[2]
        lines = [t.split("|") for t in text[1:] if t.split("|")[2] == first[2]]
        situations = [a for p in person.practices for a in p.activities]
        assert len(situations) == len({(x[28], x[20], x[23], x[50]) for x in lines})
        assert {a.structure.technical_id for a in situations} == {x[28] for x in lines}
        assert all(a.last_import_id == report.import_id and a.source_key for a in situations)
        adeli = db.session.scalar(sa.select(sa.func.count()).select_from(OtherIdentifier)
                                  .where(OtherIdentifier.origin == "ADELI"))
        assert adeli > 0
    several = max(sum(1 for t in text[1:] if t.split("|")[2] == n)
                  for n in {t.split("|")[2] for t in text[1:]})
    assert several > 1


@pytest.mark.parametrize("savoir_faire", [False, True], ids=["pre-2025", "2025"])
def test_libreacces_file_imported(app: Flask, tmp_path: Path, savoir_faire: bool) -> None:
    path, sf = make_file(tmp_path, "PS_LibreAcces_Personne_activite_1.txt", rows=250,
                         fmt="libreacces", savoir_faire=savoir_faire)
    report = _import(app, path, savoir_faire=sf, batch_size=60)
    sf_lines = len(sf.read_text(encoding="utf-8").splitlines()) - 1 if sf else 0
    assert sf_lines > 10 or not savoir_faire  # the lines of both files are counted
    assert (report.status, report.format, report.accepted) == \
        ("done", "libreacces", 250 + sf_lines)
    with app.app_context():
        specialties = db.session.execute(sa.select(
            Professional.national_id, Practice.expertise_type_code, Practice.expertise_code)
            .join(Practice, Practice.professional_id == Professional.id)
            .where(Practice.profession_code == "10")).all()
        assert specialties and all(kind == "S" and code.startswith("SM")
                                   for _, kind, code in specialties)
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Professional).where(
            Professional.contact_email != "")) == 0
        if savoir_faire:
            roles = db.session.scalars(sa.select(Activity.role_code).distinct()).all()
            assert set(roles) > {"FON-01"}
    again = _import(app, path, savoir_faire=sf, force=True, batch_size=60)
    assert (again.status, again.changes.total) == ("done", 0)


def test_malformed_lines_rejected_with_number_and_reason(app: Flask, tmp_path: Path) -> None:
    path, _ = make_file(tmp_path, "bad.txt", rows=200, fmt="psc", malformed_every=40)
    report = _import(app, path, batch_size=30)
    assert (report.accepted, report.rejected) == (195, 5)
    stored = rejections(app, report.import_id)
    assert [n for n, _ in stored] == [41, 81, 121, 161, 201]  # header = line 1
    assert "nombre de colonnes incorrect" in stored[0][1]
    assert "nomenclature profession" in stored[1][1]
    assert report.as_json()["rejections"][0] == {"line": 41, "reason": stored[0][1]}
    assert record(app, report.import_id).rejected == 5


def test_same_file_twice_changes_nothing(app: Flask, tmp_path: Path) -> None:
    path, _ = make_file(tmp_path, "same.txt", rows=200, malformed_every=50)
    first = _import(app, path, batch_size=40)
    before = dump(app)
    skipped = _import(app, path)
    assert (skipped.status, skipped.already_imported_as) == ("skipped", first.import_id)
    assert skipped.import_id != first.import_id
    forced = _import(app, path, force=True, batch_size=40)
    assert (forced.status, forced.changes.total, forced.ended) == ("done", 0, 0)
    assert dump(app) == before
    with app.app_context():
        events = db.session.execute(sa.select(AuditEvent.event, AuditEvent.details)
                                    .order_by(AuditEvent.id)).all()
    finished = [d for e, d in events if e == "directory.import_finished"]
    assert [d["status"] for d in finished] == ["done", "skipped", "done"]
    assert finished[0]["accepted"] == 196 and finished[0]["rejected"] == 4
    assert [e for e, _ in events].count("directory.import_started") == 2


def test_newer_file_updates_in_place_and_ends_the_absent(app: Flask, tmp_path: Path) -> None:
    """A newer extraction without some people: they are ended (never deleted), the others
    updated in place; people of other sources are never ended; someone back is reopened."""
    old, _ = make_file(tmp_path, "old.txt", rows=300)
    new, _ = make_file(tmp_path, "new.txt", rows=200)
    with app.app_context():
        db.session.add(Professional(national_id="810099999999", family_name="DEMO",
                                    given_name="Persona", source=""))
        db.session.commit()
    _import(app, old, batch_size=50)
    counts = [_count(app, m) for m in (Professional, Practice, Activity)]
    report = _import(app, new, batch_size=50)
    assert [_count(app, m) for m in (Professional, Practice, Activity)] == counts
    new_ids = {t.split("|")[2] for t in new.read_text(encoding="utf-8").splitlines()[1:]}
    with app.app_context():
        people = db.session.execute(sa.select(Professional.national_id, Professional.ended_on,
                                              Professional.source)).all()
        ended = {n for n, e, _ in people if e is not None}
        assert ended == {n for n, _, s in people if s == "psc"} - new_ids
        assert report.ended == len(ended) > 0
        assert all(e == date.today() for n, e, _ in people if n in ended)
        demo = [e for n, e, _ in people if n == "810099999999"]
        assert demo == [None]
        open_of_ended = db.session.scalar(
            sa.select(sa.func.count()).select_from(Activity)
            .join(Practice, Practice.id == Activity.practice_id)
            .join(Professional, Professional.id == Practice.professional_id)
            .where(Professional.ended_on.is_not(None), Activity.ended_on.is_(None)))
        assert open_of_ended == 0
        last_days = set(db.session.scalars(sa.select(Activity.ended_on).distinct()))
        assert last_days == {None, date.today() - timedelta(days=1)}
    back = _import(app, old, force=True, batch_size=50)
    assert back.ended == 0
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Professional)
                                 .where(Professional.ended_on.is_not(None))) == 0


def test_people_of_other_sources_are_not_overwritten(app: Flask, tmp_path: Path) -> None:
    path, _ = make_file(tmp_path, "f.txt", rows=20)
    first = path.read_text(encoding="utf-8").splitlines()[1].split("|")
    with app.app_context():
        db.session.add(Professional(national_id=first[2], family_name="RPPSPLUS",
                                    given_name="Agent", source="rpps_plus"))
        db.session.commit()
    report = _import(app, path)
    reasons = {r for _, r in rejections(app, report.import_id)}
    assert len(reasons) == 1 and "hors import" in reasons.pop()
    with app.app_context():
        kept = db.session.execute(sa.select(Professional).where(
            Professional.national_id == first[2])).scalar_one()
        assert (kept.family_name, kept.source, kept.practices) == ("RPPSPLUS", "rpps_plus", [])


def test_failed_import_resumes_to_the_same_directory(app: Flask, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """A failure after some batches: the rerun resumes at byte_offset and the result equals
    one clean run (the subprocess kill test does the same with SIGKILL)."""
    path, _ = make_file(tmp_path, "resume.txt", rows=400, malformed_every=33)
    real = run_module.write_batch
    calls = {"n": 0}

    def failing(*args: object, **kw: object) -> object:
        calls["n"] += 1
        if calls["n"] == 4:
            raise RuntimeError("coupure")
        return real(*args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(run_module, "write_batch", failing)
    with pytest.raises(RuntimeError):
        _import(app, path, batch_size=50)
    monkeypatch.setattr(run_module, "write_batch", real)
    broken = record(app, _last_import(app))
    assert broken.status == "failed" and 0 < broken.lines_done < 400
    resumed = _import(app, path, batch_size=50)
    assert resumed.import_id == broken.id and resumed.resumed_from_line == broken.lines_done
    assert (resumed.lines, resumed.accepted, resumed.rejected) == (400, 388, 12)
    result, reasons = dump(app), rejections(app, resumed.import_id)
    wipe_directory(app)
    clean = _import(app, path, batch_size=50)
    assert dump(app) == result and rejections(app, clean.import_id) == reasons


def _last_import(app: Flask) -> int:
    from psc_idp.directory.importer.models import DirectoryImport

    with app.app_context():
        return db.session.scalar(sa.select(sa.func.max(DirectoryImport.id)))


def test_wrong_format_refused(app: Flask, tmp_path: Path) -> None:
    path, _ = make_file(tmp_path, "p.txt", rows=5, fmt="psc")
    with pytest.raises(run_module.ImportRefused, match="au format « psc »"):
        _import(app, path, fmt="libreacces")
    assert _last_import(app) is None


def test_a_file_with_no_accepted_line_ends_nobody(app: Flask, tmp_path: Path) -> None:
    path, _ = make_file(tmp_path, "full.txt", rows=50)
    _import(app, path)
    empty = tmp_path / "empty.txt"
    empty.write_text(path.read_text(encoding="utf-8").splitlines()[0] + "\n", encoding="utf-8")
    report = _import(app, empty)
    assert (report.status, report.lines, report.ended) == ("done", 0, 0)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Professional)
                                 .where(Professional.ended_on.is_not(None))) == 0
