"""One import run: claim the import lock, stream the file in batches, end the absent people.

- Constant memory: the file is read line by line; a batch (``batch_size`` lines, cut between
  two persons) is written and forgotten. Only a bounded structure cache lives longer.
- Kill-safe: each batch commits together with the import record's progress (``lines_done``,
  ``byte_offset``). A rerun of the same file (same SHA-256 and format) resumes at
  ``byte_offset``; every write is an upsert, so what a killed batch may have half-done is
  rolled back by the database and redone.
- One import at a time: the claim is one transaction that first takes a database lock
  (PostgreSQL: an advisory transaction lock; SQLite: the write lock, by writing first), then
  refuses when another import's record is alive (its ``updated_at`` refreshed by a heartbeat
  less than ``lease`` seconds ago).
- The end: people of this format whom a *complete* import did not see are ended
  (``Professional.ended_on`` = today; their situations end yesterday, the last day they were
  in the directory), in the same transaction that marks the import done.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import IO, Any

import sqlalchemy as sa

from ...db import db, utcnow
from ..models import Activity, Practice, Professional
from .formats import (
    FormatError,
    Layout,
    Line,
    Rejected,
    expertise_rank,
    parse_expertise,
    parse_line,
    read_expertise_layout,
    read_layout,
    split,
)
from .models import DirectoryImport, DirectoryImportRejection
from .writer import Changes, StructureCache, apply_expertise, write_batch

IMPORT = DirectoryImport.__table__
REJECTION = DirectoryImportRejection.__table__
DEFAULT_BATCH = 2000
DEFAULT_LEASE = 30.0
_PG_LOCK_KEY = 1_446_014_014
"""Advisory lock key of the import claim (PostgreSQL): any constant shared by all processes."""


class ImportRefused(Exception):
    """The import cannot start (another one runs, unreadable file…); French message."""


@dataclass
class Report:
    """What an import did; ``as_json`` is the ``--json`` output."""

    import_id: int
    format: str
    file: str
    status: str = "running"
    resumed_from_line: int = 0
    already_imported_as: int | None = None
    lines: int = 0
    accepted: int = 0
    rejected: int = 0
    ended: int = 0
    changes: Changes = field(default_factory=Changes)
    rejections: list[tuple[int, str]] = field(default_factory=list)
    """The first ``MAX_LISTED`` rejections (all are in ``directory_import_rejection``)."""

    def as_json(self) -> dict[str, Any]:
        return {
            "import_id": self.import_id, "format": self.format, "file": self.file,
            "status": self.status, "resumed_from_line": self.resumed_from_line,
            "already_imported_as": self.already_imported_as, "lines": self.lines,
            "accepted": self.accepted, "rejected": self.rejected, "ended": self.ended,
            "changes": self.changes.total, "changes_by_table": self.changes.counts,
            "rejections": [{"line": n, "reason": r} for n, r in self.rejections],
        }


MAX_LISTED = 1000


def file_digest(paths: list[Path]) -> str:
    """SHA-256 of the file, or of the two files' digests when a savoir-faire file comes with
    it (so a resumed import is the same pair)."""
    digests = []
    for path in paths:
        h = hashlib.sha256()
        with path.open("rb") as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)
        digests.append(h.hexdigest())
    if len(digests) == 1:
        return digests[0]
    return hashlib.sha256("".join(digests).encode()).hexdigest()


def _decode(raw: bytes, encoding: str | None) -> str:
    """Real files are UTF-8; older ones Latin-1/cp1252. Without ``--encoding`` each line is
    read as UTF-8, else as cp1252 (a cp1252 line is never valid UTF-8 in practice)."""
    if encoding:
        return raw.decode(encoding)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")


class Heartbeat(threading.Thread):
    """Refreshes the record's ``updated_at`` while the import lives: a killed import stops
    beating, and its lease runs out."""

    def __init__(self, engine: sa.Engine, import_id: int, every: float) -> None:
        super().__init__(daemon=True, name=f"import-{import_id}-heartbeat")
        self.engine, self.import_id, self.every = engine, import_id, every
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(self.every):
            try:
                with self.engine.begin() as conn:
                    conn.execute(sa.update(IMPORT).where(
                        IMPORT.c.id == self.import_id, IMPORT.c.status == "running"
                    ).values(updated_at=utcnow()))
            except sa.exc.OperationalError:
                continue  # the batch holds SQLite's write lock: it refreshes the row itself

    def stop(self) -> None:
        self.stopped.set()
        self.join(timeout=10)


def _claim(fmt: str, file_name: str, sha: str, size: int, lease: float, force: bool
           ) -> tuple[int, int, int, int | None]:
    """Take the import lock: (import id, lines done, byte offset, already-imported id)."""
    from ...audit import record

    db.session.rollback()
    conn = db.session.connection()
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
    else:  # a write first: SQLite takes its write lock now, so the checks below are serial
        conn.execute(sa.update(IMPORT).where(IMPORT.c.id == -1).values(status="running"))
    now = utcnow()
    alive = conn.execute(sa.select(IMPORT.c.id, IMPORT.c.file_name, IMPORT.c.updated_at).where(
        IMPORT.c.status == "running",
        IMPORT.c.updated_at > now - timedelta(seconds=lease))).first()
    if alive is not None:
        db.session.rollback()
        wait = lease - (now - alive.updated_at).total_seconds()
        raise ImportRefused(
            f"un import est déjà en cours (n° {alive.id}, {alive.file_name}) ; un seul à la "
            f"fois. S'il a été interrompu, il pourra être repris dans {max(wait, 0):.0f} s")
    same = sa.and_(IMPORT.c.file_sha256 == sha, IMPORT.c.format == fmt)
    unfinished = conn.execute(sa.select(IMPORT.c.id, IMPORT.c.lines_done, IMPORT.c.byte_offset)
                              .where(same, IMPORT.c.status.in_(("running", "failed")))
                              .order_by(IMPORT.c.id.desc())).first()
    done = conn.execute(sa.select(IMPORT.c.id).where(same, IMPORT.c.status == "done")
                        .order_by(IMPORT.c.id.desc())).scalar()
    base = {"format": fmt, "file_name": file_name[-300:], "file_sha256": sha,
            "file_size": size, "started_at": now, "updated_at": now}
    if unfinished is not None:
        conn.execute(sa.update(IMPORT).where(IMPORT.c.id == unfinished.id)
                     .values(status="running", updated_at=now))
        import_id, lines_done, offset = unfinished
        record("directory.import_started", import_id=import_id, format=fmt, file=file_name,
               resumed_from_line=lines_done)
        db.session.commit()
        return import_id, lines_done, offset, None
    if done is not None and not force:
        import_id = conn.execute(sa.insert(IMPORT).values(
            **base, status="skipped", finished_at=now).returning(IMPORT.c.id)).scalar_one()
        record("directory.import_finished", import_id=import_id, format=fmt, file=file_name,
               status="skipped", already_imported_as=done)
        db.session.commit()
        return import_id, 0, 0, done
    import_id = conn.execute(sa.insert(IMPORT).values(**base, status="running")
                             .returning(IMPORT.c.id)).scalar_one()
    record("directory.import_started", import_id=import_id, format=fmt, file=file_name,
           sha256=sha)
    db.session.commit()
    return import_id, 0, 0, None


@dataclass
class _Batch:
    lines: list[tuple[int, Line]] = field(default_factory=list)
    rejects: list[tuple[int, str]] = field(default_factory=list)
    count: int = 0
    best: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)


def run_import(path: Path, *, fmt: str | None = None, savoir_faire: Path | None = None,
               encoding: str | None = None, batch_size: int = DEFAULT_BATCH,
               lease: float = DEFAULT_LEASE, force: bool = False, pause: float = 0.0,
               progress: Callable[[int], None] | None = None) -> Report:
    """Import ``path`` (inside an app context). ``progress(n)``: n more bytes were done."""
    with path.open("rb") as f:
        header = f.readline()
    try:
        layout = read_layout(_decode(header, encoding), fmt)
    except FormatError as exc:
        raise ImportRefused(f"{path.name} : {exc}") from None
    if savoir_faire is not None and layout.has_expertise:
        raise ImportRefused("ce fichier porte déjà les savoir-faire (format antérieur à 2025) : "
                            "--savoir-faire ne s'emploie qu'avec le format 2025")
    paths = [path] + ([savoir_faire] if savoir_faire else [])
    sha = file_digest(paths)
    main_size = path.stat().st_size
    total = main_size + (savoir_faire.stat().st_size if savoir_faire else 0)
    import_id, lines_done, offset, done = _claim(layout.format, str(path), sha, total, lease,
                                                 force)
    report = Report(import_id=import_id, format=layout.format, file=str(path),
                    resumed_from_line=lines_done, already_imported_as=done)
    if done is not None:
        report.status = "skipped"
        return report
    counts = db.session.execute(sa.select(IMPORT.c.accepted, IMPORT.c.rejected)
                                .where(IMPORT.c.id == import_id)).one()
    report.accepted, report.rejected, report.lines = counts.accepted, counts.rejected, lines_done
    beat = Heartbeat(db.engine, import_id, every=max(lease / 3, 0.2))
    beat.start()
    try:
        if progress and offset:
            progress(offset)
        if offset < main_size:
            offset = _stream_main(path, layout, report, max(offset, len(header)), encoding,
                                  batch_size, pause, progress)
        if savoir_faire is not None:
            _stream_expertise(savoir_faire, layout.format, report, main_size, offset,
                              encoding, batch_size, pause, progress)
        _finish(report)
    except BaseException:
        db.session.rollback()
        db.session.execute(sa.update(IMPORT).where(IMPORT.c.id == import_id)
                           .values(status="failed", updated_at=utcnow()))
        db.session.commit()
        raise
    finally:
        beat.stop()
    return report


def _commit_batch(report: Report, batch: _Batch, *, fmt: str, offset: int,
                  structures: StructureCache, with_expertise: bool, pause: float) -> None:
    """Write one batch and the progress that goes with it, in one transaction."""
    conn = db.session.connection()
    rejects = list(batch.rejects)
    if batch.lines:
        refused = write_batch(conn, [line for _, line in batch.lines], fmt=fmt,
                              import_id=report.import_id, structures=structures,
                              changes=report.changes, with_expertise=with_expertise)
        rejects += [(n, refused[line.national_id]) for n, line in batch.lines
                    if line.national_id in refused]
    if batch.best:
        apply_expertise(conn, fmt, batch.best, report.changes)
    if rejects:
        rejects.sort()
        conn.execute(sa.insert(REJECTION), [
            {"import_id": report.import_id, "line_number": n, "reason": r[:500]}
            for n, r in rejects])
        room = MAX_LISTED - len(report.rejections)
        report.rejections.extend(rejects[:max(room, 0)])
    report.lines += batch.count
    report.rejected += len(rejects)
    report.accepted += batch.count - len(rejects)
    conn.execute(sa.update(IMPORT).where(IMPORT.c.id == report.import_id).values(
        lines_done=report.lines, byte_offset=offset, accepted=report.accepted,
        rejected=report.rejected, updated_at=utcnow()))
    db.session.commit()
    if pause:
        time.sleep(pause)  # tests: leaves time to kill the process between two batches


def _field(text: str, at: int) -> str:
    """The field at ``at`` of a line, "" when the line is shorter (rejected later, or blank):
    both passes cut their batches where the national id changes."""
    fields = split(text)
    return fields[at].strip() if len(fields) > at else ""


def _lines(f: IO[bytes], offset: int):  # noqa: ANN202 - a plain generator
    """(offset after the line, raw line) from ``offset`` on."""
    f.seek(offset)
    for raw in f:
        offset += len(raw)
        yield offset, raw


def _stream_main(path: Path, layout: Layout, report: Report, offset: int,
                 encoding: str | None, batch_size: int, pause: float,
                 progress: Callable[[int], None] | None) -> int:
    structures = StructureCache()
    nid_at = layout.positions["national_id"]
    batch, start, last_nid = _Batch(), offset, None
    line_no = report.lines + 1  # the header is line 1
    with path.open("rb") as f:
        for end, raw in _lines(f, offset):
            text = _decode(raw, encoding)
            nid = _field(text, nid_at)
            if batch.count >= batch_size and (nid != last_nid or batch.count >= 10 * batch_size):
                _commit_batch(report, batch, fmt=layout.format, offset=start,
                              structures=structures, with_expertise=layout.has_expertise,
                              pause=pause)
                if progress:
                    progress(start - offset)
                offset, batch = start, _Batch()
            line_no += 1
            batch.count += 1
            start, last_nid = end, nid
            if not text.strip():
                batch.rejects.append((line_no, "ligne vide"))
                continue
            try:
                batch.lines.append((line_no, parse_line(layout, text)))
            except Rejected as exc:
                batch.rejects.append((line_no, str(exc)))
        _commit_batch(report, batch, fmt=layout.format, offset=start, structures=structures,
                      with_expertise=layout.has_expertise, pause=0)
        if progress:
            progress(start - offset)
    return start


def _stream_expertise(path: Path, fmt: str, report: Report, main_size: int, offset: int,
                      encoding: str | None, batch_size: int, pause: float,
                      progress: Callable[[int], None] | None) -> None:
    """Second pass, 2025 layout: savoir-faire lines grouped by person. Progress goes on in the
    same ``byte_offset``, counted from the end of the main file."""
    with path.open("rb") as f:
        header = f.readline()
        try:
            layout = read_expertise_layout(_decode(header, encoding))
        except FormatError as exc:
            raise ImportRefused(f"{path.name} : {exc}") from None
        local = max(offset - main_size, len(header))
        batch, start, last_nid = _Batch(), local, None
        line_no = _expertise_line_no(path, local)
        nid_at = layout.positions["national_id"]
        for end, raw in _lines(f, local):
            text = _decode(raw, encoding)
            nid = _field(text, nid_at)
            if batch.count >= batch_size and nid != last_nid:
                _commit_batch(report, batch, fmt=fmt, offset=main_size + start,
                              structures=StructureCache(0), with_expertise=True, pause=pause)
                if progress:
                    progress(start - local)
                local, batch = start, _Batch()
            line_no += 1
            batch.count += 1
            start, last_nid = end, nid
            if not text.strip():
                continue
            try:
                nid, prof, kind, code = parse_expertise(layout, text)
            except Rejected as exc:
                batch.rejects.append((line_no, str(exc)))
                continue
            best = batch.best.get((nid, prof))
            if best is None or expertise_rank(kind, code) < expertise_rank(*best):
                batch.best[(nid, prof)] = (kind, code)
        _commit_batch(report, batch, fmt=fmt, offset=main_size + start,
                      structures=StructureCache(0), with_expertise=True, pause=0)
        if progress:
            progress(start - local)


def _expertise_line_no(path: Path, offset: int) -> int:
    """Line number (header = 1) of the last line before ``offset`` in the savoir-faire file."""
    count = 0
    with path.open("rb") as f:
        remaining = offset
        while remaining > 0:
            chunk = f.read(min(remaining, 1 << 20))
            if not chunk:
                break
            count += chunk.count(b"\n")
            remaining -= len(chunk)
    return count


def _finish(report: Report) -> None:
    """Mark the import done and end the people (and situations) it did not see."""
    from ...audit import record

    conn = db.session.connection()
    today = date.today()
    prof, practice, activity = (Professional.__table__, Practice.__table__,
                                Activity.__table__)
    not_seen = sa.or_(prof.c.last_import_id.is_(None),
                      prof.c.last_import_id != report.import_id)
    # A file without one accepted line (empty, truncated to its header, all refused) is not
    # a directory where everyone left: nobody is ended then.
    anyone = sa.true() if report.accepted > 0 else sa.false()
    ended = conn.execute(sa.update(prof).where(
        prof.c.source == report.format, prof.c.ended_on.is_(None), not_seen, anyone
    ).values(ended_on=today)).rowcount
    of_format = sa.select(practice.c.id).join(prof, prof.c.id == practice.c.professional_id) \
        .where(prof.c.source == report.format)
    situations = conn.execute(sa.update(activity).where(
        activity.c.ended_on.is_(None), activity.c.source_key.is_not(None),
        sa.or_(activity.c.last_import_id.is_(None),
               activity.c.last_import_id != report.import_id),
        activity.c.practice_id.in_(of_format), anyone
    ).values(ended_on=today - timedelta(days=1))).rowcount
    report.ended, report.status = ended, "done"
    conn.execute(sa.update(IMPORT).where(IMPORT.c.id == report.import_id).values(
        status="done", ended=ended, finished_at=utcnow(), updated_at=utcnow()))
    record("directory.import_finished", import_id=report.import_id, format=report.format,
           file=report.file, status="done", lines=report.lines, accepted=report.accepted,
           rejected=report.rejected, ended=ended, situations_ended=situations,
           changes=report.changes.total, resumed_from_line=report.resumed_from_line)
    db.session.commit()


def lease_from_env() -> float:
    """``PSC_IMPORT_LEASE_SECONDS`` (tests shorten it); 30 s otherwise."""
    try:
        return float(os.environ.get("PSC_IMPORT_LEASE_SECONDS", DEFAULT_LEASE))
    except ValueError:
        return DEFAULT_LEASE
