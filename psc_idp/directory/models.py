"""The Annuaire Santé emulation: professionals, their practice situations and structures.

Field names follow the RPPS extraction and the PSC userinfo (``SubjectRefPro.exercices[]``,
``activities[]``) so that ``claims/`` is a plain mapping. Contact data (e-mail, mobile) is kept
for e-CPS activation codes and is never published in claims (seeds: "Les données de contact NE
sont PAS publiées dans l'annuaire santé").
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, DateTime, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..db import db, utcnow


class Structure(db.Model):
    """A place of practice: FINESS site, SIRET company, or an RPPS cabinet.

    ``technical_id`` is ``identifiantTechniqueDeLaStructure`` in its current forms: ``R…``
    (RPPS cabinet), ``F``+FINESS or ``C``+SIRET. ``3``+SIRET and ``4``+RPPS+``nnn`` are *former*
    ids (``Ancien identifiant de la structure``, kept in ``former_id``; reference §10)."""

    __tablename__ = "structure"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    technical_id: Mapped[str] = mapped_column(String(40), unique=True)
    """``identifiantTechniqueDeLaStructure``: ``F<finess>``, ``R<n>`` or ``C<siret>``."""
    name: Mapped[str] = mapped_column(String(200))
    """``raisonSocialeSite``."""
    trade_name: Mapped[str] = mapped_column(String(200), default="")
    finess_site: Mapped[str] = mapped_column(String(9), default="")
    finess_legal: Mapped[str] = mapped_column(String(9), default="")
    siret: Mapped[str] = mapped_column(String(14), default="")
    siren: Mapped[str] = mapped_column(String(9), default="")
    sector_code: Mapped[str] = mapped_column(String(10), default="")
    """``codeSecteurDactivite``, e.g. SA07 (cabinet individuel), SA01 (hôpital)."""
    addressee_complement: Mapped[str] = mapped_column(String(100), default="")
    geo_complement: Mapped[str] = mapped_column(String(100), default="")
    street_number: Mapped[str] = mapped_column(String(10), default="")
    street_repeat: Mapped[str] = mapped_column(String(5), default="")
    street_type: Mapped[str] = mapped_column(String(10), default="")
    street_name: Mapped[str] = mapped_column(String(100), default="")
    distribution: Mapped[str] = mapped_column(String(100), default="")
    cedex_office: Mapped[str] = mapped_column(String(100), default="")
    postal_code: Mapped[str] = mapped_column(String(10), default="")
    commune_code: Mapped[str] = mapped_column(String(10), default="")
    country_code: Mapped[str] = mapped_column(String(10), default="99000")
    department_code: Mapped[str] = mapped_column(String(5), default="")
    phone: Mapped[str] = mapped_column(String(30), default="")
    phone2: Mapped[str] = mapped_column(String(30), default="")
    fax: Mapped[str] = mapped_column(String(30), default="")
    email: Mapped[str] = mapped_column(String(200), default="")
    former_id: Mapped[str] = mapped_column(String(40), default="")
    registration_authority: Mapped[str] = mapped_column(String(60), default="")
    last_import_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    """The ``directory_import`` that last wrote this row (None: demo data, JSON, RPPS+)."""


class Professional(db.Model):
    """One person of the RPPS, identified by ``8`` + RPPS (the national identifier)."""

    __tablename__ = "professional"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    national_id: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    """``8``+RPPS for most; structure staff (CPE/CPA holders) ``3``+FINESS or ``5``+SIRET,
    ``/`` and their card id (``30B0168811/CPET00001``, reference §10)."""
    rpps: Mapped[str | None] = mapped_column(String(11), unique=True, nullable=True)
    """None for identities without an RPPS number (structure staff)."""
    civility_code: Mapped[str] = mapped_column(String(5), default="")
    """``codeCivilite``: M, MME."""
    family_name: Mapped[str] = mapped_column(String(100))
    given_name: Mapped[str] = mapped_column(String(100))
    birth_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    birth_place_code: Mapped[str] = mapped_column(String(10), default="")
    contact_email: Mapped[str] = mapped_column(String(200), default="")
    """Never in claims: used to send e-CPS activation codes."""
    contact_mobile: Mapped[str] = mapped_column(String(30), default="")
    """Never in claims: used to send e-CPS activation codes."""
    means_blocked: Mapped[bool] = mapped_column(Boolean, default=False)
    """Every means of identification suspended (lost card, fraud): no login succeeds."""
    rpps_plus: Mapped[bool] = mapped_column(Boolean, default=False)
    """Registered through RPPS+ (social and medico-social roles): e-CPS only, no card."""
    identity_key: Mapped[str | None] = mapped_column(String(64), unique=True, index=True,
                                                      nullable=True)
    """RPPS+ only: SHA-256 of the matching data (``rpps_plus/identity.py``), set when a
    validation creates or matches the person. Unique, so two validations at once for the same
    new person create one person; NULL (most persons) never collides."""
    persona_label: Mapped[str] = mapped_column(String(200), default="")
    """Demo only: the short description shown on the persona login page."""
    source: Mapped[str] = mapped_column(String(20), default="")
    """Where the row comes from: "" (demo data, JSON file), ``libreacces`` or ``psc`` (an
    extraction import), ``rpps_plus`` (a validated RPPS+ registration), ``api``."""
    last_import_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    """The ``directory_import`` that last saw this person: one absent from a newer complete
    import of the same format is ended (``ended_on``), never deleted."""
    ended_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    """The person left the directory (absent from a newer extraction): no login succeeds."""
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    practices: Mapped[list[Practice]] = relationship(
        back_populates="professional", cascade="all, delete-orphan", order_by="Practice.id",
    )
    other_ids: Mapped[list[OtherIdentifier]] = relationship(
        back_populates="professional", cascade="all, delete-orphan",
        order_by="OtherIdentifier.id",
    )
    """``otherIds`` of the claims: RPPS, ADELI, FINESS, SIRET, PSI, EDIT… (several per person)."""
    """Loaded on access; ``lookup.get_professional(whole=True)`` joins them in one query."""

    @property
    def active_practices(self) -> list[Practice]:
        return [p for p in self.practices if p.active_activities]


class Practice(db.Model):
    """An ``exercice``: one profession (and specialty) the professional practises."""

    __tablename__ = "practice"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    professional_id: Mapped[int] = mapped_column(ForeignKey("professional.id"), index=True)
    profession_code: Mapped[str] = mapped_column(String(10))
    """``codeProfession`` (TRE_G15: 10 médecin, 21 pharmacien, 60 infirmier, 313 aide-soignant…)."""
    category_code: Mapped[str] = mapped_column(String(5), default="C")
    """``codeCategorieProfessionnelle``: C civil, M militaire, E étudiant."""
    practice_civility_code: Mapped[str] = mapped_column(String(5), default="")
    """``codeCiviliteDexercice``: DR, PR or empty."""
    practice_family_name: Mapped[str] = mapped_column(String(100), default="")
    practice_given_name: Mapped[str] = mapped_column(String(100), default="")
    expertise_type_code: Mapped[str] = mapped_column(String(5), default="")
    """``codeTypeSavoirFaire``: S spécialité ordinale, C compétence, …"""
    expertise_code: Mapped[str] = mapped_column(String(10), default="")
    """``codeSavoirFaire``: SM26 (qualifié en médecine générale), SM54…"""

    professional: Mapped[Professional] = relationship(back_populates="practices")
    activities: Mapped[list[Activity]] = relationship(
        back_populates="practice", cascade="all, delete-orphan", order_by="Activity.id",
    )

    @property
    def active_activities(self) -> list[Activity]:
        return [a for a in self.activities if a.is_active]


class Activity(db.Model):
    """A practice situation (``situation d'exercice``) in one structure."""

    __tablename__ = "activity"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practice.id"), index=True)
    structure_id: Mapped[int] = mapped_column(ForeignKey("structure.id"))
    mode_code: Mapped[str] = mapped_column(String(5), default="")
    """``codeModeExercice``: L libéral, S salarié, B bénévole."""
    sector_code: Mapped[str] = mapped_column(String(10), default="")
    pharmacist_section_code: Mapped[str] = mapped_column(String(5), default="")
    role_code: Mapped[str] = mapped_column(String(10), default="")
    """``codeRole`` (TRE_R21 fonction). The five RPPS+ roles are *genres d'activité*
    (GENR08–GENR12) and live in ``activity_kind_code``."""
    activity_kind_code: Mapped[str] = mapped_column(String(10), default="")
    """``codeGenreActivite``: GENR01 activité standard; GENR08–GENR12 the RPPS+ roles."""
    started_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    ended_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    source_key: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    """Imported situations: a digest of what identifies the row in the extraction (person,
    profession, structure, mode, role, genre), so that a re-import updates it in place."""
    last_import_id: Mapped[int | None] = mapped_column(Integer, nullable=True)

    practice: Mapped[Practice] = relationship(back_populates="activities")
    structure: Mapped[Structure] = relationship(lazy="joined")

    @property
    def is_active(self) -> bool:
        return self.ended_on is None or self.ended_on >= date.today()


class OtherIdentifier(db.Model):
    """One of a person's ``otherIds`` (PSC's ``alternativeIds``): ``identifiant``, ``origine``
    (RPPS, ADELI, FINESS, SIRET, PSI, EDIT…) and ``qualite`` (1, or 2 for PSI UUIDs)."""

    __tablename__ = "other_identifier"
    __table_args__ = (UniqueConstraint("professional_id", "origin", "identifier"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    professional_id: Mapped[int] = mapped_column(ForeignKey("professional.id"), index=True)
    identifier: Mapped[str] = mapped_column(String(64))
    origin: Mapped[str] = mapped_column(String(10))
    quality: Mapped[int] = mapped_column(Integer, default=1)

    professional: Mapped[Professional] = relationship(back_populates="other_ids")
