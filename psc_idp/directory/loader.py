"""Writing personas into the directory: the demo dataset, or an operator's JSON file.

Both go through ``load_directory``, which validates everything first (check digits, structure
references, required fields, column lengths) and only then writes, so a broken file leaves the
database untouched. Writes are upserts keyed on the structure technical id and the RPPS number:
loading the same data twice changes nothing, loading an edited persona updates it in place.
Nothing is ever deleted: professionals absent from the file (another operator's personas) stay.

The file format is the demo data's (``demo_data.as_directory_document()``)::

    {"structures": [{"technical_id": "R100101", "name": "CABINET ...", ...}],
     "professionals": [{"rpps": "10099900011", "family_name": "...", "given_name": "...",
                        "practices": [{"profession_code": "10", "activities": [
                            {"structure": "R100101", "mode_code": "L", ...}]}]}]}

Field names are the column names of ``models.py``; dates are ``YYYY-MM-DD``.

Identities without RPPS have ``"rpps": null`` (or no ``rpps``) and their national id in
``"staff_national_id"`` (``"national_id"`` is read the same way): structure staff (CPE, CPA, CDE
holders, e.g. ``"30B0168811/CPET00001"``; only they may have an empty ``profession_code``), ADELI
holders (``"0339400127"``) and EDIT test identities (``"ANS20240312101500"``). They are keyed on
that national id instead of the RPPS.

A person may carry several ``otherIds``: ``"other_ids": [{"identifier": "0679500418", "origin":
"ADELI", "quality": 1}, ...]`` (origins RPPS, ADELI, FINESS, SIRET, SIREN, PSI — a UUID of
quality 2 — and EDIT); without them the claims derive one from the national id. ``"ended_on"``
marks a person who left the directory (no login succeeds from that day).

Every code is checked against its nomenclature (``nomenclature.check_code``; deprecated codes are
accepted, old files may hold them), structure technical ids against their real forms (``R…``,
``F`` + FINESS, ``C`` + SIRET; ``3`` + SIRET and ``4`` + RPPS + ``nnn`` are former ids, for
``former_id``): a fault is a French message naming the entry and the field.
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import MISSING, dataclass
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import String, select
from sqlalchemy.orm import Session

from . import demo_data
from .demo_data import ActivityData, OtherIdData, PracticeData, ProfessionalData, StructureData
from .models import Activity, OtherIdentifier, Practice, Professional, Structure
from .national_id import (
    NATIONAL_ID_PREFIX,
    RPPS_LENGTH,
    former_structure_id_problem,
    identifier_origin,
    is_valid_rpps,
    national_id_problem,
    other_id_problem,
    parse_staff_id,
    rpps_check_digit,
    structure_id_problem,
)
from .nomenclature import UnknownCode, check_code, profession_label

DATE_FIELDS = frozenset({"birth_date", "started_on", "ended_on"})
BOOL_FIELDS = frozenset({"means_blocked", "rpps_plus"})
INT_FIELDS = frozenset({"quality"})
NESTED: dict[str, type] = {"practices": PracticeData, "activities": ActivityData,
                           "other_ids": OtherIdData}
NON_EMPTY = frozenset({"technical_id", "name", "rpps", "family_name", "given_name",
                       "profession_code", "structure"})
MODEL_OF: dict[type, type] = {
    StructureData: Structure, ProfessionalData: Professional,
    PracticeData: Practice, ActivityData: Activity, OtherIdData: OtherIdentifier,
}
CODE_FIELDS: dict[type, dict[str, str]] = {
    StructureData: {"sector_code": "secteur"},
    ProfessionalData: {"civility_code": "civilite"},
    PracticeData: {"profession_code": "profession", "category_code": "categorie",
                   "practice_civility_code": "civilite_exercice",
                   "expertise_type_code": "type_savoir_faire"},
    ActivityData: {"mode_code": "mode_exercice", "sector_code": "secteur",
                   "pharmacist_section_code": "section_pharmacien", "role_code": "role",
                   "activity_kind_code": "genre_activite"},
}
"""Which nomenclature each code field is checked against (``expertise_code`` is checked
against TRE_R38 when its type is a specialty, see ``_check_codes``)."""


@dataclass(frozen=True)
class DirectoryData:
    """Validated-shape input of ``load_directory``."""

    structures: tuple[StructureData, ...] = ()
    professionals: tuple[ProfessionalData, ...] = ()


# ---------------------------------------------------------------------------- parsing


def _column_length(model: type, name: str) -> int | None:
    column = model.__table__.c.get(name)
    if column is not None and isinstance(column.type, String):
        return column.type.length
    return None


def _build(cls: type, raw: Any, where: str) -> Any:
    """One dataclass instance from a JSON object, with a message naming the faulty field."""
    if not isinstance(raw, dict):
        raise ValueError(f"{where}: expected an object, got {type(raw).__name__}")
    known = {f.name: f for f in dataclasses.fields(cls)}
    extra_allowed = {"national_id"} if cls is ProfessionalData else set()
    unknown = sorted(set(raw) - set(known) - extra_allowed)
    if unknown:
        raise ValueError(f"{where}: unknown field(s) {', '.join(unknown)}")
    values: dict[str, Any] = {}
    for name, spec in known.items():
        if name not in raw:
            if spec.default is MISSING and spec.default_factory is MISSING:
                raise ValueError(f"{where}: missing field {name!r}")
            continue
        values[name] = _convert(cls, name, raw[name], f"{where}.{name}")
    return cls(**values)


def _convert(cls: type, name: str, value: Any, where: str) -> Any:
    if name in NESTED:
        if not isinstance(value, list):
            raise ValueError(f"{where}: expected a list")
        return tuple(_build(NESTED[name], item, f"{where}[{i}]") for i, item in enumerate(value))
    if name in DATE_FIELDS:
        if value is None:
            return None
        if not isinstance(value, str):
            raise ValueError(f"{where}: expected a date YYYY-MM-DD or null")
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise ValueError(f"{where}: {value!r} is not a date YYYY-MM-DD") from None
    if name == "rpps" and value is None:
        return None  # structure staff
    if name in BOOL_FIELDS:
        if not isinstance(value, bool):
            raise ValueError(f"{where}: expected true or false")
        return value
    if name in INT_FIELDS:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{where}: expected an integer")
        return value
    if not isinstance(value, str):
        raise ValueError(f"{where}: expected a string, got {type(value).__name__}")
    return value


def parse_directory_document(doc: Any, source: str = "directory") -> DirectoryData:
    """Turn a decoded JSON document into ``DirectoryData``; ValueError names what is wrong."""
    if not isinstance(doc, dict):
        raise ValueError(f"{source}: the top level must be an object with 'professionals'")
    unknown = sorted(set(doc) - {"structures", "professionals"})
    if unknown:
        raise ValueError(f"{source}: unknown top-level key(s) {', '.join(unknown)}")
    if "professionals" not in doc:
        raise ValueError(f"{source}: missing 'professionals'")
    structures_raw = doc.get("structures", [])
    professionals_raw = doc["professionals"]
    for key, value in (("structures", structures_raw), ("professionals", professionals_raw)):
        if not isinstance(value, list):
            raise ValueError(f"{source}: '{key}' must be a list")
    structures = tuple(_build(StructureData, raw, f"{source}: structures[{i}]")
                       for i, raw in enumerate(structures_raw))
    professionals = []
    for i, raw in enumerate(professionals_raw):
        where = f"{source}: professionals[{i}]"
        if isinstance(raw, dict) and "rpps" not in raw and (
                "national_id" in raw or "staff_national_id" in raw):
            raw = {"rpps": None, **raw}  # structure staff: no RPPS
        professional = _build(ProfessionalData, raw, where)
        national_id = raw.get("national_id")
        if professional.rpps is None:
            if national_id is not None and professional.staff_national_id not in (
                    "", national_id):
                raise ValueError(f"{where}: national_id {national_id!r} and staff_national_id "
                                 f"{professional.staff_national_id!r} differ")
            if national_id is not None and isinstance(national_id, str):
                professional = dataclasses.replace(professional, staff_national_id=national_id)
        elif national_id is not None and national_id != NATIONAL_ID_PREFIX + professional.rpps:
            raise ValueError(f"{where}: national_id {national_id!r} is not '8' + rpps "
                             f"({professional.rpps!r})")
        elif professional.staff_national_id:
            raise ValueError(f"{where}: staff_national_id is only for identities without rpps")
        professionals.append(professional)
    return DirectoryData(structures=structures, professionals=tuple(professionals))


# ---------------------------------------------------------------------------- validation


def _check_strings(obj: Any, where: str, *, may_be_empty: frozenset[str] = frozenset()
                   ) -> None:
    model = MODEL_OF[type(obj)]
    for spec in dataclasses.fields(obj):
        value = getattr(obj, spec.name)
        if not isinstance(value, str):
            continue
        if spec.name in NON_EMPTY - may_be_empty and not value.strip():
            raise ValueError(f"{where}: {spec.name} must not be empty")
        limit = _column_length(model, spec.name)
        if limit is not None and len(value) > limit:
            raise ValueError(f"{where}: {spec.name} is longer than {limit} characters")


def _check_codes(obj: Any, where: str) -> None:
    """Every code field of ``obj`` is in its nomenclature (French message naming the field)."""
    for field_name, table in CODE_FIELDS[type(obj)].items():
        try:
            check_code(table, getattr(obj, field_name), allow_deprecated=True)
        except UnknownCode as exc:
            raise ValueError(f"{where}.{field_name} : {exc}") from None
    if isinstance(obj, PracticeData) and obj.expertise_type_code in ("", "S"):
        # Only specialties (TRE_R38) are carried; other savoir-faire types name other tables.
        try:
            check_code("savoir_faire", obj.expertise_code, allow_deprecated=True)
        except UnknownCode as exc:
            raise ValueError(f"{where}.expertise_code : {exc}") from None


def _check_other_ids(professional: ProfessionalData, where: str) -> None:
    seen: set[tuple[str, str]] = set()
    for i, other in enumerate(professional.other_ids):
        problem = other_id_problem(other.identifier, other.origin, other.quality)
        if problem:
            raise ValueError(f"{where}: other_ids[{i}] : {problem}")
        if (other.origin, other.identifier) in seen:
            raise ValueError(f"{where}: other_ids[{i}] : identifiant en double "
                             f"« {other.identifier} » ({other.origin})")
        seen.add((other.origin, other.identifier))


def _rpps_problem(rpps: str) -> str | None:
    if len(rpps) != RPPS_LENGTH or not (rpps.isascii() and rpps.isdigit()):
        return f"rpps {rpps!r} is not 11 digits"
    if not is_valid_rpps(rpps):
        return (f"rpps {rpps!r} has a bad check digit (expected "
                f"{rpps_check_digit(rpps[:-1])!r} as the last digit)")
    return None


def _staff_id_problem(national_id: str) -> str | None:
    if not national_id:
        return ("rpps is missing (only structure staff, ADELI holders and EDIT test identities "
                "go without one, with their staff_national_id such as '30B0168811/CPET00001', "
                "'0339400127' or 'ANS20240312101500')")
    if "/" not in national_id:
        problem = national_id_problem(national_id)
        if problem is None and identifier_origin(national_id) == "RPPS":
            return "an 8 + RPPS identity is written with its rpps, not staff_national_id"
        return problem
    staff = parse_staff_id(national_id)
    if staff is None:
        return (f"staff_national_id {national_id!r} is not '3'+FINESS or '5'+SIRET, '/', and "
                "the holder's id (letters and digits), with valid keys")
    if staff.national_id != national_id:
        return f"staff_national_id {national_id!r} must be written {staff.national_id!r}"
    return None


def validate_directory(session: Session, data: DirectoryData) -> None:
    """Raise ValueError on the first problem; reads the database only to resolve structures."""
    seen_structures: set[str] = set()
    for i, structure in enumerate(data.structures):
        where = f"structures[{i}] ({structure.technical_id})"
        _check_strings(structure, where)
        problem = structure_id_problem(structure.technical_id)
        if problem:
            raise ValueError(f"{where}: technical_id : {problem}")
        if structure.former_id and former_structure_id_problem(structure.former_id):
            raise ValueError(f"{where}: former_id : "
                             f"{former_structure_id_problem(structure.former_id)}")
        _check_codes(structure, where)
        if structure.technical_id in seen_structures:
            raise ValueError(f"{where}: duplicate technical_id")
        seen_structures.add(structure.technical_id)

    referenced = {a.structure for p in data.professionals for pr in p.practices
                  for a in pr.activities}
    missing = referenced - seen_structures
    known_in_db = set(session.scalars(
        select(Structure.technical_id).where(Structure.technical_id.in_(missing)))) if missing \
        else set()

    seen_rpps: set[str] = set()
    seen_ids: set[str] = set()
    for i, professional in enumerate(data.professionals):
        if professional.rpps is None:
            where = f"professionals[{i}] (national_id {professional.staff_national_id})"
            problem = _staff_id_problem(professional.staff_national_id)
        else:
            where = f"professionals[{i}] (rpps {professional.rpps})"
            problem = _rpps_problem(professional.rpps)
        if problem:
            raise ValueError(f"professionals[{i}]: {problem}")
        _check_strings(professional, where)
        if professional.rpps is not None and professional.rpps in seen_rpps:
            raise ValueError(f"{where}: duplicate rpps")
        if professional.national_id in seen_ids:
            raise ValueError(f"{where}: duplicate national_id")
        if professional.rpps is not None:
            seen_rpps.add(professional.rpps)
        seen_ids.add(professional.national_id)
        _check_codes(professional, where)
        _check_other_ids(professional, where)
        # Staff (CPE/CPA/CDE holders) are no health professionals: codeProfession "" (§10).
        may_be_empty = frozenset({"profession_code"}) if professional.is_staff \
            else frozenset()
        for j, practice in enumerate(professional.practices):
            p_where = f"{where}: practices[{j}]"
            _check_strings(practice, p_where, may_be_empty=may_be_empty)
            _check_codes(practice, p_where)
            for k, activity in enumerate(practice.activities):
                a_where = f"{p_where}.activities[{k}]"
                _check_strings(activity, a_where)
                _check_codes(activity, a_where)
                if activity.structure not in seen_structures | known_in_db:
                    raise ValueError(f"{a_where}: unknown structure {activity.structure!r} "
                                     "(neither in the file nor in the database)")
                if (activity.started_on and activity.ended_on
                        and activity.ended_on < activity.started_on):
                    raise ValueError(f"{a_where}: ended_on is before started_on")


# ---------------------------------------------------------------------------- writing


def _scalar_values(obj: Any) -> dict[str, Any]:
    return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj) if f.name not in NESTED}


def _assign(row: Any, values: dict[str, Any]) -> bool:
    changed = False
    for name, value in values.items():
        if getattr(row, name) != value:
            setattr(row, name, value)
            changed = True
    return changed


def _activity_values(activity: ActivityData) -> dict[str, Any]:
    values = _scalar_values(activity)
    values.pop("structure")
    return values


def _wanted_signature(professional: ProfessionalData) -> list[tuple[Any, ...]]:
    return [(tuple(_scalar_values(p).items()),
             tuple((a.structure, tuple(_activity_values(a).items())) for a in p.activities))
            for p in professional.practices]


def _stored_signature(row: Professional) -> list[tuple[Any, ...]]:
    practice_names = [f.name for f in dataclasses.fields(PracticeData) if f.name not in NESTED]
    activity_names = [f.name for f in dataclasses.fields(ActivityData) if f.name != "structure"]
    return [(tuple((n, getattr(p, n)) for n in practice_names),
             tuple((a.structure.technical_id, tuple((n, getattr(a, n)) for n in activity_names))
                   for a in p.activities))
            for p in row.practices]


def _write(session: Session, data: DirectoryData) -> dict[str, int]:
    counts = dict.fromkeys(("structures_created", "structures_updated", "structures_unchanged",
                            "professionals_created", "professionals_updated",
                            "professionals_unchanged"), 0)
    for structure in data.structures:
        row = session.scalar(select(Structure).filter_by(technical_id=structure.technical_id))
        if row is None:
            session.add(Structure(**_scalar_values(structure)))
            counts["structures_created"] += 1
        elif _assign(row, _scalar_values(structure)):
            counts["structures_updated"] += 1
        else:
            counts["structures_unchanged"] += 1
    session.flush()

    referenced = {a.structure for p in data.professionals for pr in p.practices
                  for a in pr.activities}
    by_id = {s.technical_id: s for s in session.scalars(
        select(Structure).where(Structure.technical_id.in_(referenced)))}

    for professional in data.professionals:
        values = _scalar_values(professional)
        del values["staff_national_id"]
        values["national_id"] = professional.national_id
        # RPPS personas are keyed on the RPPS; staff (no RPPS) on their national id.
        key = {"rpps": professional.rpps} if professional.rpps is not None \
            else {"national_id": professional.national_id}
        row = session.scalar(select(Professional).filter_by(**key))
        created = row is None
        if row is None:
            row = Professional(**values)
            session.add(row)
            changed = True
        else:
            changed = _assign(row, values)
        if created or _stored_signature(row) != _wanted_signature(professional):
            if not created:
                row.practices.clear()
                session.flush()
            for practice in professional.practices:
                row.practices.append(Practice(
                    **_scalar_values(practice),
                    activities=[Activity(structure=by_id[a.structure], **_activity_values(a))
                                for a in practice.activities]))
            changed = True
        wanted_ids = [(o.identifier, o.origin, o.quality) for o in professional.other_ids]
        if created or [(o.identifier, o.origin, o.quality) for o in row.other_ids] != wanted_ids:
            if not created and row.other_ids:
                row.other_ids.clear()
                session.flush()
            for identifier, origin, quality in wanted_ids:
                row.other_ids.append(OtherIdentifier(identifier=identifier, origin=origin,
                                                     quality=quality))
            changed = True
        if created:
            counts["professionals_created"] += 1
        elif changed:
            counts["professionals_updated"] += 1
        else:
            counts["professionals_unchanged"] += 1
    session.flush()
    return counts


def load_directory(session: Session, data: DirectoryData, *, commit: bool = True
                   ) -> dict[str, int]:
    """Validate then upsert ``data``; returns created/updated/unchanged counts.

    On any error nothing is written: validation runs before the first write, and an unexpected
    database error rolls the session back.
    """
    validate_directory(session, data)
    try:
        counts = _write(session, data)
        if commit:
            session.commit()
    except Exception:
        session.rollback()
        raise
    return counts


def load_demo_directory(session: Session, *, commit: bool = True,
                        include_staff: bool = False) -> dict[str, int]:
    """Upsert the demo structures and personas of ``demo_data`` (idempotent).

    ``include_staff`` adds the identities without RPPS: structure staff (CPE, CPA, CDE holders,
    ``demo_data.DEMO_STAFF``), the ADELI holder and the EDIT test identity
    (``demo_data.DEMO_OTHER_IDENTITIES``); what ``psc-idp init`` and ``professional
    reload-demo`` should load.
    """
    personas = demo_data.DEMO_PROFESSIONALS
    if include_staff:
        personas = personas + demo_data.DEMO_STAFF + demo_data.DEMO_OTHER_IDENTITIES
    data = DirectoryData(structures=demo_data.DEMO_STRUCTURES, professionals=personas)
    return load_directory(session, data, commit=commit)


def read_directory_file(path: str | Path) -> DirectoryData:
    """Read and parse a directory JSON file; every problem is a ValueError naming the file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ValueError(f"{path}: cannot read the file ({exc.strerror or exc})") from exc
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not UTF-8 text") from exc
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: invalid JSON at line {exc.lineno} column {exc.colno}: "
                         f"{exc.msg}") from None
    return parse_directory_document(doc, source=str(path))


def load_directory_file(session: Session, path: str | Path, *, commit: bool = True
                        ) -> dict[str, int]:
    """Load an operator's JSON file of structures and personas (same shape as the demo data).

    Raises ValueError, naming the file, the line where the faulty entry starts and the field,
    for unreadable or malformed JSON, unknown or missing fields, a bad RPPS check digit, an
    unknown code, or an activity whose structure is neither in the file nor already in the
    database; nothing is written then.
    """
    try:
        data = read_directory_file(path)
    except ValueError as exc:
        raise ValueError(_with_line(Path(path), str(exc))) from None
    try:
        return load_directory(session, data, commit=commit)
    except ValueError as exc:
        message = str(exc) if str(exc).startswith(str(path)) else f"{path}: {exc}"
        raise ValueError(_with_line(Path(path), message)) from exc


_ENTRY = re.compile(r"(structures|professionals)\[(\d+)\]")


def _with_line(path: Path, message: str) -> str:
    """``message`` with « ligne N » after the file name, N the line where the entry it names
    (``professionals[3]``…) starts; unchanged when that cannot be found."""
    prefix = f"{path}: "
    if not message.startswith(prefix):
        return message
    found = _ENTRY.search(message, len(prefix))
    if found is None:
        return message
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return message
    line = _entry_lines(text).get((found.group(1), int(found.group(2))))
    if line is None:
        return message
    return f"{prefix}ligne {line} : {message[len(prefix):]}"


def _entry_lines(text: str) -> dict[tuple[str, int], int]:
    """The line where each object of the top-level ``structures`` and ``professionals`` lists
    starts (a small scan of the JSON text: strings, nesting depth, the current top-level key)."""
    lines: dict[tuple[str, int], int] = {}
    counts: dict[str, int] = {}
    depth, line, start = 0, 1, 0
    in_string = escaped = False
    key = last_string = ""
    for index, char in enumerate(text):
        if char == "\n":
            line += 1
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
                last_string = text[start:index]
            continue
        if char == '"':
            in_string, start = True, index + 1
        elif char == ":" and depth == 1:
            key = last_string
        elif char in "{[":
            if char == "{" and depth == 2 and key in ("structures", "professionals"):
                position = counts.get(key, 0)
                lines[(key, position)] = line
                counts[key] = position + 1
            depth += 1
        elif char in "}]":
            depth -= 1
    return lines


# ---------------------------------------------------------------------------- export


def export_structure(structure: Structure) -> dict[str, Any]:
    """Every column of a structure except the database id."""
    return {f.name: getattr(structure, f.name) for f in dataclasses.fields(StructureData)}


def export_professional(professional: Professional, *, include_contact: bool = False
                        ) -> dict[str, Any]:
    """The JSON of ``psc-idp professional list --json``.

    Contact data (e-mail, mobile for e-CPS codes) is left out unless ``include_contact``: it is
    not published by the Annuaire Santé either.
    """
    profession_codes: list[str] = []
    for practice in professional.active_practices:
        # staff have an empty profession: no code to list
        if practice.profession_code and practice.profession_code not in profession_codes:
            profession_codes.append(practice.profession_code)
    practices = []
    for practice in professional.practices:
        practices.append({
            "profession_code": practice.profession_code,
            "profession_label": profession_label(practice.profession_code),
            "category_code": practice.category_code,
            "practice_civility_code": practice.practice_civility_code,
            "practice_family_name": practice.practice_family_name,
            "practice_given_name": practice.practice_given_name,
            "expertise_type_code": practice.expertise_type_code,
            "expertise_code": practice.expertise_code,
            "active": bool(practice.active_activities),
            "activities": [{
                "structure": export_structure(activity.structure),
                "mode_code": activity.mode_code,
                "sector_code": activity.sector_code,
                "pharmacist_section_code": activity.pharmacist_section_code,
                "role_code": activity.role_code,
                "activity_kind_code": activity.activity_kind_code,
                "started_on": activity.started_on.isoformat() if activity.started_on else None,
                "ended_on": activity.ended_on.isoformat() if activity.ended_on else None,
                "active": activity.is_active,
            } for activity in practice.activities],
        })
    exported: dict[str, Any] = {
        "national_id": professional.national_id,
        "rpps": professional.rpps,
        "staff": "/" in professional.national_id,
        "identifier_origin": identifier_origin(professional.national_id),
        "civility_code": professional.civility_code,
        "given_name": professional.given_name,
        "family_name": professional.family_name,
        "birth_date": professional.birth_date.isoformat() if professional.birth_date else None,
        "persona_label": professional.persona_label,
        "rpps_plus": professional.rpps_plus,
        "means_blocked": professional.means_blocked,
        "ended_on": professional.ended_on.isoformat() if professional.ended_on else None,
        "other_ids": [{"identifier": o.identifier, "origin": o.origin, "quality": o.quality}
                      for o in professional.other_ids],
        "profession_codes": profession_codes,
        "practices": practices,
    }
    if include_contact:
        exported["contact_email"] = professional.contact_email
        exported["contact_mobile"] = professional.contact_mobile
    return exported
