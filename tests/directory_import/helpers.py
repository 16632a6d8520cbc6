"""Shared helpers of the import tests: synthetic files and a canonical dump of the directory."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import Flask

from psc_idp.db import db
from psc_idp.directory.importer.generator import generate
from psc_idp.directory.importer.models import DirectoryImport, DirectoryImportRejection
from psc_idp.directory.models import Activity, OtherIdentifier, Practice, Professional, Structure


def make_file(folder: Path, name: str, *, rows: int, fmt: str = "psc", seed: int = 7,
              malformed_every: int = 0, savoir_faire: bool = False) -> tuple[Path, Path | None]:
    """A generated extraction (and its savoir-faire file for the 2025 libreacces layout)."""
    path = folder / name
    sf_path = folder / (name + ".sf") if savoir_faire else None
    sf = io.StringIO() if savoir_faire else None
    out = io.StringIO()
    generate(out, rows=rows, fmt=fmt, seed=seed, savoir_faire_out=sf,
             malformed_every=malformed_every)
    path.write_text(out.getvalue(), encoding="utf-8")
    if sf_path is not None and sf is not None:
        sf_path.write_text(sf.getvalue(), encoding="utf-8")
    return path, sf_path


def _rows(stmt: Any) -> list[tuple[Any, ...]]:
    return sorted(tuple(r) for r in db.session.execute(stmt))


def dump(app: Flask) -> dict[str, list[tuple[Any, ...]]]:
    """The directory's content, without row ids or bookkeeping (import ids, creation time):
    two directories built by different runs compare equal when they hold the same thing."""
    p, pr, a, s, o = (Professional.__table__, Practice.__table__, Activity.__table__,
                      Structure.__table__, OtherIdentifier.__table__)
    with app.app_context():
        person_cols = [c for c in p.c if c.name not in ("id", "last_import_id", "created_at")]
        struct_cols = [c for c in s.c if c.name not in ("id", "last_import_id")]
        practice_cols = [c for c in pr.c if c.name not in ("id", "professional_id")]
        activity_cols = [c for c in a.c if c.name not in ("id", "practice_id", "structure_id",
                                                          "last_import_id")]
        return {
            "professionals": _rows(sa.select(*person_cols)),
            "structures": _rows(sa.select(*struct_cols)),
            "practices": _rows(sa.select(p.c.national_id, *practice_cols)
                               .join(p, p.c.id == pr.c.professional_id)),
            "activities": _rows(sa.select(p.c.national_id, pr.c.profession_code,
                                          s.c.technical_id, *activity_cols)
                                .select_from(a).join(pr, pr.c.id == a.c.practice_id)
                                .join(p, p.c.id == pr.c.professional_id)
                                .join(s, s.c.id == a.c.structure_id)),
            "other_ids": _rows(sa.select(p.c.national_id, o.c.origin, o.c.identifier,
                                         o.c.quality).join(p, p.c.id == o.c.professional_id)),
        }


def rejections(app: Flask, import_id: int) -> list[tuple[int, str]]:
    with app.app_context():
        return _rows(sa.select(DirectoryImportRejection.line_number,
                               DirectoryImportRejection.reason)
                     .where(DirectoryImportRejection.import_id == import_id))


def record(app: Flask, import_id: int) -> DirectoryImport:
    with app.app_context():
        return db.session.get(DirectoryImport, import_id)


def wipe_directory(app: Flask) -> None:
    """Empty the directory and import tables (a fresh database for a clean run)."""
    from psc_idp.audit.trail import AuditEvent

    with app.app_context():
        for table in (DirectoryImportRejection, DirectoryImport, OtherIdentifier, Activity,
                      Practice, Professional, Structure, AuditEvent):
            db.session.execute(sa.delete(table))
        db.session.commit()
