"""Changing and reading the directory one record at a time: what the admin API
(``/api/admin/directory``) and the ``psc-idp directory professional|situation|structure``
commands both call, so they validate and audit the same way.

Every input is checked before anything is written (national ids, structure ids, nomenclature
codes, dates, lengths); a refusal is a ``ManageError`` carrying the HTTP status the API answers
(400 invalid input, 404 unknown record, 409 a conflict with the directory's state) and a French
description. Every change is audited (``directory.*`` events) in the caller's transaction.

Changes that must happen once are one compare-and-set statement (ending a professional or a
situation) or run under a lock of the professional's row (adding a situation: two identical
requests at the same moment add one). Nothing here commits: the caller does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from ..audit import EVENTS, record
from ..db import db
from .importer.models import DirectoryImport, DirectoryImportRejection
from .models import Activity, OtherIdentifier, Practice, Professional, Structure
from .national_id import (
    former_structure_id_problem,
    is_valid_finess,
    is_valid_siren,
    is_valid_siret,
    national_id_problem,
    other_id_problem,
    structure_id_problem,
)
from .nomenclature import UnknownCode, check_code

EVENTS.update({
    "directory.professional_created": "a professional was created (admin API or CLI)",
    "directory.professional_updated": "a professional's civil status, contact data or other "
                                      "identifiers changed (admin API or CLI)",
    "directory.professional_ended": "a professional left the directory (ended, not deleted)",
    "directory.situation_added": "a practice situation was added to a professional",
    "directory.situation_ended": "a practice situation was ended",
    "directory.structure_created": "a structure was created (admin API or CLI)",
    "directory.structure_updated": "a structure changed (admin API or CLI)",
})

MAX_PAGE = 200
DEFAULT_PAGE = 50
MAX_OTHER_IDS = 20


# ----------------------------------------------------------------------------- errors

@dataclass
class ManageError(Exception):
    """A refused request: ``status`` (400, 404, 409), ``error`` code, French description."""

    status: int
    error: str
    description: str

    def __str__(self) -> str:
        return self.description


def invalid(description: str) -> ManageError:
    return ManageError(400, "invalid_request", description)


def not_found(description: str) -> ManageError:
    return ManageError(404, "not_found", description)


def conflict(description: str) -> ManageError:
    return ManageError(409, "conflict", description)


# ----------------------------------------------------------------------------- field checks

def _text(data: dict[str, Any], name: str, limit: int, *, required: bool = False) -> str | None:
    """A string field (None when absent and not required), stripped, at most ``limit``."""
    if name not in data or data[name] is None:
        if required:
            raise invalid(f"champ obligatoire manquant : {name}")
        return None
    value = data[name]
    if not isinstance(value, str):
        raise invalid(f"{name} : une chaîne de caractères est attendue")
    value = value.strip()
    if has_control_characters(value):
        raise invalid(f"{name} : caractères de contrôle interdits")
    if required and not value:
        raise invalid(f"{name} ne doit pas être vide")
    if len(value) > limit:
        raise invalid(f"{name} : {limit} caractères au plus")
    return value


def _identifier(data: dict[str, Any], name: str, limit: int,
                problem_of: Callable[[str], str | None]) -> str:
    """A required identifier field, refused (400) with ``problem_of``'s reason when invalid."""
    value = _text(data, name, limit, required=True) or ""
    problem = problem_of(value)
    if problem:
        raise invalid(f"{name} : {problem}")
    return value


def has_control_characters(text: str) -> bool:
    """C0 controls and DEL: a NUL is refused by PostgreSQL (a 500 otherwise), the others have
    no place in a directory field."""
    return any(ord(c) < 32 or ord(c) == 127 for c in text)


def clean_key(text: str, name: str, limit: int) -> str:
    """A lookup key from a URL or a query (national id, technical id, filter): cut to the
    column's width, control characters refused (400)."""
    if has_control_characters(text):
        raise invalid(f"{name} : caractères de contrôle interdits")
    return text[:limit]


def _contains(text: str) -> str:
    """A LIKE pattern (escape ``\\``) for ``text`` anywhere, any case, wildcards literal."""
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


MAX_ROW_ID = 2**31 - 1
"""Ids above the databases' integer columns are unknown (404), never an overflow (500)."""


def _code(data: dict[str, Any], name: str, table: str, *, required: bool = False,
          limit: int = 10) -> str | None:
    value = _text(data, name, limit, required=required)
    if value:
        try:
            check_code(table, value, may_be_empty=False)
        except UnknownCode as exc:
            raise invalid(f"{name} : {exc}") from None
    return value


def parse_date(value: Any, name: str) -> date | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise invalid(f"{name} : une date AAAA-MM-JJ est attendue")
    try:
        return date.fromisoformat(value) if len(value) == 10 else _bad_date(value, name)
    except ValueError:
        return _bad_date(value, name)


def _bad_date(value: str, name: str) -> date:
    raise invalid(f"{name} : « {value[:40]} » n'est pas une date AAAA-MM-JJ")


def _bool(data: dict[str, Any], name: str) -> bool | None:
    if name not in data or data[name] is None:
        return None
    if not isinstance(data[name], bool):
        raise invalid(f"{name} : true ou false est attendu")
    return data[name]


def only_fields(data: dict[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise invalid(f"champ(s) inconnu(s) : {', '.join(u[:40] for u in unknown[:5])}")


def page_bounds(offset: Any, limit: Any) -> tuple[int, int]:
    """``offset`` ≥ 0 and ``limit`` 1…200 from query text (defaults 0 and 50)."""
    def number(value: Any, name: str, default: int) -> int:
        if value in (None, ""):
            return default
        text = str(value)
        if not (text.isascii() and text.isdigit()) or len(text) > 9:
            raise invalid(f"{name} : un entier positif est attendu")
        return int(text)

    start, size = number(offset, "offset", 0), number(limit, "limit", DEFAULT_PAGE)
    if not 1 <= size <= MAX_PAGE:
        raise invalid(f"limit : entre 1 et {MAX_PAGE}")
    return start, size


def _page(query: sa.Select[Any], offset: int, limit: int) -> tuple[int, list[Any]]:
    total = db.session.scalar(sa.select(sa.func.count()).select_from(query.subquery())) or 0
    rows = list(db.session.scalars(query.offset(offset).limit(limit)).unique())
    return total, rows


# ----------------------------------------------------------------------------- JSON shapes

def _day(value: date | None) -> str | None:
    return value.isoformat() if value else None


def situation_json(activity: Activity) -> dict[str, Any]:
    return {
        "id": activity.id, "structure": activity.structure.technical_id,
        "structure_name": activity.structure.name, "mode_code": activity.mode_code,
        "sector_code": activity.sector_code,
        "pharmacist_section_code": activity.pharmacist_section_code,
        "role_code": activity.role_code, "activity_kind_code": activity.activity_kind_code,
        "started_on": _day(activity.started_on), "ended_on": _day(activity.ended_on),
        "active": activity.is_active,
    }


def professional_summary(p: Professional) -> dict[str, Any]:
    return {"national_id": p.national_id, "family_name": p.family_name,
            "given_name": p.given_name,
            "professions": sorted({pr.profession_code for pr in p.practices}),
            "source": p.source, "ended_on": _day(p.ended_on)}


def professional_json(p: Professional) -> dict[str, Any]:
    return {
        "national_id": p.national_id, "rpps": p.rpps, "civility_code": p.civility_code,
        "family_name": p.family_name, "given_name": p.given_name,
        "birth_date": _day(p.birth_date), "birth_place_code": p.birth_place_code,
        "contact_email": p.contact_email, "contact_mobile": p.contact_mobile,
        "rpps_plus": p.rpps_plus, "means_blocked": p.means_blocked, "source": p.source,
        "ended_on": _day(p.ended_on),
        "other_ids": [{"identifier": o.identifier, "origin": o.origin, "quality": o.quality}
                      for o in p.other_ids],
        "practices": [{
            "id": pr.id, "profession_code": pr.profession_code,
            "category_code": pr.category_code,
            "practice_civility_code": pr.practice_civility_code,
            "practice_family_name": pr.practice_family_name,
            "practice_given_name": pr.practice_given_name,
            "expertise_type_code": pr.expertise_type_code, "expertise_code": pr.expertise_code,
            "situations": [situation_json(a) for a in pr.activities],
        } for pr in p.practices],
    }


STRUCTURE_TEXT: dict[str, int] = {
    "name": 200, "trade_name": 200, "addressee_complement": 100, "geo_complement": 100,
    "street_number": 10, "street_repeat": 5, "street_type": 10, "street_name": 100,
    "distribution": 100, "cedex_office": 100, "postal_code": 10, "commune_code": 10,
    "country_code": 10, "department_code": 5, "phone": 30, "phone2": 30, "fax": 30,
    "email": 200, "registration_authority": 60,
}
STRUCTURE_CHECKED = ("finess_site", "finess_legal", "siret", "siren", "sector_code", "former_id")
STRUCTURE_FIELDS = ("technical_id", *STRUCTURE_TEXT, *STRUCTURE_CHECKED)


def structure_json(s: Structure) -> dict[str, Any]:
    return {name: getattr(s, name) for name in STRUCTURE_FIELDS}


def import_json(run: DirectoryImport) -> dict[str, Any]:
    def stamp(value: Any) -> str | None:
        return value.isoformat() + "Z" if value else None

    return {"id": run.id, "format": run.format, "file_name": run.file_name,
            "file_sha256": run.file_sha256, "file_size": run.file_size, "status": run.status,
            "lines_done": run.lines_done, "accepted": run.accepted, "rejected": run.rejected,
            "ended": run.ended, "started_at": stamp(run.started_at),
            "updated_at": stamp(run.updated_at), "finished_at": stamp(run.finished_at)}


# ----------------------------------------------------------------------------- professionals

def _whole() -> Any:
    from sqlalchemy.orm import selectinload

    return (selectinload(Professional.practices).selectinload(Practice.activities),
            selectinload(Professional.other_ids))


def list_professionals(*, national_id: str | None = None, name: str | None = None,
                       profession: str | None = None, offset: int = 0,
                       limit: int = DEFAULT_PAGE) -> tuple[int, list[Professional]]:
    """A page of professionals by family name, given name, national id; filters: the exact
    national id, a part of the family or given name (any case), a profession code."""
    query = sa.select(Professional)
    if national_id:
        query = query.where(Professional.national_id == clean_key(national_id, "national_id",
                                                                  64))
    if name:
        pattern = _contains(clean_key(name, "name", 100))
        query = query.where(sa.or_(sa.func.lower(Professional.family_name).like(pattern, "\\"),
                                   sa.func.lower(Professional.given_name).like(pattern, "\\")))
    if profession:
        query = query.where(Professional.practices.any(
            Practice.profession_code == clean_key(profession, "profession", 10)))
    query = query.order_by(Professional.family_name, Professional.given_name,
                           Professional.national_id).options(*_whole())
    return _page(query, offset, limit)


def get_professional(national_id: str) -> Professional:
    national_id = clean_key(national_id, "national_id", 64)
    row = db.session.scalar(sa.select(Professional).filter_by(national_id=national_id)
                            .options(*_whole()))
    if row is None:
        raise not_found(f"professionnel inconnu : « {national_id} »")
    return row


PROFESSIONAL_TEXT = {"family_name": 100, "given_name": 100, "birth_place_code": 10,
                     "contact_email": 200, "contact_mobile": 30}
PROFESSIONAL_FIELDS = {"national_id", "civility_code", "birth_date", "rpps_plus", "other_ids",
                       *PROFESSIONAL_TEXT}


def _professional_values(data: dict[str, Any], *, creating: bool) -> dict[str, Any]:
    only_fields(data, PROFESSIONAL_FIELDS if creating else PROFESSIONAL_FIELDS - {"national_id"})
    values: dict[str, Any] = {}
    for name, limit in PROFESSIONAL_TEXT.items():
        value = _text(data, name, limit, required=creating and name in ("family_name",
                                                                        "given_name"))
        if value is not None:
            if name in ("family_name", "given_name") and not value:
                raise invalid(f"{name} ne doit pas être vide")
            values[name] = value
    civility = _code(data, "civility_code", "civilite", limit=5)
    if civility is not None:
        values["civility_code"] = civility
    if "birth_date" in data:
        values["birth_date"] = parse_date(data["birth_date"], "birth_date")
    rpps_plus = _bool(data, "rpps_plus")
    if rpps_plus is not None:
        values["rpps_plus"] = rpps_plus
    return values


def _other_ids(data: dict[str, Any]) -> list[tuple[str, str, int]] | None:
    if "other_ids" not in data:
        return None
    raw = data["other_ids"]
    if not isinstance(raw, list) or len(raw) > MAX_OTHER_IDS:
        raise invalid(f"other_ids : une liste de {MAX_OTHER_IDS} identifiants au plus")
    seen: list[tuple[str, str, int]] = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict):
            raise invalid(f"other_ids[{i}] : un objet est attendu")
        only_fields(item, {"identifier", "origin", "quality"})
        identifier = _text(item, "identifier", 64, required=True) or ""
        origin = _text(item, "origin", 10, required=True) or ""
        quality = item.get("quality", 1)
        problem = other_id_problem(identifier, origin, quality)
        if problem:
            raise invalid(f"other_ids[{i}] : {problem}")
        if (identifier, origin, quality) not in seen:
            seen.append((identifier, origin, quality))
    return seen


def _replace_other_ids(row: Professional, wanted: list[tuple[str, str, int]]) -> None:
    current = [(o.identifier, o.origin, o.quality) for o in row.other_ids]
    if current == wanted:
        return
    row.other_ids.clear()
    db.session.flush()
    for identifier, origin, quality in wanted:
        row.other_ids.append(OtherIdentifier(identifier=identifier, origin=origin,
                                             quality=quality))


def create_professional(data: dict[str, Any], *, actor: str) -> Professional:
    national_id = _identifier(data, "national_id", 64, national_id_problem)
    values = _professional_values(data, creating=True)
    other_ids = _other_ids(data)
    rpps = national_id[1:] if national_id.startswith("8") and "/" not in national_id else None
    taken = sa.or_(Professional.national_id == national_id,
                   Professional.rpps == rpps if rpps else sa.false())
    if db.session.scalar(sa.select(Professional.id).where(taken)) is not None:
        raise conflict(f"ce professionnel existe déjà : « {national_id} »")
    row = Professional(national_id=national_id, rpps=rpps, source="api", **values)
    try:
        with db.session.begin_nested():  # a parallel creation of the same id: 409, not 500
            db.session.add(row)
            db.session.flush()
    except IntegrityError:
        raise conflict(f"ce professionnel existe déjà : « {national_id} »") from None
    if other_ids:
        _replace_other_ids(row, other_ids)
    record("directory.professional_created", subject=national_id, actor=actor,
           fields=sorted(values))
    _directory_changed()
    return get_professional(national_id)


def update_professional(national_id: str, data: dict[str, Any], *, actor: str) -> Professional:
    row = get_professional(national_id)
    values = _professional_values(data, creating=False)
    other_ids = _other_ids(data)
    changed = sorted(name for name, value in values.items() if getattr(row, name) != value)
    for name in changed:
        setattr(row, name, values[name])
    if other_ids is not None and [(o.identifier, o.origin, o.quality)
                                  for o in row.other_ids] != other_ids:
        _replace_other_ids(row, other_ids)
        changed.append("other_ids")
    if changed:
        db.session.flush()
        record("directory.professional_updated", subject=row.national_id, actor=actor,
               fields=changed)
        _directory_changed()
    return get_professional(row.national_id)


def end_professional(national_id: str, *, ended_on: date | None = None,
                     actor: str) -> Professional:
    """Mark a professional as gone (``ended_on``): no login succeeds; never deleted. Once."""
    row = get_professional(national_id)
    day = ended_on or date.today()
    done = db.session.execute(
        sa.update(Professional).where(Professional.id == row.id,
                                      Professional.ended_on.is_(None))
        .values(ended_on=day)).rowcount == 1
    if not done:
        db.session.refresh(row)
        raise conflict(f"ce professionnel est déjà sorti de l'annuaire (le {row.ended_on})")
    record("directory.professional_ended", subject=row.national_id, actor=actor,
           ended_on=day.isoformat())
    _directory_changed()
    db.session.refresh(row)
    return row


# ----------------------------------------------------------------------------- situations

SITUATION_FIELDS = {"structure", "profession", "category", "role", "genre", "mode", "sector",
                    "pharmacist_section", "started_on"}


def get_situation(situation_id: int) -> Activity:
    row = db.session.get(Activity, situation_id) if 0 < situation_id <= MAX_ROW_ID else None
    if row is None:
        raise not_found(f"situation d'exercice inconnue : {situation_id}")
    return row


def add_situation(national_id: str, data: dict[str, Any], *, actor: str) -> Activity:
    """A practice situation in a structure (under the practice of that profession, created if
    the professional has none). Refused (409) if the professional has left the directory or
    already has the same active situation; two identical requests at once add one."""
    only_fields(data, SITUATION_FIELDS)
    technical_id = _identifier(data, "structure", 40, structure_id_problem)
    # Structure staff (CPE/CPA/CDE holders, "…/…" ids) practise no health profession: their
    # practice has empty profession and category codes (docs/directory.md).
    staff = "/" in national_id
    profession = _code(data, "profession", "profession", required=not staff) or ""
    category = _code(data, "category", "categorie", limit=5) or ("" if staff else "C")
    role = _code(data, "role", "role") or ""
    genre = _code(data, "genre", "genre_activite") or ""
    mode = _code(data, "mode", "mode_exercice", limit=5) or ""
    sector = _code(data, "sector", "secteur")
    section = _code(data, "pharmacist_section", "section_pharmacien", limit=5) or ""
    started_on = parse_date(data.get("started_on"), "started_on")

    row = get_professional(national_id)
    structure = db.session.scalar(sa.select(Structure).filter_by(technical_id=technical_id))
    if structure is None:
        raise not_found(f"structure inconnue : « {technical_id} »")
    _lock(row)  # from here on, this request adds situations to this professional alone
    if db.session.scalar(sa.select(Professional.ended_on).where(Professional.id == row.id)):
        raise conflict(f"ce professionnel est sorti de l'annuaire : « {row.national_id} »")
    practice_id = db.session.scalar(
        sa.select(Practice.id).where(Practice.professional_id == row.id,
                                     Practice.profession_code == profession,
                                     Practice.category_code == category).order_by(Practice.id))
    if practice_id is not None:
        same = db.session.scalar(sa.select(Activity.id).where(
            Activity.practice_id == practice_id, Activity.structure_id == structure.id,
            Activity.role_code == role, Activity.activity_kind_code == genre,
            Activity.mode_code == mode,
            sa.or_(Activity.ended_on.is_(None), Activity.ended_on >= date.today())))
        if same is not None:
            raise conflict(f"cette situation existe déjà (situation {same})")
    else:
        practice = Practice(professional_id=row.id, profession_code=profession,
                            category_code=category)
        db.session.add(practice)
        db.session.flush()
        practice_id = practice.id
    activity = Activity(practice_id=practice_id, structure_id=structure.id, mode_code=mode,
                        sector_code=structure.sector_code if sector is None else sector,
                        pharmacist_section_code=section, role_code=role,
                        activity_kind_code=genre, started_on=started_on)
    db.session.add(activity)
    db.session.flush()
    record("directory.situation_added", subject=row.national_id, actor=actor,
           situation=activity.id, structure=technical_id, profession=profession, role=role,
           genre=genre)
    _directory_changed()
    return activity


def end_situation(situation_id: int, *, ended_on: date | None = None, actor: str) -> Activity:
    """End a situation (``ended_on``, today by default): once; a second end is a 409."""
    row = get_situation(situation_id)
    day = ended_on or date.today()
    if row.started_on and day < row.started_on:
        raise invalid(f"ended_on : avant le début de la situation ({row.started_on})")
    done = db.session.execute(
        sa.update(Activity).where(Activity.id == row.id, Activity.ended_on.is_(None))
        .values(ended_on=day)).rowcount == 1
    if not done:
        db.session.refresh(row)
        raise conflict(f"cette situation est déjà terminée (le {row.ended_on})")
    db.session.refresh(row)
    record("directory.situation_ended", subject=row.practice.professional.national_id,
           actor=actor, situation=row.id, ended_on=day.isoformat())
    _directory_changed()
    return row


# ----------------------------------------------------------------------------- structures

def list_structures(*, name: str | None = None, sector: str | None = None, offset: int = 0,
                    limit: int = DEFAULT_PAGE) -> tuple[int, list[Structure]]:
    query = sa.select(Structure)
    if name:
        pattern = _contains(clean_key(name, "name", 100))
        query = query.where(sa.func.lower(Structure.name).like(pattern, "\\"))
    if sector:
        query = query.where(Structure.sector_code == clean_key(sector, "sector", 10))
    return _page(query.order_by(Structure.technical_id), offset, limit)


def get_structure(technical_id: str) -> Structure:
    technical_id = clean_key(technical_id, "technical_id", 40)
    row = db.session.scalar(sa.select(Structure).filter_by(technical_id=technical_id))
    if row is None:
        raise not_found(f"structure inconnue : « {technical_id} »")
    return row


def _structure_values(data: dict[str, Any], *, creating: bool) -> dict[str, Any]:
    allowed = set(STRUCTURE_FIELDS) if creating else set(STRUCTURE_FIELDS) - {"technical_id"}
    only_fields(data, allowed)
    values: dict[str, Any] = {}
    for name, limit in STRUCTURE_TEXT.items():
        value = _text(data, name, limit, required=creating and name == "name")
        if value is not None:
            if name == "name" and not value:
                raise invalid("name ne doit pas être vide")
            values[name] = value
    checks = {
        "finess_site": (9, is_valid_finess, "FINESS invalide"),
        "finess_legal": (9, is_valid_finess, "FINESS invalide"),
        "siret": (14, is_valid_siret, "SIRET invalide"),
        "siren": (9, is_valid_siren, "SIREN invalide"),
    }
    for name, (limit, valid, message) in checks.items():
        value = _text(data, name, limit)
        if value and not valid(value):
            raise invalid(f"{name} : {message} « {value} »")
        if value is not None:
            values[name] = value
    sector = _code(data, "sector_code", "secteur")
    if sector is not None:
        values["sector_code"] = sector
    former = _text(data, "former_id", 40)
    if former:
        problem = former_structure_id_problem(former)
        if problem:
            raise invalid(f"former_id : {problem}")
    if former is not None:
        values["former_id"] = former
    return values


def create_structure(data: dict[str, Any], *, actor: str) -> Structure:
    technical_id = _identifier(data, "technical_id", 40, structure_id_problem)
    values = _structure_values(data, creating=True)
    if db.session.scalar(sa.select(Structure.id).filter_by(technical_id=technical_id)):
        raise conflict(f"cette structure existe déjà : « {technical_id} »")
    row = Structure(technical_id=technical_id, **values)
    try:
        with db.session.begin_nested():
            db.session.add(row)
            db.session.flush()
    except IntegrityError:
        raise conflict(f"cette structure existe déjà : « {technical_id} »") from None
    record("directory.structure_created", actor=actor, structure=technical_id)
    _directory_changed()
    return row


def update_structure(technical_id: str, data: dict[str, Any], *, actor: str) -> Structure:
    row = get_structure(technical_id)
    values = _structure_values(data, creating=False)
    changed = sorted(name for name, value in values.items() if getattr(row, name) != value)
    for name in changed:
        setattr(row, name, values[name])
    if changed:
        db.session.flush()
        record("directory.structure_updated", actor=actor, structure=row.technical_id,
               fields=changed)
        _directory_changed()
    return row


# ----------------------------------------------------------------------------- imports

def list_imports(*, offset: int = 0, limit: int = DEFAULT_PAGE
                 ) -> tuple[int, list[DirectoryImport]]:
    return _page(sa.select(DirectoryImport).order_by(DirectoryImport.id.desc()), offset, limit)


def get_import(import_id: int) -> DirectoryImport:
    row = db.session.get(DirectoryImport, import_id) if 0 < import_id <= MAX_ROW_ID else None
    if row is None:
        raise not_found(f"import inconnu : {import_id}")
    return row


def import_rejections(import_id: int, *, offset: int = 0, limit: int = DEFAULT_PAGE
                      ) -> tuple[int, list[DirectoryImportRejection]]:
    query = sa.select(DirectoryImportRejection).where(
        DirectoryImportRejection.import_id == import_id).order_by(
        DirectoryImportRejection.line_number, DirectoryImportRejection.id)
    return _page(query, offset, limit)


# ----------------------------------------------------------------------------- helpers

def _lock(row: Professional) -> None:
    """Hold the professional's row until the transaction ends (PostgreSQL: FOR UPDATE; SQLite:
    a write takes the database's single write lock)."""
    from ..credentials.attempts import serialise

    serialise(row)


def _directory_changed() -> None:
    """The login page's persona list shows the change in this process at once."""
    from .lookup import forget_cached_summaries

    forget_cached_summaries()
