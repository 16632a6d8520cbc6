"""RP-Initiated Logout 1.0 at PSC's end-session path (reference §7).

The ``post_logout_redirect_uri`` is honoured only when it exactly matches one registered for the
client named by a valid ``id_token_hint`` (expired hints are fine) or ``client_id``. Without a
hint the professional confirms on a page first (a logout CSRF guard, §2 of the spec).
Ending the session fans out (``sessions/logout.py``): tokens of the session revoked (offline ones
kept), back-channel logout tokens POSTed in the background, and this page's iframes load the
front-channel URIs before going on to ``post_logout_redirect_uri``. ``ui_locales`` picks the
pages' language.
"""

from __future__ import annotations

import secrets
from typing import Any

from authlib.common.urls import add_params_to_uri
from flask import Response, current_app, redirect, request
from joserfc import jwt
from joserfc.errors import JoseError

from ..audit import record
from ..db import db
from ..fidelity import behaves
from ..html import html_page, protect
from ..login.i18n import pick_locale, translator
from ..sessions import clear_session_cookie, current_session
from ..sessions.backchannel import dispatch
from ..sessions.logout import LogoutOutcome, end_everywhere
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


def _refuse(reason: str, description: str, client_id: str = "") -> Response:
    record("logout.refused", "failure", client_id=client_id[:200], reason=reason)
    db.session.commit()
    return error_page("invalid_request", description, 400)


def logout_endpoint() -> Response:
    provider = current_app.extensions["psc_idp"]
    values = request.form if request.method == "POST" else request.args
    locale = pick_locale(values.get("ui_locales", ""))
    hint = values.get("id_token_hint", "")
    claims = _hint_claims(hint)
    if hint and claims is None:
        return _refuse("invalid_id_token_hint", "Invalid parameter: id_token_hint")
    client_id = values.get("client_id", "") or (claims or {}).get("azp", "")
    if claims and values.get("client_id") and values["client_id"] != claims.get("azp"):
        return _refuse("client_id_mismatch", "client_id does not match id_token_hint",
                       values["client_id"])
    client = db.session.get(Client, client_id[:200]) if client_id else None
    target = values.get("post_logout_redirect_uri", "")
    if target and (client is None or target not in (client.post_logout_redirect_uris or [])):
        return _refuse("invalid_post_logout_redirect_uri",
                       "Invalid parameter: post_logout_redirect_uri", client_id)

    session = current_session()
    confirmed = request.method == "POST" and values.get("confirm") == "yes" and \
        secrets.compare_digest(values.get("csrf", "-"), request.cookies.get(CSRF_COOKIE, "+"))
    hint_matches = claims is not None and session is not None and \
        claims.get("sid") == session.id
    if session is not None and not (hint_matches or confirmed):
        token = secrets.token_urlsafe(24)
        response = html_page("logout_confirm.html", csrf=token, values=values, lang=locale,
                             t=translator(locale), client=client)
        response.set_cookie(CSRF_COOKIE, token, httponly=True, samesite="Strict", path="/")
        return response

    outcome = None
    if session is not None:
        outcome = end_everywhere(session, "rp_logout" if hint_matches else "user_logout")
        for listener in provider.logout_listeners:
            listener(session)
    db.session.commit()
    if outcome is not None:
        dispatch(outcome)

    keep_state = not behaves(provider.settings, "logout_without_state", client)
    if target and values.get("state") and keep_state:
        target = add_params_to_uri(target, [("state", values["state"])])
    response = logged_out_page(outcome, target, locale)
    clear_session_cookie(response)
    response.delete_cookie(CSRF_COOKIE, path="/")
    return response


def logged_out_page(outcome: LogoutOutcome | None, target: str, locale: str) -> Response:
    """Straight to ``target`` when no RP needs an iframe; otherwise a page that loads the
    front-channel URIs (Front-Channel Logout 1.0 §4) and then goes on to ``target``."""
    frames = outcome.frontchannel_uris if outcome else []
    if target and not frames:
        return protect(redirect(target, code=302))
    if frames:
        record("logout.frontchannel_sent", sid=outcome.session_id, uris=frames)
        db.session.commit()
    return html_page("logged_out.html", frames=frames, target=target, lang=locale,
                     t=translator(locale))
