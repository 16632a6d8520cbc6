"""The record of each import: progress committed with each batch, so a killed import resumes
where its last batch ended, and the rejected lines with their number and reason."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ...db import db, utcnow


class DirectoryImport(db.Model):
    """One run of ``directory import`` over one file (keyed by its SHA-256 and format)."""

    __tablename__ = "directory_import"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    format: Mapped[str] = mapped_column(String(20))
    """``libreacces`` or ``psc``."""
    file_name: Mapped[str] = mapped_column(String(300))
    file_sha256: Mapped[str] = mapped_column(String(64), index=True)
    file_size: Mapped[int] = mapped_column(BigInteger, default=0)
    status: Mapped[str] = mapped_column(String(20), default="running")
    """``running`` (or killed: resumable), ``done``, ``failed``."""
    lines_done: Mapped[int] = mapped_column(Integer, default=0)
    """Data lines committed so far (header excluded)."""
    byte_offset: Mapped[int] = mapped_column(BigInteger, default=0)
    """Where the next uncommitted line starts in the file."""
    accepted: Mapped[int] = mapped_column(Integer, default=0)
    rejected: Mapped[int] = mapped_column(Integer, default=0)
    ended: Mapped[int] = mapped_column(Integer, default=0)
    """People absent from this file who were ended at its completion."""
    started_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class DirectoryImportRejection(db.Model):
    """A line the import refused, with its number in the file and the reason (in French)."""

    __tablename__ = "directory_import_rejection"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    import_id: Mapped[int] = mapped_column(ForeignKey("directory_import.id"), index=True)
    line_number: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(500))
