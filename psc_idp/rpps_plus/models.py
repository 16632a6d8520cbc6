"""Habilitations on a structure and RPPS+ registrations, from submission to validation."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, DateTime, ForeignKey, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from ..db import db, utcnow

MANAGER = "gestionnaire_rpps_plus"
"""May register professionals of the structure and end their situations."""
AUTHORITY = "autorite_enregistrement"
"""May validate or refuse the structure's registrations (the AE: the establishment)."""
HABILITATION_KINDS = (MANAGER, AUTHORITY)


class StructureHabilitation(db.Model):
    """A person's habilitation on a structure (who may register, who may validate)."""

    __tablename__ = "structure_habilitation"
    __table_args__ = (UniqueConstraint("national_id", "structure_id", "kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    national_id: Mapped[str] = mapped_column(String(64), index=True)
    structure_id: Mapped[int] = mapped_column(ForeignKey("structure.id"), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class RppsPlusRegistration(db.Model):
    """A professional "à rôle" as the manager declared them (seed 004's three kinds of data:
    civil status, contact data — never published —, professional situation)."""

    __tablename__ = "rpps_plus_registration"
    __table_args__ = (
        # One waiting request per person, anywhere: two filings at once for the same person
        # both insert, the second fails on this index (decided rows leave it).
        Index("uq_rpps_plus_registration_waiting_identity", "identity_key", unique=True,
              sqlite_where=text("status = 'submitted'"),
              postgresql_where=text("status = 'submitted'")),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uid: Mapped[str] = mapped_column(String(36), unique=True)
    """Public reference of the registration (URLs, CLI)."""
    structure_id: Mapped[int] = mapped_column(ForeignKey("structure.id"), index=True)
    manager_national_id: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20), default="submitted", index=True)
    """``submitted``, ``validated``, ``refused``."""
    civility_code: Mapped[str] = mapped_column(String(5), default="")
    family_name: Mapped[str] = mapped_column(String(100))
    given_names: Mapped[str] = mapped_column(String(200))
    birth_date: Mapped[date] = mapped_column(Date)
    birth_place_code: Mapped[str] = mapped_column(String(10))
    """INSEE code of the commune (or of the country, born abroad)."""
    practice_family_name: Mapped[str] = mapped_column(String(100), default="")
    practice_given_name: Mapped[str] = mapped_column(String(100), default="")
    contact_email: Mapped[str] = mapped_column(String(200))
    contact_mobile: Mapped[str] = mapped_column(String(30))
    profession_code: Mapped[str] = mapped_column(String(10))
    """An RPPS+ profession (TRE_R85 312–330, 353)."""
    role_code: Mapped[str] = mapped_column(String(10))
    """One of the five RPPS+ roles (TRE_R22 GENR08–GENR12)."""
    started_on: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    decided_by: Mapped[str] = mapped_column(String(64), default="")
    refusal_reason: Mapped[str] = mapped_column(String(500), default="")
    professional_id: Mapped[int | None] = mapped_column(ForeignKey("professional.id"),
                                                        nullable=True)
    """Set at validation: the directory person (new, with a new RPPS number, or existing)."""
    identity_key: Mapped[str | None] = mapped_column(String(64), nullable=True)
    """SHA-256 of the person's matching data (``identity.py``), set at submission; unique
    among the ``submitted`` rows (the index above)."""
