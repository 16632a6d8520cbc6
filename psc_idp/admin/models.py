"""Credentials of the admin API: a key shown once at creation, stored as a SHA-256 digest (the
key is 256 random bits: a slow hash adds nothing), revocable."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ..db import db, utcnow


class AdminApiKey(db.Model):
    """``Authorization: Bearer <key_id>.<secret>`` on ``/api/admin/directory/…``."""

    __tablename__ = "admin_api_key"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key_id: Mapped[str] = mapped_column(String(32), unique=True)
    secret_sha256: Mapped[str] = mapped_column(String(64))
    label: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
