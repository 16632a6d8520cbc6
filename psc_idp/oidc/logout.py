"""RP-Initiated Logout 1.0 at PSC's end-session path (reference §7).

The ``post_logout_redirect_uri`` is honoured only when it exactly matches one registered for the
client named by a valid ``id_token_hint`` (expired hints are fine) or ``client_id``. Without a
hint the professional confirms on a page first (a logout CSRF guard, §2 of the spec).
Back- and front-channel fan-out belong to the SSO issue and plug in via
``provider.logout_listeners``.
"""

from __future__ import annotations

import secrets
from typing import Any

from authlib.common.urls import add_params_to_uri
from flask import Response, current_app, redirect, render_template, request
from joserfc import jwt
from joserfc.errors import JoseError

from ..db import db
from ..sessions import current_session, end_session
from .errors import error_page
from .models import Client

CSRF_COOKIE = "PSC_IDP_LOGOUT_CSRF"


def _hint_claims(hint: str) -> dict[str, Any] | None:
    if not hint or len(hint) > 8192:
        return None
    provider = current_app.extensions["psc_idp"]
    try:
        decoded = jwt.decode(hint, provider.keys.public_key_set(), algorithms=["RS256"])
    except (JoseError, ValueError):
        return None
    claims = dict(decoded.claims)
    if claims.get("iss") != provider.settings.issuer:
        return None
    return claims


def logout_endpoint() -> Response:
    provider = current_app.extensions["psc_idp"]
    values = request.form if request.method == "POST" else request.args
    hint = values.get("id_token_hint", "")
    claims = _hint_claims(hint)
    if hint and claims is None:
        return error_page("invalid_request", "Invalid parameter: id_token_hint", 400)
    client_id = values.get("client_id", "") or (claims or {}).get("azp", "")
    if claims and values.get("client_id") and values["client_id"] != claims.get("azp"):
        return error_page("invalid_request", "client_id does not match id_token_hint", 400)
    client = db.session.get(Client, client_id) if client_id else None
    target = values.get("post_logout_redirect_uri", "")
    if target and (client is None or target not in (client.post_logout_redirect_uris or [])):
        return error_page("invalid_request", "Invalid parameter: post_logout_redirect_uri", 400)

    session = current_session()
    confirmed = request.method == "POST" and values.get("confirm") == "yes" and \
        secrets.compare_digest(values.get("csrf", "-"), request.cookies.get(CSRF_COOKIE, "+"))
    hint_matches = claims is not None and session is not None and \
        claims.get("sid") == session.id
    if session is not None and not (hint_matches or confirmed):
        token = secrets.token_urlsafe(24)
        html = render_template("logout_confirm.html", csrf=token, values=values)
        response = Response(html, mimetype="text/html")
        response.set_cookie(CSRF_COOKIE, token, httponly=True, samesite="Strict", path="/")
        return response

    if session is not None:
        end_session(session, "rp_logout" if hint_matches else "user_logout")
        for listener in provider.logout_listeners:
            listener(session)
    db.session.commit()

    if target:
        params = []
        if values.get("state") and not provider.settings.quirks.logout_without_state:
            params.append(("state", values["state"]))
        response = redirect(add_params_to_uri(target, params) if params else target, code=302)
    else:
        response = Response(render_template("logged_out.html"), mimetype="text/html")
    response.delete_cookie(provider.settings.session.cookie_name, path="/",
                           domain=provider.settings.session.cookie_domain or None)
    response.delete_cookie(CSRF_COOKIE, path="/")
    response.headers["Cache-Control"] = "no-store"
    return response
