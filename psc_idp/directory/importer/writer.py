"""Writing one batch of accepted lines with SQLAlchemy Core, a few statements per table.

Professionals, structures and other identifiers have a unique key: bulk
``INSERT … ON CONFLICT DO UPDATE`` (SQLite and PostgreSQL insert constructs). Practices and
situations have none in the schema (demo data may hold anything): their existing rows are
found with one ``SELECT … IN`` per batch, then new ones are inserted and known ones updated
with ``executemany``. The import lock (``run.py``) makes that race-free.

A batch always holds every line of the persons it contains (``run.py`` cuts batches between
persons), so a person's practices are computed from all of their lines at once.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..models import Activity, OtherIdentifier, Practice, Professional, Structure
from .formats import STRUCTURE_FIELDS, Line, expertise_rank

IMPORT_SOURCES = ("libreacces", "psc")
"""Sources an import may overwrite; other people (demo, RPPS+, API) are never touched."""

PROF = Professional.__table__
STRUCT = Structure.__table__
PRACTICE = Practice.__table__
ACTIVITY = Activity.__table__
OTHER = OtherIdentifier.__table__

PERSON_FIELDS = ("rpps", "civility_code", "family_name", "given_name")
CIVIL_FIELDS = ("birth_date", "birth_place_code", "contact_email", "contact_mobile")
"""Only the ``psc`` layout carries civil status and contact data (never in claims)."""
PRACTICE_FIELDS = ("category_code", "practice_civility_code", "practice_family_name",
                   "practice_given_name", "expertise_type_code", "expertise_code")
ACTIVITY_FIELDS = ("mode_code", "sector_code", "pharmacist_section_code", "role_code",
                   "activity_kind_code")
STRUCTURE_COLUMNS = tuple("sector_code" if f == "sector" else f for f in STRUCTURE_FIELDS)


def source_key(national_id: str, profession: str, technical_id: str, activity: dict[str, str]
               ) -> str:
    """What identifies a situation in the extraction: person, profession, structure, mode,
    role, genre (sector and section are attributes that may change in place)."""
    text = "|".join((national_id, profession, technical_id, activity["mode_code"],
                     activity["role_code"], activity["activity_kind_code"]))
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class Changes:
    """Rows inserted and updated (content that differs; bookkeeping columns excluded)."""

    counts: dict[str, dict[str, int]] = field(default_factory=lambda: {
        t: {"inserted": 0, "updated": 0} for t in
        ("professionals", "practices", "situations", "structures", "other_ids")})

    def add(self, table: str, inserted: int = 0, updated: int = 0) -> None:
        self.counts[table]["inserted"] += inserted
        self.counts[table]["updated"] += updated

    @property
    def total(self) -> int:
        return sum(c["inserted"] + c["updated"] for c in self.counts.values())


class StructureCache:
    """Bounded LRU: technical id → (row id, hash of what this import last wrote). Big
    establishments come back on thousands of lines; an unchanged one is not rewritten."""

    def __init__(self, size: int = 20000) -> None:
        self.size = size
        self.items: OrderedDict[str, tuple[int, int]] = OrderedDict()

    def get(self, key: str) -> tuple[int, int] | None:
        item = self.items.get(key)
        if item is not None:
            self.items.move_to_end(key)
        return item

    def put(self, key: str, value: tuple[int, int]) -> None:
        self.items[key] = value
        self.items.move_to_end(key)
        while len(self.items) > self.size:
            self.items.popitem(last=False)


def _upsert(conn: Connection, table: sa.Table, rows: list[dict[str, Any]], key: str,
            update: Iterable[str]) -> dict[str, int]:
    """Bulk INSERT … ON CONFLICT (key) DO UPDATE; returns key → id for every row."""
    if not rows:
        return {}
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    stmt = insert(table)
    stmt = stmt.on_conflict_do_update(
        index_elements=[table.c[key]], set_={name: stmt.excluded[name] for name in update})
    # executemany of one statement, then the ids: with RETURNING, SQLAlchemy would build a
    # multi-row VALUES text per batch size, and SQLite would keep up to 128 of these large
    # prepared statements (measured: the process grew by ~1.5 MB per 1,000 lines).
    conn.execute(stmt, rows)
    return {row[1]: row[0] for row in _select_in(conn, [table.c.id, table.c[key]],
                                                 table.c[key], [r[key] for r in rows])}


def _chunks(items: list[Any], size: int = 900) -> Iterable[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _select_in(conn: Connection, columns: list[Any], column: Any, values: list[Any]
               ) -> list[Any]:
    rows: list[Any] = []
    for chunk in _chunks(values):
        rows.extend(conn.execute(sa.select(*columns).where(column.in_(chunk))))
    return rows


def write_batch(conn: Connection, lines: list[Line], *, fmt: str, import_id: int,
                structures: StructureCache, changes: Changes, with_expertise: bool = True
                ) -> dict[str, str]:
    """Write the accepted ``lines`` of one batch; returns national id → reason for the people
    refused at this stage (held by a non-import source). ``with_expertise`` False: the lines
    carry no savoir-faire (2025 layout), which a separate file sets (``apply_expertise``)."""
    if not lines:
        return {}
    civil = fmt == "psc"
    people: dict[str, dict[str, Any]] = {}
    for line in lines:
        people[line.national_id] = line.person  # same person on every line: last one wins
    existing = {row.national_id: row for row in _select_in(
        conn, [PROF.c.id, PROF.c.national_id, PROF.c.source, PROF.c.ended_on,
               *(PROF.c[f] for f in PERSON_FIELDS + CIVIL_FIELDS)],
        PROF.c.national_id, list(people))}
    refused = {nid: "identifiant déjà présent dans l'annuaire hors import (démo, RPPS+ ou "
                    f"API, source « {row.source or 'démo'} ») : ligne ignorée"
               for nid, row in existing.items() if row.source not in IMPORT_SOURCES}
    fields = PERSON_FIELDS + (CIVIL_FIELDS if civil else ())
    person_rows = []
    for nid, person in people.items():
        if nid in refused:
            continue
        old = existing.get(nid)
        if old is None:
            changes.add("professionals", inserted=1)
        elif old.ended_on is not None or any(getattr(old, f) != person[f] for f in fields):
            changes.add("professionals", updated=1)
        person_rows.append({"national_id": nid, **{f: person[f] for f in fields},
                            "source": fmt, "last_import_id": import_id, "ended_on": None})
    person_ids = _upsert(conn, PROF, person_rows, "national_id",
                         (*fields, "source", "last_import_id", "ended_on"))
    kept = [line for line in lines if line.national_id in person_ids]
    structure_ids = _write_structures(conn, kept, import_id, structures, changes)
    _write_other_ids(conn, kept, person_ids, changes)
    practice_ids = _write_practices(conn, kept, person_ids, changes, with_expertise)
    _write_activities(conn, kept, person_ids, practice_ids, structure_ids, import_id, changes)
    return refused


def _write_structures(conn: Connection, lines: list[Line], import_id: int,
                      cache: StructureCache, changes: Changes) -> dict[str, int]:
    wanted: dict[str, dict[str, Any]] = {}
    for line in lines:
        if line.structure is not None:
            row = dict(zip(STRUCTURE_COLUMNS, (line.structure[f] for f in STRUCTURE_FIELDS),
                           strict=True))
            wanted[row["technical_id"]] = row
    ids: dict[str, int] = {}
    todo: dict[str, tuple[dict[str, Any], int]] = {}
    for tid, row in wanted.items():
        digest = hash(tuple(row.values()))  # in-process cache only: hash() is enough
        cached = cache.get(tid)
        if cached is not None and cached[1] == digest:
            ids[tid] = cached[0]
        else:
            todo[tid] = (row, digest)
    if not todo:
        return ids
    columns = [STRUCT.c[c] for c in STRUCTURE_COLUMNS]
    existing = {row.technical_id: row for row in _select_in(
        conn, columns, STRUCT.c.technical_id, list(todo))}
    for tid, (row, _) in todo.items():
        old = existing.get(tid)
        if old is None:
            changes.add("structures", inserted=1)
        elif any(getattr(old, c) != row[c] for c in STRUCTURE_COLUMNS):
            changes.add("structures", updated=1)
    rows = [{**row, "last_import_id": import_id} for row, _ in todo.values()]
    written = _upsert(conn, STRUCT, rows, "technical_id",
                      (*STRUCTURE_COLUMNS[1:], "last_import_id"))
    for tid, (_, digest) in todo.items():
        cache.put(tid, (written[tid], digest))
    ids.update(written)
    return ids


def _write_other_ids(conn: Connection, lines: list[Line], person_ids: dict[str, int],
                     changes: Changes) -> None:
    wanted = {(person_ids[line.national_id], origin, ident): quality
              for line in lines for ident, origin, quality in line.other_ids}
    if not wanted:
        return
    pids = sorted({key[0] for key in wanted})
    have = {(r.professional_id, r.origin, r.identifier): r.quality for r in _select_in(
        conn, [OTHER.c.professional_id, OTHER.c.origin, OTHER.c.identifier, OTHER.c.quality],
        OTHER.c.professional_id, pids)}
    new = [{"professional_id": k[0], "origin": k[1], "identifier": k[2], "quality": q}
           for k, q in wanted.items() if k not in have]
    changed = [{"b_pid": k[0], "b_origin": k[1], "b_ident": k[2], "quality": q}
               for k, q in wanted.items() if k in have and have[k] != q]
    if new:
        conn.execute(sa.insert(OTHER), new)
        changes.add("other_ids", inserted=len(new))
    if changed:
        conn.execute(sa.update(OTHER).where(
            OTHER.c.professional_id == sa.bindparam("b_pid"),
            OTHER.c.origin == sa.bindparam("b_origin"),
            OTHER.c.identifier == sa.bindparam("b_ident")), changed)
        changes.add("other_ids", updated=len(changed))


def _write_practices(conn: Connection, lines: list[Line], person_ids: dict[str, int],
                     changes: Changes, with_expertise: bool) -> dict[tuple[int, str], int]:
    """One practice per person and profession; its savoir-faire is the best-ranked one of the
    person's lines (``expertise_rank``)."""
    fields = PRACTICE_FIELDS if with_expertise else PRACTICE_FIELDS[:4]
    wanted: dict[tuple[int, str], dict[str, str]] = {}
    best: dict[tuple[int, str], tuple[str, str]] = {}
    for line in lines:
        if line.practice is None:
            continue
        key = (person_ids[line.national_id], line.practice["profession_code"])
        wanted[key] = {f: line.practice[f] for f in fields}
        found = (line.practice["expertise_type_code"], line.practice["expertise_code"])
        if key not in best or expertise_rank(*found) < expertise_rank(*best[key]):
            best[key] = found
    if with_expertise:
        for key, (kind, code) in best.items():
            wanted[key].update(expertise_type_code=kind, expertise_code=code)
    if not wanted:
        return {}
    pids = sorted({key[0] for key in wanted})
    have: dict[tuple[int, str], Any] = {}
    for row in sorted(_select_in(conn, [PRACTICE.c.id, PRACTICE.c.professional_id,
                                        PRACTICE.c.profession_code,
                                        *(PRACTICE.c[f] for f in fields)],
                                 PRACTICE.c.professional_id, pids), key=lambda r: r.id):
        have.setdefault((row.professional_id, row.profession_code), row)
    new, changed = [], []
    for key, row in wanted.items():
        old = have.get(key)
        if old is None:
            new.append({"professional_id": key[0], "profession_code": key[1], **row})
        elif any(getattr(old, f) != row[f] for f in fields):
            changed.append({"b_id": old.id, **row})
    ids = {key: have[key].id for key in wanted if key in have}
    if new:
        conn.execute(sa.insert(PRACTICE), new)
        added = {(r["professional_id"], r["profession_code"]) for r in new}
        for row in sorted(_select_in(conn, [PRACTICE.c.id, PRACTICE.c.professional_id,
                                            PRACTICE.c.profession_code],
                                     PRACTICE.c.professional_id,
                                     sorted({k[0] for k in added})), key=lambda r: r.id):
            key = (row.professional_id, row.profession_code)
            if key in added:
                ids.setdefault(key, row.id)
        changes.add("practices", inserted=len(new))
    if changed:
        conn.execute(sa.update(PRACTICE).where(PRACTICE.c.id == sa.bindparam("b_id")),
                     changed)
        changes.add("practices", updated=len(changed))
    return ids


def _write_activities(conn: Connection, lines: list[Line], person_ids: dict[str, int],
                      practice_ids: dict[tuple[int, str], int], structure_ids: dict[str, int],
                      import_id: int, changes: Changes) -> None:
    wanted: dict[str, dict[str, Any]] = {}
    for line in lines:
        if line.activity is None or line.practice is None or line.structure is None:
            continue
        profession = line.practice["profession_code"]
        tid = line.structure["technical_id"]
        key = source_key(line.national_id, profession, tid, line.activity)
        wanted[key] = {"practice_id": practice_ids[(person_ids[line.national_id], profession)],
                       "structure_id": structure_ids[tid], **line.activity}
    if not wanted:
        return
    content = ("practice_id", "structure_id", *ACTIVITY_FIELDS)
    have = {row.source_key: row for row in _select_in(
        conn, [ACTIVITY.c.id, ACTIVITY.c.source_key, ACTIVITY.c.ended_on,
               *(ACTIVITY.c[f] for f in content)], ACTIVITY.c.source_key, list(wanted))}
    new, known = [], []
    for key, row in wanted.items():
        old = have.get(key)
        if old is None:
            new.append({**row, "source_key": key, "last_import_id": import_id})
            continue
        if old.ended_on is not None or any(getattr(old, f) != row[f] for f in content):
            changes.add("situations", updated=1)
        known.append({"b_id": old.id, **row, "ended_on": None, "last_import_id": import_id})
    if new:
        conn.execute(sa.insert(ACTIVITY), new)
        changes.add("situations", inserted=len(new))
    if known:
        conn.execute(sa.update(ACTIVITY).where(ACTIVITY.c.id == sa.bindparam("b_id")), known)


def apply_expertise(conn: Connection, fmt: str, best: dict[tuple[str, str], tuple[str, str]],
                    changes: Changes) -> None:
    """Savoir-faire from a separate file (2025 layout): set each (person, profession)'s
    best-ranked savoir-faire on the practice an import created."""
    if not best:
        return
    nids = sorted({nid for nid, _ in best})
    pid_by_nid = {r.national_id: r.id for r in _select_in(
        conn, [PROF.c.id, PROF.c.national_id, PROF.c.source], PROF.c.national_id, nids)
        if r.source == fmt}
    if not pid_by_nid:
        return
    have = {}
    for row in sorted(_select_in(conn, [PRACTICE.c.id, PRACTICE.c.professional_id,
                                        PRACTICE.c.profession_code,
                                        PRACTICE.c.expertise_type_code,
                                        PRACTICE.c.expertise_code],
                                 PRACTICE.c.professional_id, sorted(pid_by_nid.values())),
                      key=lambda r: r.id):
        have.setdefault((row.professional_id, row.profession_code), row)
    updates = []
    for (nid, prof), (kind, code) in best.items():
        row = have.get((pid_by_nid.get(nid, -1), prof))
        if row is not None and (row.expertise_type_code, row.expertise_code) != (kind, code):
            updates.append({"b_id": row.id, "expertise_type_code": kind,
                            "expertise_code": code})
    if updates:
        conn.execute(sa.update(PRACTICE).where(PRACTICE.c.id == sa.bindparam("b_id")), updates)
        changes.add("practices", updated=len(updates))
