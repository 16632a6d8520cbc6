"""The RPPS+ portal's work, shared by the pages and the CLI: habilitations, registration,
decision (validation or refusal), end of a situation. Everything is audited.

Rules (seed 004):

- a *gestionnaire RPPS+* (``MANAGER``) of a structure registers professionals there and ends
  their situations; the *autorité d'enregistrement* (``AUTHORITY``) validates or refuses;
- a registration is decided once: the decision is one conditional UPDATE on ``status``
  (``submitted`` → ``validated``/``refused``); a second decision finds no row and fails cleanly;
- validation gives the person an RPPS number (``numbers.py``) or, when the person already is
  in the directory, adds the situation to them (matching rule below);
- one active situation per person and structure; a person waits until their first request is
  validated before another structure registers them.

Both "one" rules that two requests at once could break are the database's: the identity key
(``identity.py``: the matching data's SHA-256) is unique among the waiting registrations (a
partial unique index), so of two filings for the same person at once one insert fails; and
unique on ``professional``, so of two validations at once that would each create the same new
person, one insert fails, its savepoint is rolled back and it takes the matching path.

Matching rule: a registration is the person already in the directory who has an RPPS number
and the same birth date, birth place code, family name and first given name, names compared
in upper case without accents and with single spaces (the directory keeps only the first given
name, as the RPPS does). Two such persons: the validation is refused as ambiguous.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import set_committed_value

from ..audit import record
from ..db import db, utcnow
from ..directory.models import Activity, Practice, Professional, Structure
from . import events  # noqa: F401  (registers the rpps_plus.* audit events)
from .form import RPPS_PLUS_ROLES, RegistrationInput, fold
from .identity import key_of
from .models import (
    AUTHORITY,
    HABILITATION_KINDS,
    MANAGER,
    RppsPlusRegistration,
    StructureHabilitation,
)

KIND_NAMES = {"gestionnaire": MANAGER, "autorite": AUTHORITY, MANAGER: MANAGER,
              AUTHORITY: AUTHORITY}
"""The CLI's short names (``--kind gestionnaire|autorite``) and the stored ones."""
KIND_LABELS = {MANAGER: "gestionnaire RPPS+", AUTHORITY: "autorité d'enregistrement"}
STATUS_LABELS = {"submitted": "en attente de validation", "validated": "validée",
                 "refused": "refusée"}
STATUSES = tuple(STATUS_LABELS)


class RppsPlusError(Exception):
    """A refusal with a stable code, a French message and an HTTP status."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


# ------------------------------------------------------------------------ structures
def find_structure(technical_id: str) -> Structure:
    structure = db.session.scalar(select(Structure).filter_by(technical_id=technical_id.strip()))
    if structure is None:
        raise RppsPlusError("unknown_structure", f"Structure inconnue : « {technical_id} ».",
                            404)
    return structure


def finess_of(structure: Structure) -> str:
    """The structure's FINESS géographique (seed 004: "le FINESS Géographique du lieu
    d'exercice"), else its technical id."""
    return structure.finess_site or structure.technical_id


# ------------------------------------------------------------------------ habilitations
def habilitated_structures(national_id: str, kind: str) -> list[Structure]:
    query = (select(Structure).join(StructureHabilitation,
                                    StructureHabilitation.structure_id == Structure.id)
             .where(StructureHabilitation.national_id == national_id,
                    StructureHabilitation.kind == kind).order_by(Structure.name))
    return list(db.session.scalars(query))


def is_habilitated(national_id: str, structure_id: int, kind: str) -> bool:
    return db.session.scalar(select(StructureHabilitation.id).filter_by(
        national_id=national_id, structure_id=structure_id, kind=kind)) is not None


def grant_habilitation(national_id: str, structure_technical_id: str, kind: str, *,
                       granted_by: str = "operator") -> tuple[StructureHabilitation, bool]:
    """Habilitate a directory person on a structure; ``(row, created)`` (granting twice is a
    no-op). The caller commits."""
    from ..directory.lookup import find_by_identifier

    stored_kind = KIND_NAMES.get(kind)
    if stored_kind is None:
        raise RppsPlusError("unknown_kind", "Type d'habilitation inconnu : « gestionnaire » "
                            "ou « autorite ».")
    person = find_by_identifier(national_id)
    if person is None:
        raise RppsPlusError("unknown_person", f"Personne inconnue dans l'annuaire : "
                            f"« {national_id} ».", 404)
    structure = find_structure(structure_technical_id)
    existing = db.session.scalar(select(StructureHabilitation).filter_by(
        national_id=person.national_id, structure_id=structure.id, kind=stored_kind))
    if existing is not None:
        return existing, False
    row = StructureHabilitation(national_id=person.national_id, structure_id=structure.id,
                                kind=stored_kind)
    db.session.add(row)
    db.session.flush()
    record("rpps_plus.habilitation_granted", subject=person.national_id,
           structure=structure.technical_id, kind=stored_kind, granted_by=granted_by)
    return row, True


def list_habilitations() -> list[dict[str, Any]]:
    query = (select(StructureHabilitation, Structure)
             .join(Structure, StructureHabilitation.structure_id == Structure.id)
             .order_by(Structure.technical_id, StructureHabilitation.kind,
                       StructureHabilitation.national_id))
    return [{"national_id": h.national_id, "structure": s.technical_id,
             "structure_name": s.name, "kind": h.kind,
             "created_at": h.created_at.isoformat() + "Z" if h.created_at else None}
            for h, s in db.session.execute(query)]


# ------------------------------------------------------------------------ registration
def _same_person_query(data: RegistrationInput | RppsPlusRegistration) -> list[Professional]:
    """Directory persons matching the registration (see the module's matching rule)."""
    candidates = db.session.scalars(select(Professional).where(
        Professional.birth_date == data.birth_date,
        Professional.birth_place_code == data.birth_place_code,
        Professional.rpps.is_not(None)))
    family, first = fold(data.family_name), fold(data.given_names.split()[0])
    return [p for p in candidates
            if fold(p.family_name) == family and fold(p.given_name.split()[0] if p.given_name
                                                      else "") == first]


def _pending_for_same_person(data: RegistrationInput) -> RppsPlusRegistration | None:
    pending = db.session.scalars(select(RppsPlusRegistration).where(
        RppsPlusRegistration.status == "submitted",
        RppsPlusRegistration.birth_date == data.birth_date,
        RppsPlusRegistration.birth_place_code == data.birth_place_code))
    family, first = fold(data.family_name), fold(data.first_given_name)
    for registration in pending:
        if fold(registration.family_name) == family and \
                fold(registration.given_names.split()[0]) == first:
            return registration
    return None


def _active_situation(professional_id: int, structure_id: int) -> Activity | None:
    for activity in db.session.scalars(
            select(Activity).join(Practice).where(Practice.professional_id == professional_id,
                                                  Activity.structure_id == structure_id)):
        if activity.is_active:
            return activity
    return None


def _pending_elsewhere() -> RppsPlusError:
    return RppsPlusError(
        "pending_elsewhere", "Une demande pour cette personne attend déjà la validation de "
        "son autorité d'enregistrement : attendez qu'elle soit validée avant d'en déposer "
        "une autre.", 409)


def _waiting_with_key(key: str | None) -> bool:
    return key is not None and db.session.scalar(select(RppsPlusRegistration.id).where(
        RppsPlusRegistration.identity_key == key,
        RppsPlusRegistration.status == "submitted")) is not None


def submit(structure: Structure, manager_national_id: str, data: RegistrationInput
           ) -> RppsPlusRegistration:
    """The manager's registration, waiting for the registration authority. The caller has
    checked the habilitation; commits.

    The look-up of a waiting request gives the refusal early; the arbiter is the insert: the
    partial unique index on ``identity_key`` among ``submitted`` rows makes the second of two
    filings at once fail (on PostgreSQL it waits for the first's commit; on SQLite for the
    write lock), and it gets the same refusal."""
    if not is_habilitated(manager_national_id, structure.id, MANAGER):
        raise RppsPlusError("not_habilitated", "Vous n'êtes pas gestionnaire RPPS+ de cette "
                            "structure.", 403)
    key = key_of(data)
    if _pending_for_same_person(data) is not None:
        raise _pending_elsewhere()
    for person in _same_person_query(data):
        if _active_situation(person.id, structure.id) is not None:
            raise RppsPlusError(
                "already_in_structure", f"Cette personne ({person.national_id}) a déjà une "
                "situation active dans cette structure.", 409)
    registration = RppsPlusRegistration(
        uid=str(uuid.uuid4()), structure_id=structure.id,
        manager_national_id=manager_national_id, status="submitted",
        civility_code=data.civility_code, family_name=data.family_name,
        given_names=data.given_names, birth_date=data.birth_date,
        birth_place_code=data.birth_place_code,
        practice_family_name=data.practice_family_name,
        practice_given_name=data.practice_given_name, contact_email=data.contact_email,
        contact_mobile=data.contact_mobile, profession_code=data.profession_code,
        role_code=data.role_code, started_on=data.started_on, identity_key=key)
    try:
        with db.session.begin_nested():
            db.session.add(registration)
            db.session.flush()
    except IntegrityError:
        if _waiting_with_key(key):  # filed meanwhile by another request
            db.session.rollback()
            raise _pending_elsewhere() from None
        raise
    # The contact data is not in the trail either: it is never published.
    record("rpps_plus.registration_submitted", subject=manager_national_id,
           registration=registration.uid, structure=structure.technical_id,
           profession=data.profession_code, role=data.role_code)
    db.session.commit()
    return registration


UID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def find_registration(uid: str) -> RppsPlusRegistration | None:
    """By its public uid; anything not shaped as one is unknown without a query."""
    uid = uid.strip().lower()
    if not UID.fullmatch(uid):
        return None
    return db.session.scalar(select(RppsPlusRegistration).filter_by(uid=uid))


def get_registration(uid: str) -> RppsPlusRegistration:
    registration = find_registration(uid)
    if registration is None:
        raise RppsPlusError("unknown_registration", f"Demande inconnue : « {uid[:60]} ».", 404)
    return registration


def _claim(uid: str, status: str, decided_by: str, reason: str = "") -> bool:
    """The one statement that decides: only a ``submitted`` row changes, once."""
    result = db.session.execute(
        update(RppsPlusRegistration)
        .where(RppsPlusRegistration.uid == uid, RppsPlusRegistration.status == "submitted")
        .values(status=status, decided_at=utcnow(), decided_by=decided_by[:64],
                refusal_reason=reason[:500])
        .execution_options(synchronize_session=False))
    return result.rowcount == 1


def _refuse_decision(registration: RppsPlusRegistration, decided_by: str,
                     error: RppsPlusError) -> RppsPlusError:
    db.session.rollback()
    record("rpps_plus.decision_refused", "failure", subject=decided_by,
           registration=registration.uid, reason=error.code)
    db.session.commit()
    return error


def _check_authority(registration: RppsPlusRegistration, authority: str | None) -> None:
    if authority is not None and not is_habilitated(authority, registration.structure_id,
                                                    AUTHORITY):
        raise _refuse_decision(registration, authority, RppsPlusError(
            "not_habilitated", "Vous n'êtes pas autorité d'enregistrement de cette structure.",
            403))


def validate(uid: str, *, decided_by: str, authority: str | None = None) -> RppsPlusRegistration:
    """Validate: the person (new RPPS number, or found by the matching rule) gets the
    practice and the situation in the structure; the e-mail on record is told the number.
    ``authority``: the national id whose AUTHORITY habilitation is required (None: the
    operator, from the CLI). Commits."""
    registration = get_registration(uid)
    _check_authority(registration, authority)
    if not _claim(registration.uid, "validated", decided_by):
        raise _refuse_decision(registration, decided_by, RppsPlusError(
            "already_decided", "Cette demande a déjà été traitée "
            f"({STATUS_LABELS.get(_status_now(registration.uid), '?')}).", 409))
    structure = db.session.get(Structure, registration.structure_id)
    assert structure is not None
    person, existing = _person_for(registration, structure, decided_by)
    practice = next((p for p in person.practices
                     if p.profession_code == registration.profession_code), None)
    if practice is None:
        practice = Practice(profession_code=registration.profession_code, category_code="C",
                            practice_family_name=registration.practice_family_name,
                            practice_given_name=registration.practice_given_name)
        person.practices.append(practice)
    practice.activities.append(Activity(
        structure_id=structure.id, mode_code="S", sector_code=structure.sector_code,
        activity_kind_code=registration.role_code, started_on=registration.started_on))
    db.session.execute(update(RppsPlusRegistration).where(
        RppsPlusRegistration.id == registration.id).values(professional_id=person.id)
        .execution_options(synchronize_session=False))
    _tell_the_professional(person, structure, existing=existing)
    record("rpps_plus.registration_validated", subject=person.national_id,
           registration=registration.uid, structure=structure.technical_id,
           decided_by=decided_by, role=registration.role_code,
           profession=registration.profession_code, new_person=not existing)
    db.session.commit()
    from ..directory.lookup import forget_cached_summaries

    forget_cached_summaries()
    db.session.refresh(registration)
    return registration


def _status_now(uid: str) -> str:
    return db.session.scalar(select(RppsPlusRegistration.status).filter_by(uid=uid)) or ""


PERSON_ATTEMPTS = 5


def _person_for(registration: RppsPlusRegistration, structure: Structure, decided_by: str
                ) -> tuple[Professional, bool]:
    """The directory person the registration is (matching rule), or a new one; ``existing``.

    Two validations at once for the same new person (two structures) both find nobody and
    both insert: ``professional.identity_key`` is unique, so the second insert fails (on
    PostgreSQL once the first commits), its savepoint is rolled back and the loop matches the
    person the first one created."""
    key = key_of(registration)
    for _ in range(PERSON_ATTEMPTS):
        matches = _same_person_query(registration)
        if len(matches) > 1:
            raise _refuse_decision(registration, decided_by, RppsPlusError(
                "ambiguous_person", "Plusieurs personnes de l'annuaire ont cet état civil : "
                "validation impossible sans vérification.", 409))
        if matches:
            person = matches[0]
            _adopt_key(person, key)
            if _active_situation(person.id, structure.id) is not None:
                raise _refuse_decision(registration, decided_by, RppsPlusError(
                    "already_in_structure", f"{person.national_id} a déjà une situation "
                    "active dans cette structure.", 409))
            return person, True
        created = _new_person(registration, key)
        if created is not None:
            return created, False
        _release_stale_key(key)
    raise RuntimeError("the person of an RPPS+ registration could be neither found nor created")


def _key_holder(key: str | None) -> Professional | None:
    if key is None:
        return None
    return db.session.scalar(select(Professional).filter_by(identity_key=key))


def _adopt_key(person: Professional, key: str | None) -> None:
    """Give a matched person without a key (demo data, an import) the registration's key, so
    a later creation for them fails on the unique index. The UPDATE also locks the person's
    row on PostgreSQL: two validations adding to the same person go one after the other. A key
    already held by someone else (see ``_release_stale_key``) is left there."""
    if key is None or person.identity_key == key:
        return
    try:
        with db.session.begin_nested():
            changed = db.session.execute(
                update(Professional).where(Professional.id == person.id,
                                           Professional.identity_key.is_(None))
                .values(identity_key=key).execution_options(synchronize_session=False))
    except IntegrityError:
        return
    if changed.rowcount == 1:
        set_committed_value(person, "identity_key", key)


def _release_stale_key(key: str | None) -> None:
    """The key is held by a person whose civil status changed since (an import corrected
    it): they no longer match, so the key is taken back from them (one conditional UPDATE)
    and the creation tried again."""
    holder = _key_holder(key)
    if holder is not None and key_of(holder) != key:
        db.session.execute(update(Professional).where(
            Professional.id == holder.id, Professional.identity_key == key)
            .values(identity_key=None).execution_options(synchronize_session=False))
        set_committed_value(holder, "identity_key", None)


def _new_person(registration: RppsPlusRegistration, key: str | None) -> Professional | None:
    """A new person with a new RPPS number; None when the identity key was taken meanwhile
    (the caller looks again)."""
    from ..directory.national_id import national_id_from_rpps
    from .numbers import insert_with_new_rpps

    def build(rpps: str) -> Professional:
        return Professional(
            national_id=national_id_from_rpps(rpps), rpps=rpps,
            civility_code=registration.civility_code, family_name=registration.family_name,
            given_name=registration.given_names.split()[0],
            birth_date=registration.birth_date,
            birth_place_code=registration.birth_place_code,
            contact_email=registration.contact_email,
            contact_mobile=registration.contact_mobile, rpps_plus=True, source="rpps_plus",
            persona_label="RPPS+ : enregistré(e) par le portail RPPS+", identity_key=key)

    return insert_with_new_rpps(build, stop=lambda: _key_holder(key) is not None)


def _tell_the_professional(person: Professional, structure: Structure, *,
                           existing: bool) -> None:
    """Seed 004: the e-mail "pour l'informer de son enregistrement, et lui communiquer son
    numéro RPPS"."""
    from ..credentials import outbox

    what = "une nouvelle situation d'exercice a été ajoutée à votre dossier" if existing \
        else "vous êtes enregistré(e) au RPPS"
    outbox.send("email", person.contact_email or "", "Votre enregistrement RPPS+",
                f"Bonjour, {what} par {structure.name}. Votre numéro RPPS : {person.rpps}. "
                "Activez votre e-CPS avec votre e-mail et votre téléphone mobile.",
                person.national_id)


def refuse(uid: str, reason: str, *, decided_by: str, authority: str | None = None
           ) -> RppsPlusRegistration:
    reason = " ".join("".join(c for c in reason if c.isprintable() or c.isspace()).split())
    registration = get_registration(uid)
    if not reason:
        raise RppsPlusError("reason_required", "Le motif du refus est obligatoire.")
    if len(reason) > 500:
        raise RppsPlusError("reason_too_long", "Le motif du refus : 500 caractères au plus.")
    _check_authority(registration, authority)
    if not _claim(registration.uid, "refused", decided_by, reason):
        raise _refuse_decision(registration, decided_by, RppsPlusError(
            "already_decided", "Cette demande a déjà été traitée "
            f"({STATUS_LABELS.get(_status_now(registration.uid), '?')}).", 409))
    structure = db.session.get(Structure, registration.structure_id)
    record("rpps_plus.registration_refused", subject=decided_by,
           registration=registration.uid,
           structure=structure.technical_id if structure else "", reason=reason)
    db.session.commit()
    db.session.refresh(registration)
    return registration


def list_registrations(status: str | None = None, structure_ids: list[int] | None = None
                       ) -> list[RppsPlusRegistration]:
    query = select(RppsPlusRegistration).order_by(RppsPlusRegistration.created_at.desc(),
                                                  RppsPlusRegistration.id.desc())
    if status:
        if status not in STATUSES:
            raise RppsPlusError("unknown_status", f"Statut inconnu : « {status} » "
                                f"({', '.join(STATUSES)}).")
        query = query.where(RppsPlusRegistration.status == status)
    if structure_ids is not None:
        query = query.where(RppsPlusRegistration.structure_id.in_(structure_ids))
    return list(db.session.scalars(query))


def describe(registration: RppsPlusRegistration, *, contact: bool = True) -> dict[str, Any]:
    """A registration as JSON (the CLI); ``contact``: with the contact data (operator)."""
    structure = db.session.get(Structure, registration.structure_id)
    person = db.session.get(Professional, registration.professional_id) \
        if registration.professional_id else None
    data: dict[str, Any] = {
        "uid": registration.uid, "status": registration.status,
        "structure": structure.technical_id if structure else None,
        "finess": finess_of(structure) if structure else None,
        "manager": registration.manager_national_id,
        "civility_code": registration.civility_code, "family_name": registration.family_name,
        "given_names": registration.given_names,
        "birth_date": registration.birth_date.isoformat(),
        "birth_place_code": registration.birth_place_code,
        "practice_family_name": registration.practice_family_name,
        "practice_given_name": registration.practice_given_name,
        "profession_code": registration.profession_code, "role_code": registration.role_code,
        "started_on": registration.started_on.isoformat(),
        "created_at": registration.created_at.isoformat() + "Z",
        "decided_at": registration.decided_at.isoformat() + "Z"
        if registration.decided_at else None,
        "decided_by": registration.decided_by or None,
        "refusal_reason": registration.refusal_reason or None,
        "national_id": person.national_id if person else None,
        "rpps": person.rpps if person else None,
    }
    if contact:
        data["contact_email"] = registration.contact_email
        data["contact_mobile"] = registration.contact_mobile
    return data


# ------------------------------------------------------------------------ situations
@dataclass(frozen=True)
class Situation:
    activity: Activity
    professional: Professional
    profession_code: str


def situations(structure_ids: list[int]) -> list[Situation]:
    """The active RPPS+ situations (roles GENR08–GENR12) in these structures."""
    query = (select(Activity, Practice, Professional)
             .join(Practice, Activity.practice_id == Practice.id)
             .join(Professional, Practice.professional_id == Professional.id)
             .where(Activity.structure_id.in_(structure_ids),
                    Activity.activity_kind_code.in_(RPPS_PLUS_ROLES))
             .order_by(Professional.family_name, Professional.given_name, Activity.id))
    return [Situation(activity, professional, practice.profession_code)
            for activity, practice, professional in db.session.execute(query)
            if activity.is_active]


def end_situation(activity_id: int, *, manager: str | None, ended_on: date | None = None
                  ) -> Activity:
    """The employer ends the situation (seed 004: "il incombe à l'employeur de mettre fin à la
    situation professionnelle"). ``ended_on`` is the last day included (the directory's
    meaning); None: at once, the last day was yesterday, so no login from now on carries it.
    ``manager``: the national id whose MANAGER habilitation is required (None: operator).
    One conditional UPDATE: ending twice fails cleanly. Commits."""
    activity = db.session.get(Activity, activity_id) if 0 < activity_id < 2**31 else None
    if activity is None or activity.activity_kind_code not in RPPS_PLUS_ROLES:
        raise RppsPlusError("unknown_situation", "Situation inconnue.", 404)
    if manager is not None and not is_habilitated(manager, activity.structure_id, MANAGER):
        record("rpps_plus.access_refused", "failure", subject=manager, action="end_situation",
               activity=activity_id)
        db.session.commit()
        raise RppsPlusError("not_habilitated", "Vous n'êtes pas gestionnaire RPPS+ de cette "
                            "structure.", 403)
    last_day = ended_on or date.today() - timedelta(days=1)
    if ended_on is not None and activity.started_on and ended_on < activity.started_on:
        raise RppsPlusError("end_before_start", "La date de fin précède la prise de fonction.")
    result = db.session.execute(
        update(Activity).where(Activity.id == activity_id, Activity.ended_on.is_(None))
        .values(ended_on=last_day).execution_options(synchronize_session=False))
    if result.rowcount != 1:
        db.session.rollback()
        raise RppsPlusError("already_ended", "Cette situation est déjà terminée.", 409)
    person = activity.practice.professional
    record("rpps_plus.situation_ended", subject=person.national_id, activity=activity_id,
           structure=activity.structure.technical_id, ended_on=last_day.isoformat(),
           ended_by=manager or "operator")
    db.session.commit()
    db.session.refresh(activity)
    return activity


__all__ = ["AUTHORITY", "HABILITATION_KINDS", "MANAGER", "RppsPlusError", "describe",
           "end_situation", "grant_habilitation", "list_habilitations", "list_registrations",
           "refuse", "submit", "validate"]
