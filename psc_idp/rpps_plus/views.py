"""The RPPS+ portal's pages (French): a structure's manager registers professionals and ends
their situations, the registration authority validates or refuses.

Who is who comes from the IdP session (``signin.py``); what they may do from their
habilitations on each structure (``StructureHabilitation``), checked on every request. Every
form carries the session's CSRF token. The work itself is in ``service.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from functools import wraps
from typing import Any

from flask import Blueprint, Response, redirect, request, url_for

from ..db import db
from ..directory.models import Professional, Structure
from ..html import html_page
from . import signin
from .form import FIELDS, check_registration, parse_date, profession_choices, role_choices
from .models import AUTHORITY, MANAGER, RppsPlusRegistration

bp = Blueprint("rpps_plus", __name__, url_prefix="/rpps-plus")


def _page(template: str, status: int = 200, **context: Any) -> Response:
    from . import service

    return html_page(template, status, lang="fr", csrf=signin.csrf_token(),
                     KIND_LABELS=service.KIND_LABELS, STATUS_LABELS=service.STATUS_LABELS,
                     **context)


def _message(title: str, text: str, status: int, person: Professional | None = None
             ) -> Response:
    return _page("rpps_plus/message.html", status, title=title, text=text, person=person)


def _signed_in() -> Professional | Response:
    """The signed-in person, or the redirection of an anonymous visitor to the login."""
    person = signin.current_person()
    if person is None:
        back = request.full_path.rstrip("?") if request.method == "GET" else "/rpps-plus/"
        return redirect(signin.login_url(back), code=303)
    return person


def _refused(person: Professional, action: str, **details: Any) -> Response:
    from ..audit import record
    from . import events  # noqa: F401

    record("rpps_plus.access_refused", "failure", subject=person.national_id, action=action,
           **details)
    db.session.commit()
    return _message("Accès refusé", "Vous n'avez pas l'habilitation RPPS+ nécessaire pour "
                    "cette page (gestionnaire RPPS+ ou autorité d'enregistrement de la "
                    "structure).", 403, person)


def _bad_form(person: Professional) -> Response:
    return _message("Formulaire expiré", "Le formulaire a expiré ou ne vient pas de cette "
                    "session : rechargez la page et recommencez.", 400, person)


def _structure(technical_id: str) -> Structure | None:
    return db.session.scalar(db.select(Structure).filter_by(technical_id=technical_id))


# ------------------------------------------------------------------------ sign-in
@bp.get("/connexion")
def login() -> Response:
    return signin.start_login(request.args.get("next", "/rpps-plus/"))


@bp.get("/connexion/retour")
def login_return() -> Response:
    response, reason = signin.finish_login()
    if response is None:
        return _message("Connexion impossible", reason, 400)
    return response


# ------------------------------------------------------------------------ home
@bp.get("/")
def home() -> Response:
    from . import service

    person = _signed_in()
    if isinstance(person, Response):
        return person
    managed = service.habilitated_structures(person.national_id, MANAGER)
    authority = service.habilitated_structures(person.national_id, AUTHORITY)
    if not managed and not authority:
        return _refused(person, "home")
    pending = service.list_registrations("submitted", [s.id for s in authority]) \
        if authority else []
    mine = service.list_registrations(None, [s.id for s in managed]) if managed else []
    return _page("rpps_plus/home.html", person=person, managed=managed, authority=authority,
                 pending=pending, mine=mine[:50], structures=_names(managed + authority))


def _names(structures: list[Structure]) -> dict[int, Structure]:
    return {s.id: s for s in structures}


# ------------------------------------------------------------------------ registration
def _manager_of(technical_id: str) -> tuple[Professional, Structure] | Response:
    from . import service

    person = _signed_in()
    if isinstance(person, Response):
        return person
    structure = _structure(technical_id)
    if structure is None or not service.is_habilitated(person.national_id, structure.id,
                                                       MANAGER):
        return _refused(person, "manage", structure=technical_id[:40])
    return person, structure


def _for_manager(view: Callable[[Professional, Structure], Response]
                 ) -> Callable[[str], Response]:
    """A structure page for its managers only: the view gets the person and the structure."""
    @wraps(view)
    def checked(technical_id: str) -> Response:
        found = _manager_of(technical_id)
        return found if isinstance(found, Response) else view(*found)
    return checked


def _form_page(person: Professional, structure: Structure, values: dict[str, str],
               errors: dict[str, str], status: int = 200) -> Response:
    from .service import finess_of

    return _page("rpps_plus/register.html", status, person=person, structure=structure,
                 finess=finess_of(structure), values=values, errors=errors,
                 professions=profession_choices(), roles=role_choices(),
                 today=date.today().isoformat())


@bp.get("/structures/<technical_id>/enregistrer")
@_for_manager
def register_form(person: Professional, structure: Structure) -> Response:
    return _form_page(person, structure, {"civility_code": "", "started_on":
                                          date.today().isoformat()}, {})


@bp.post("/structures/<technical_id>/enregistrer")
@_for_manager
def register(person: Professional, structure: Structure) -> Response:
    from . import service

    if not signin.csrf_ok():
        return _bad_form(person)
    values = {name: str(request.form.get(name, ""))[:300] for name in FIELDS}
    data, errors = check_registration(request.form)
    if data is None:
        return _form_page(person, structure, values, errors, 400)
    try:
        registration = service.submit(structure, person.national_id, data)
    except service.RppsPlusError as exc:
        db.session.rollback()
        return _form_page(person, structure, values, {"_form": exc.message}, exc.status)
    return redirect(url_for("rpps_plus.show", uid=registration.uid, submitted=1), code=303)


# ------------------------------------------------------------------------ one registration
def _registration_for(uid: str) -> tuple[Professional, RppsPlusRegistration, bool, bool
                                         ] | Response:
    """The person, the registration and whether they manage / are the authority of its
    structure; refused when neither."""
    from . import service

    person = _signed_in()
    if isinstance(person, Response):
        return person
    registration = service.find_registration(uid)
    if registration is None:
        return _message("Demande inconnue", "Cette demande n'existe pas.", 404, person)
    manager = service.is_habilitated(person.national_id, registration.structure_id, MANAGER)
    authority = service.is_habilitated(person.national_id, registration.structure_id,
                                       AUTHORITY)
    if not (manager or authority):
        return _refused(person, "registration", registration=uid[:40])
    return person, registration, manager, authority


@bp.get("/demandes/<uid>")
def show(uid: str) -> Response:
    from . import service

    found = _registration_for(uid)
    if isinstance(found, Response):
        return found
    person, registration, _, authority = found
    structure = db.session.get(Structure, registration.structure_id)
    created = db.session.get(Professional, registration.professional_id) \
        if registration.professional_id else None
    return _page("rpps_plus/registration.html", person=person, r=registration,
                 structure=structure, finess=service.finess_of(structure) if structure else "",
                 can_decide=authority and registration.status == "submitted",
                 created=created, submitted=request.args.get("submitted") == "1",
                 decision_error=None, labels=_labels(registration))


def _labels(registration: RppsPlusRegistration) -> dict[str, str]:
    return {"profession": dict(profession_choices()).get(registration.profession_code,
                                                         registration.profession_code),
            "role": dict(role_choices()).get(registration.role_code, registration.role_code)}


@bp.post("/demandes/<uid>/valider")
def validate(uid: str) -> Response:
    return _decide(uid, "validate")


@bp.post("/demandes/<uid>/refuser")
def refuse(uid: str) -> Response:
    return _decide(uid, "refuse")


def _decide(uid: str, decision: str) -> Response:
    from . import service

    found = _registration_for(uid)
    if isinstance(found, Response):
        return found
    person, registration, _, authority = found
    if not signin.csrf_ok():
        return _bad_form(person)
    if not authority:
        return _refused(person, decision, registration=uid[:40])
    try:
        if decision == "validate":
            service.validate(uid, decided_by=person.national_id, authority=person.national_id)
        else:
            service.refuse(uid, request.form.get("reason", ""), decided_by=person.national_id,
                           authority=person.national_id)
    except service.RppsPlusError as exc:
        db.session.rollback()
        db.session.refresh(registration)
        structure = db.session.get(Structure, registration.structure_id)
        return _page("rpps_plus/registration.html", exc.status, person=person, r=registration,
                     structure=structure,
                     finess=service.finess_of(structure) if structure else "",
                     can_decide=registration.status == "submitted", created=None,
                     submitted=False, decision_error=exc.message,
                     labels=_labels(registration))
    return redirect(url_for("rpps_plus.show", uid=uid), code=303)


# ------------------------------------------------------------------------ situations
def _situations_page(person: Professional, structure: Structure, ended: str = "",
                     error: str | None = None, status: int = 200) -> Response:
    from . import service

    return _page("rpps_plus/situations.html", status, person=person, structure=structure,
                 situations=service.situations([structure.id]),
                 professions=dict(profession_choices()), roles=dict(role_choices()),
                 ended=ended, error=error)


@bp.get("/structures/<technical_id>/situations")
@_for_manager
def situations(person: Professional, structure: Structure) -> Response:
    return _situations_page(person, structure, ended=request.args.get("ended", ""))


@bp.post("/situations/<int:activity_id>/terminer")
def end_situation(activity_id: int) -> Response:
    from ..directory.models import Activity
    from . import service

    person = _signed_in()
    if isinstance(person, Response):
        return person
    if not signin.csrf_ok():
        return _bad_form(person)
    activity = db.session.get(Activity, activity_id) if activity_id < 2**31 else None
    if activity is None:
        return _message("Situation inconnue", "Cette situation n'existe pas.", 404, person)
    structure = activity.structure
    text = str(request.form.get("ended_on", "")).strip()
    ended_on = parse_date(text) if text else None
    error = "Date de fin invalide (format AAAA-MM-JJ)." if text and ended_on is None else None
    if error is None:
        try:
            service.end_situation(activity_id, manager=person.national_id, ended_on=ended_on)
        except service.RppsPlusError as exc:
            db.session.rollback()
            if exc.status == 403:
                return _refused(person, "end_situation", activity=activity_id)
            error = exc.message
    if error is not None:
        if not service.is_habilitated(person.national_id, structure.id, MANAGER):
            return _refused(person, "end_situation", activity=activity_id)
        return _situations_page(person, structure, error=error, status=400)
    return redirect(url_for("rpps_plus.situations", technical_id=structure.technical_id,
                            ended=activity_id), code=303)
