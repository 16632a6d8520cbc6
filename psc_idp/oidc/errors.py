"""Protocol errors in the protocol's own format, worded and shaped like Keycloak's.

- to the RP: a redirect with ``error``, ``error_description``, ``state`` and ``iss`` (RFC 9207);
- to a browser when no safe redirect exists: an HTML error page (JSON if the caller asks for it);
- from JSON endpoints: ``{"error": ..., "error_description": ...}`` with the right status.
"""

from __future__ import annotations

from typing import Any

from authlib.common.urls import add_params_to_uri
from authlib.oauth2.rfc6749.errors import OAuth2Error
from flask import Response, current_app, jsonify, redirect, render_template, request
from werkzeug.exceptions import HTTPException


def _issuer() -> str:
    return current_app.extensions["psc_idp"].settings.issuer


def redirect_error(redirect_uri: str, error: OAuth2Error, state: str) -> Response:
    params = [("error", error.error)]
    if error.description:
        params.append(("error_description", error.description))
    if state:
        params.append(("state", state))
    params.append(("iss", _issuer()))
    response = redirect(add_params_to_uri(redirect_uri, params), code=302)
    response.headers["Cache-Control"] = "no-store"
    return response


def wants_json() -> bool:
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json" and request.accept_mimetypes[best] > \
        request.accept_mimetypes["text/html"]


def error_page(error: str, description: str, status: int,
               details: dict[str, Any] | None = None) -> Response:
    """``details``: what the RP's developer needs to fix the request, shown under the error
    (a redirect URI mismatch: ``received``, ``registered``, ``client``, ``hint`` key). The JSON
    answer stays Keycloak's two fields."""
    if wants_json():
        response = json_error(error, description, status)
    else:
        from ..login.i18n import has_text, pick_locale, translator

        locale = pick_locale(_ui_locales())
        t = translator(locale)
        # a person reads a French sentence; the protocol's code and wording stay as a detail
        key = "error_text_" + error
        message = t(key) if has_text(key) else description
        html = render_template("error.html", error=error, description=description,
                               message=message, details=details or {}, lang=locale, t=t)
        response = Response(html, status=status, mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    return response


def _ui_locales() -> str:
    """``ui_locales`` of the request, if it can be read (a body too large to parse is the very
    error being shown: then the query string only)."""
    try:
        return str(request.values.get("ui_locales", ""))
    except HTTPException:
        return str(request.args.get("ui_locales", ""))


def json_error(error: str, description: str, status: int,
               headers: dict[str, str] | None = None) -> Response:
    response = jsonify({"error": error, "error_description": description})
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    response.headers["Cache-Control"] = "no-store"
    return response
