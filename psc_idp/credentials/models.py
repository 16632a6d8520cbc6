"""e-CPS state: activations, devices, login challenges, and the outbox of one-time codes.

Nothing secret is stored in clear: activation codes and PINs as keyed hashes (HMAC-SHA-256
under ``keys_dir/at-rest.key``, ``hashing.py``: they have too few values for an unkeyed hash),
device and completion tokens as SHA-256 digests (random, 256 bits), OTP seeds encrypted with a
key derived from the provider's secret (they must be read back to check a TOTP code); outside
demo/test the outbox keeps its messages with the code masked.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..db import db, utcnow


class EcpsActivation(db.Model):
    """One activation attempt: codes sent to the contact data on record, then a device."""

    __tablename__ = "ecps_activation"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    professional_id: Mapped[int] = mapped_column(ForeignKey("professional.id"), index=True)
    method: Mapped[str] = mapped_column(String(20))
    """contact (e-mail + SMS codes) or card (CPx signature; with the card issue)."""
    email_code_digest: Mapped[str] = mapped_column(String(64), default="")
    sms_code_digest: Mapped[str] = mapped_column(String(64), default="")
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0)
    state: Mapped[str] = mapped_column(String(20), default="pending")
    """pending → verified → completed; or failed (too many wrong codes) / expired."""
    completion_digest: Mapped[str] = mapped_column(String(64), default="")
    """Digest of the token that lets the verified phone register its device."""
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime)


class EcpsDevice(db.Model):
    """An activated e-CPS on one phone. A professional may have several."""

    __tablename__ = "ecps_device"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    professional_id: Mapped[int] = mapped_column(ForeignKey("professional.id"), index=True)
    name: Mapped[str] = mapped_column(String(100), default="")
    public_key_pem: Mapped[str] = mapped_column(Text)
    """The phone's P-256 key: it signs every approval."""
    token_digest: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    """Digest of the bearer token the app uses on the mobile API."""
    pin_hash: Mapped[str] = mapped_column(String(200))
    pin_failures: Mapped[int] = mapped_column(Integer, default=0)
    otp_secret_encrypted: Mapped[str] = mapped_column(Text)
    last_otp_step: Mapped[int] = mapped_column(Integer, default=0)
    """Time step of the last accepted TOTP code: a code is accepted once (replay refused)."""
    otp_failures: Mapped[int] = mapped_column(Integer, default=0)
    activated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    usable_from: Mapped[datetime] = mapped_column(DateTime)
    """activated_at + the activation delay (48 h by default, 0 in demo/test mode)."""
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    """3 years after activation (renewable)."""
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    blocked_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    """Set after too many wrong PINs; only a new activation unblocks."""
    push_webhook: Mapped[str] = mapped_column(String(500), default="")


class EcpsChallenge(db.Model):
    """A login waiting for the professional's approval on a phone (browser push or CIBA)."""

    __tablename__ = "ecps_challenge"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    professional_id: Mapped[int] = mapped_column(ForeignKey("professional.id"), index=True)
    client_id: Mapped[str] = mapped_column(String(200))
    service_name: Mapped[str] = mapped_column(String(200))
    binding_code: Mapped[str] = mapped_column(String(10))
    origin: Mapped[str] = mapped_column(String(10))
    """browser or ciba."""
    status: Mapped[str] = mapped_column(String(20), default="pending")
    """pending → approved | denied | expired."""
    device_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    answered_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    """Origin-specific data (CIBA scope, polling state)."""


class OutboxMessage(db.Model):
    """An e-mail or SMS the provider sent (one-time codes). Pluggable senders deliver it too."""

    __tablename__ = "outbox_message"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(10))
    """email or sms."""
    recipient: Mapped[str] = mapped_column(String(200), index=True)
    subject: Mapped[str] = mapped_column(String(200), default="")
    body: Mapped[str] = mapped_column(Text)
    national_id: Mapped[str] = mapped_column(String(64), default="", index=True)
    """Up to 64 characters as ``professional.national_id`` (staff: ``5``+SIRET/…)."""
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    delivered: Mapped[bool] = mapped_column(Boolean, default=True)


class AttemptBudget(db.Model):
    """A keyed budget of attempts (``attempts.take``): anonymous one-time codes per login and
    per professional. Rows are small and short-lived: a success deletes its row, and a row
    whose window ended long ago is deleted when a new budget opens."""

    __tablename__ = "attempt_budget"

    key: Mapped[str] = mapped_column(String(120), primary_key=True)
    used: Mapped[int] = mapped_column(Integer, default=0)
    """Attempts taken in the current window."""
    rounds: Mapped[int] = mapped_column(Integer, default=0)
    """Windows opened since the budget started: each is twice as long as the previous."""
    window_ends: Mapped[datetime] = mapped_column(DateTime, index=True)


class Card(db.Model):
    """A CPx card (CPS, CPF, CPE, CPA, CDE) as its issuer knows it.

    The PIN and PUK and their try counters are on the chip (the virtual card's folder, read by
    ``card-reader``), never here: as on PSC, the provider only ever sees the card's
    certificate in the TLS handshake. See docs/cards.md."""

    __tablename__ = "card"

    serial: Mapped[str] = mapped_column(String(20), primary_key=True)
    """The card number printed on the card (10 digits)."""
    card_type: Mapped[str] = mapped_column(String(3))
    """CPS, CPF, CPE, CPA or CDE."""
    professional_id: Mapped[int] = mapped_column(ForeignKey("professional.id"), index=True)
    national_id: Mapped[str] = mapped_column(String(64), index=True)
    """The holder's national id as on the card's first line (staff: ``3…/CPET…``)."""
    structure_technical_id: Mapped[str] = mapped_column(String(40), default="")
    """The structure a CPE/CPA/CDE card belongs to (empty for CPS/CPF)."""
    status: Mapped[str] = mapped_column(String(16), default="active")
    """active, revoked (lost or stolen), replaced (renewed or replaced by ``replaced_by``);
    expiry is read from ``not_after``."""
    not_before: Mapped[datetime] = mapped_column(DateTime)
    not_after: Mapped[datetime] = mapped_column(DateTime)
    auth_cert_serial: Mapped[str] = mapped_column(String(40), default="")
    sign_cert_serial: Mapped[str] = mapped_column(String(40), default="")
    folder: Mapped[str] = mapped_column(String(500), default="")
    """Where ``card issue`` wrote the virtual card (renewal reuses its chip, hence its codes)."""
    replaced_by: Mapped[str] = mapped_column(String(20), default="")
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
