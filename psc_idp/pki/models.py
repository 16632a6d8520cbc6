"""Every certificate the emulated IGC-Santé issued: what the CRL, OCSP and the card checks read.

Why a table and not only files: revocation must hold for every process and instance at once
(a lost card is refused on the very next login, wherever it lands), so the authority's
register is in the database, like the rest of psc-idp's state.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, String
from sqlalchemy.orm import Mapped, mapped_column

from ..db import db, utcnow


class IssuedCertificate(db.Model):
    """One certificate of the emulated IGC-Santé (cards and software certificates)."""

    __tablename__ = "issued_certificate"

    serial: Mapped[str] = mapped_column(String(40), primary_key=True)
    """The certificate's serial number, lowercase hex without leading zeros."""
    authority: Mapped[str] = mapped_column(String(32), index=True)
    """The issuing CA's short name (``personnes``, ``organisations``)."""
    kind: Mapped[str] = mapped_column(String(24))
    """card_auth, card_sign, software_client, software_server."""
    subject: Mapped[str] = mapped_column(String(512))
    """RFC 4514 string of the subject."""
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    """Hex SHA-256 of the DER certificate (RFC 8705 ``x5t#S256`` is its base64url form)."""
    not_before: Mapped[datetime] = mapped_column(DateTime)
    not_after: Mapped[datetime] = mapped_column(DateTime)
    card_serial: Mapped[str | None] = mapped_column(String(20), nullable=True, index=True)
    client_id: Mapped[str | None] = mapped_column(String(200), nullable=True, index=True)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    revocation_reason: Mapped[str | None] = mapped_column(String(32), nullable=True)
    """A ``cryptography.x509.ReasonFlags`` value name: key_compromise, superseded…"""
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
