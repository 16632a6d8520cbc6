"""The directory as the token side reads it: a professional in plain, immutable objects.

The token, refresh and userinfo endpoints read one professional per request. Through the ORM
that cost a session ``get``, its identity map, and a second ``selectin`` query for the other
identifiers; here it is SQLAlchemy Core on the request's connection (``db.session.connection()``,
so the read is in the request's one transaction) and frozen dataclasses whose attribute names
are the models' (``claims/`` and ``lookup.login_refusal`` read them unchanged):

- ``professional(id)``: the person and its ``other_ids``, ONE statement (a LEFT JOIN), enough
  for tokens and ``login_refusal``; its ``practices`` is ``None`` (not loaded: reading it fails
  loudly rather than publishing an empty list).
- ``whole_professional(id)``: the same plus practices, activities and structures, TWO
  statements (the person with its identifiers; the practices joined to activities and
  structures), what userinfo needs. One statement for both would multiply identifiers by
  activities.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa

from ..prepared import Prepared
from .models import Activity, OtherIdentifier, Practice, Professional, Structure


@dataclass(frozen=True, slots=True)
class OtherIdView:
    identifier: str
    origin: str
    quality: int


@dataclass(frozen=True, slots=True)
class StructureView:
    id: int
    technical_id: str
    name: str
    trade_name: str
    finess_site: str
    finess_legal: str
    siret: str
    siren: str
    sector_code: str
    addressee_complement: str
    geo_complement: str
    street_number: str
    street_repeat: str
    street_type: str
    street_name: str
    distribution: str
    cedex_office: str
    postal_code: str
    commune_code: str
    country_code: str
    department_code: str
    phone: str
    phone2: str
    fax: str
    email: str
    former_id: str
    registration_authority: str


@dataclass(frozen=True, slots=True)
class ActivityView:
    id: int
    mode_code: str
    sector_code: str
    pharmacist_section_code: str
    role_code: str
    activity_kind_code: str
    started_on: date | None
    ended_on: date | None
    structure: StructureView

    @property
    def is_active(self) -> bool:
        """As ``models.Activity.is_active``."""
        return self.ended_on is None or self.ended_on >= date.today()


@dataclass(frozen=True, slots=True)
class PracticeView:
    id: int
    profession_code: str
    category_code: str
    practice_civility_code: str
    practice_family_name: str
    practice_given_name: str
    expertise_type_code: str
    expertise_code: str
    activities: tuple[ActivityView, ...]

    @property
    def active_activities(self) -> list[ActivityView]:
        return [a for a in self.activities if a.is_active]


@dataclass(frozen=True, slots=True)
class ProfessionalView:
    id: int
    national_id: str
    rpps: str | None
    civility_code: str
    family_name: str
    given_name: str
    means_blocked: bool
    rpps_plus: bool
    ended_on: date | None
    other_ids: tuple[OtherIdView, ...]
    practices: tuple[PracticeView, ...] | None = None
    """None unless read by ``whole_professional``."""

    @property
    def active_practices(self) -> list[PracticeView]:
        return [p for p in self.practices or () if p.active_activities]


def _fields(cls: type) -> list[str]:
    return [f for f in cls.__dataclass_fields__ if f not in (
        "other_ids", "practices", "activities", "structure")]


def _columns(table: sa.Table, cls: type, prefix: str) -> list[sa.Label[Any]]:
    return [table.c[name].label(prefix + name) for name in _fields(cls)]


_P, _O = Professional.__table__, OtherIdentifier.__table__
_PR, _A, _S = Practice.__table__, Activity.__table__, Structure.__table__

PERSON_COLUMNS = (*_columns(_P, ProfessionalView, "p_"), _O.c.identifier.label("o_identifier"),
                  _O.c.origin.label("o_origin"), _O.c.quality.label("o_quality"))
"""A person's columns, prefixed (``p_``, ``o_``): the token side joins them to its own rows
with ``joined_person`` and reads them back with ``person_from_rows``."""


def joined_person(table: Any, professional_id: Any) -> Any:
    """``table`` LEFT JOIN the professional of ``professional_id`` and its identifiers: one row
    per identifier (one with NULLs if none; all NULL if the person is gone)."""
    return (table.outerjoin(_P, _P.c.id == professional_id)
            .outerjoin(_O, _O.c.professional_id == _P.c.id))


_PERSON_ROWS = (
    sa.select(*PERSON_COLUMNS).select_from(_P.outerjoin(_O, _O.c.professional_id == _P.c.id))
    .order_by(_O.c.id))
_PERSON = Prepared(_PERSON_ROWS.where(_P.c.id == sa.bindparam("pid")))
"""Statement 1: the person, one row per stored identifier (one row with NULLs if none)."""
_PERSON_BY_NATIONAL_ID = Prepared(_PERSON_ROWS.where(_P.c.national_id == sa.bindparam("nid")))

_SITUATIONS = Prepared(
    sa.select(*_columns(_PR, PracticeView, "pr_"), *_columns(_A, ActivityView, "a_"),
              *_columns(_S, StructureView, "s_"))
    .select_from(_PR.outerjoin(_A, _A.c.practice_id == _PR.c.id)
                 .outerjoin(_S, _S.c.id == _A.c.structure_id))
    .where(_PR.c.professional_id == sa.bindparam("pid"))
    .order_by(_PR.c.id, _A.c.id))
"""Statement 2: practices in directory order, each with its activities and their structure."""

_PRO_FIELDS = _fields(ProfessionalView)
_PRACTICE_FIELDS = _fields(PracticeView)
_ACTIVITY_FIELDS = _fields(ActivityView)
_STRUCTURE_FIELDS = _fields(StructureView)


def _pick(row: Any, prefix: str, names: list[str]) -> dict[str, Any]:
    mapping = row._mapping
    return {name: mapping[prefix + name] for name in names}


def _person(professional_id: int) -> dict[str, Any] | None:
    return _person_from(_PERSON.execute({"pid": professional_id}).all())


def _person_from(rows: list[Any]) -> dict[str, Any] | None:
    if not rows or rows[0].p_id is None:
        return None
    person = _pick(rows[0], "p_", _PRO_FIELDS)
    person["other_ids"] = tuple(
        OtherIdView(r.o_identifier, r.o_origin, int(r.o_quality))
        for r in rows if r.o_identifier is not None)
    return person


def professional(professional_id: int) -> ProfessionalView | None:
    """The person and its identifiers (one statement); ``practices`` not loaded."""
    person = _person(professional_id)
    return None if person is None else ProfessionalView(**person)


def professional_by_national_id(national_id: str) -> ProfessionalView | None:
    """The same by national identifier (one statement): the login forms' and hints' lookup."""
    person = _person_from(_PERSON_BY_NATIONAL_ID.execute({"nid": national_id}).all())
    return None if person is None else ProfessionalView(**person)


def person_from_rows(rows: list[Any]) -> ProfessionalView | None:
    """The person read through ``joined_person`` (``PERSON_COLUMNS`` in ``rows``)."""
    person = _person_from(rows)
    return None if person is None else ProfessionalView(**person)


def whole_professional(professional_id: int, person_read: ProfessionalView | None = None
                       ) -> ProfessionalView | None:
    """The person, identifiers, practices, activities and structures (two statements; one
    when the caller already read the person with ``joined_person``: ``person_read``)."""
    if person_read is not None and person_read.id == professional_id:
        person: dict[str, Any] | None = {
            name: getattr(person_read, name) for name in (*_PRO_FIELDS, "other_ids")}
    else:
        person = _person(professional_id)
    if person is None:
        return None
    rows = _SITUATIONS.execute({"pid": professional_id}).all()
    practices: list[PracticeView] = []
    current: dict[str, Any] | None = None
    activities: list[ActivityView] = []
    for row in rows:
        if current is None or current["id"] != row.pr_id:
            if current is not None:
                practices.append(PracticeView(**current, activities=tuple(activities)))
            current, activities = _pick(row, "pr_", _PRACTICE_FIELDS), []
        if row.a_id is not None:
            activities.append(ActivityView(**_pick(row, "a_", _ACTIVITY_FIELDS),
                                           structure=StructureView(
                                               **_pick(row, "s_", _STRUCTURE_FIELDS))))
    if current is not None:
        practices.append(PracticeView(**current, activities=tuple(activities)))
    return ProfessionalView(**person, practices=tuple(practices))
