"""The directory admin API (JSON): professionals, situations, structures, imports.

Described by an OpenAPI 3.1 document served at ``/api/admin/directory/openapi.json``
(``admin/openapi/directory.json``). Every change goes through ``directory/manage.py``, the
functions the ``psc-idp directory`` commands call too, and is audited.

Access (docs/admin-api.md): ``Authorization: Bearer <key_id>.<secret>`` (``psc-idp admin-key
create``). In production mode the API answers 404 until an unrevoked key exists, then always
asks for one; in demo and test mode it asks for a key as soon as one exists and is open before
(like the emulation admin API). Errors are ``{"error", "error_description"}`` (French) with
400, 401, 404 or 409; bodies are bounded (``jsonbody``).
"""

from __future__ import annotations

import json
from datetime import date
from functools import cache
from importlib import resources
from typing import Any

from flask import Blueprint, Response, current_app, g, jsonify, request

from .. import jsonbody
from ..audit import record
from ..db import db
from ..directory import manage
from ..directory.manage import ManageError

bp = Blueprint("directory_api", __name__, url_prefix="/api/admin/directory")

REALM = "psc-idp-directory"
_REFUSALS = {
    "missing": "une clé d'API est requise : Authorization: Bearer <key_id>.<secret>",
    "malformed": "en-tête Authorization illisible : Bearer <key_id>.<secret> attendu",
    "unknown": "clé d'API inconnue ou secret erroné",
    "wrong_secret": "clé d'API inconnue ou secret erroné",
    "revoked": "clé d'API révoquée",
}


def _error(status: int, error: str, description: str) -> Response:
    response = jsonify({"error": error, "error_description": description})
    response.status_code = status
    return response


@bp.errorhandler(ManageError)
def _refused(exc: ManageError) -> Response:
    db.session.rollback()
    return _error(exc.status, exc.error, exc.description)


@bp.before_request
def _authenticate() -> Response | None:
    """The access policy: see the module doc."""
    from .api_keys import any_active_key, check_authorization

    production = current_app.extensions["psc_idp"].settings.is_production
    keys_exist = any_active_key()
    if production and not keys_exist:
        return _error(404, "not_found", "ressource introuvable")
    if not keys_exist:
        g.admin_actor = "open"  # demo/test mode without any key: open, like /api/admin
        return None
    verdict = check_authorization(request.headers.get("Authorization"))
    if verdict.key is not None:
        g.admin_actor = verdict.key.key_id
        return None
    record("admin.api_key_refused", "failure", reason=verdict.reason, path=request.path[:200])
    db.session.commit()
    response = _error(401, "invalid_token" if verdict.reason != "missing" else "unauthorized",
                      _REFUSALS[verdict.reason])
    challenge = f'Bearer realm="{REALM}"'
    if verdict.reason != "missing":
        challenge += ', error="invalid_token"'
    response.headers["WWW-Authenticate"] = challenge
    return response


def _actor() -> str:
    return "api:" + g.get("admin_actor", "?")


def _body() -> dict[str, Any]:
    try:
        return jsonbody.read_object()
    except jsonbody.JsonBodyError as exc:
        raise manage.invalid(_FRENCH_BODY_ERRORS.get(exc.description, exc.description)) \
            from None


def _optional_body() -> dict[str, Any]:
    """An optional JSON object (an empty body is ``{}``)."""
    return _body() if request.get_data(cache=True) else {}


_FRENCH_BODY_ERRORS = {
    "The body is not valid JSON.": "le corps de la requête n'est pas du JSON valide",
    "A JSON object body is required.": "un objet JSON est attendu dans le corps de la requête",
    f"The JSON body is larger than {jsonbody.MAX_BYTES} bytes.":
        f"le corps JSON dépasse {jsonbody.MAX_BYTES} octets",
    f"The JSON body is nested deeper than {jsonbody.MAX_DEPTH} levels.":
        f"le corps JSON est imbriqué sur plus de {jsonbody.MAX_DEPTH} niveaux",
}


def _page_bounds() -> tuple[int, int]:
    """``offset`` and ``limit`` of a listing's query string, checked."""
    return manage.page_bounds(request.args.get("offset"), request.args.get("limit"))


def _ended_on() -> date | None:
    """The end actions' optional body ``{"ended_on": "AAAA-MM-JJ"}``, checked."""
    data = _optional_body()
    manage.only_fields(data, {"ended_on"})
    return manage.parse_date(data.get("ended_on"), "ended_on")


def _page_json(total: int, offset: int, limit: int, items: list[Any]) -> dict[str, Any]:
    return {"total": total, "offset": offset, "limit": limit, "items": items}


def _changed(data: Any, status: int = 200) -> Response:
    db.session.commit()
    response = jsonify(data)
    response.status_code = status
    return response


# ----------------------------------------------------------------------------- the document

@cache
def openapi_document() -> dict[str, Any]:
    return json.loads(resources.files("psc_idp.admin").joinpath("openapi", "directory.json")
                      .read_text(encoding="utf-8"))


@bp.get("/openapi.json")
def openapi() -> Response:
    return jsonify(openapi_document())


# ----------------------------------------------------------------------------- professionals

@bp.get("/professionals")
def professionals() -> Response:
    offset, limit = _page_bounds()
    total, rows = manage.list_professionals(
        national_id=request.args.get("national_id") or None,
        name=request.args.get("name") or None,
        profession=request.args.get("profession") or None, offset=offset, limit=limit)
    return jsonify(_page_json(total, offset, limit,
                              [manage.professional_summary(p) for p in rows]))


@bp.post("/professionals")
def create_professional() -> Response:
    row = manage.create_professional(_body(), actor=_actor())
    return _changed(manage.professional_json(row), 201)


@bp.get("/professionals/<path:national_id>")
def professional(national_id: str) -> Response:
    return jsonify(manage.professional_json(manage.get_professional(national_id)))


@bp.patch("/professionals/<path:national_id>")
def update_professional(national_id: str) -> Response:
    row = manage.update_professional(national_id, _body(), actor=_actor())
    return _changed(manage.professional_json(row))


@bp.post("/professionals/<path:national_id>/end")
def end_professional(national_id: str) -> Response:
    row = manage.end_professional(national_id, actor=_actor(), ended_on=_ended_on())
    db.session.commit()
    return jsonify(manage.professional_json(manage.get_professional(row.national_id)))


@bp.post("/professionals/<path:national_id>/situations")
def add_situation(national_id: str) -> Response:
    row = manage.add_situation(national_id, _body(), actor=_actor())
    return _changed(_situation(row), 201)


# ----------------------------------------------------------------------------- situations

def _situation(row: Any) -> dict[str, Any]:
    """A situation with its professional's national id and profession (the API's shape)."""
    return {"national_id": row.practice.professional.national_id,
            "profession_code": row.practice.profession_code, **manage.situation_json(row)}


@bp.get("/situations/<int:situation_id>")
def situation(situation_id: int) -> Response:
    return jsonify(_situation(manage.get_situation(situation_id)))


@bp.post("/situations/<int:situation_id>/end")
def end_situation(situation_id: int) -> Response:
    row = manage.end_situation(situation_id, actor=_actor(), ended_on=_ended_on())
    return _changed(_situation(row))


# ----------------------------------------------------------------------------- structures

@bp.get("/structures")
def structures() -> Response:
    offset, limit = _page_bounds()
    total, rows = manage.list_structures(name=request.args.get("name") or None,
                                         sector=request.args.get("sector") or None,
                                         offset=offset, limit=limit)
    return jsonify(_page_json(total, offset, limit, [manage.structure_json(s) for s in rows]))


@bp.post("/structures")
def create_structure() -> Response:
    row = manage.create_structure(_body(), actor=_actor())
    return _changed(manage.structure_json(row), 201)


@bp.get("/structures/<technical_id>")
def structure(technical_id: str) -> Response:
    return jsonify(manage.structure_json(manage.get_structure(technical_id)))


@bp.patch("/structures/<technical_id>")
def update_structure(technical_id: str) -> Response:
    row = manage.update_structure(technical_id, _body(), actor=_actor())
    return _changed(manage.structure_json(row))


# ----------------------------------------------------------------------------- imports

@bp.get("/imports")
def imports() -> Response:
    offset, limit = _page_bounds()
    total, rows = manage.list_imports(offset=offset, limit=limit)
    return jsonify(_page_json(total, offset, limit, [manage.import_json(r) for r in rows]))


@bp.get("/imports/<int:import_id>")
def directory_import(import_id: int) -> Response:
    """One import with a page of its rejected lines (``offset``/``limit`` page them)."""
    run = manage.get_import(import_id)
    offset, limit = _page_bounds()
    total, rows = manage.import_rejections(import_id, offset=offset, limit=limit)
    return jsonify({**manage.import_json(run), "rejections": _page_json(
        total, offset, limit,
        [{"line_number": r.line_number, "reason": r.reason} for r in rows])})
