"""IdP session rows. The browser holds a random cookie; only its SHA-256 is stored."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ..db import db, utcnow


class IdpSession(db.Model):
    __tablename__ = "idp_session"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    """The ``sid`` and ``session_state`` of every token issued in this session."""
    cookie_digest: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    professional_id: Mapped[int] = mapped_column(ForeignKey("professional.id"), index=True)
    auth_time: Mapped[int] = mapped_column(Integer)
    acr: Mapped[str] = mapped_column(String(20))
    amr: Mapped[list[str]] = mapped_column(JSON, default=list)
    auth_mode: Mapped[str] = mapped_column(String(20))
    authenticator: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    ended_reason: Mapped[str] = mapped_column(String(40), default="")


class SessionClient(db.Model):
    """A relying party served within an IdP session (for logout fan-out and the session list)."""

    __tablename__ = "idp_session_client"

    session_id: Mapped[str] = mapped_column(ForeignKey("idp_session.id"), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    first_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class LogoutDelivery(db.Model):
    """One back-channel logout token to deliver to one RP (Back-Channel Logout 1.0 §2.7).

    Kept in the database so that any instance can deliver or retry it, and so every outcome is
    on record. ``claimed_until`` lets one worker at a time try a row without a queue server.
    """

    __tablename__ = "logout_delivery"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    session_id: Mapped[str] = mapped_column(String(36), index=True)
    client_id: Mapped[str] = mapped_column(String(200))
    uri: Mapped[str] = mapped_column(String(500))
    subject: Mapped[str] = mapped_column(String(200))
    """The ``sub`` the RP knows (the same as in its ID tokens)."""
    status: Mapped[str] = mapped_column(String(12), default="pending", index=True)
    """pending, delivered, failed."""
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    claimed_until: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    last_error: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
