"""RP-Initiated Logout 1.0 at PSC's end-session path (reference §7), as Keycloak ≥ 18 answers it.

- ``id_token_hint`` must be an ID token of this provider: our signature and ``iss``, ``typ: ID``
  (an access, refresh or logout token is refused), ``azp`` a registered client. Expired hints
  are accepted (Keycloak does not check ``exp``; RP-Initiated Logout 1.0 §4: the OP SHOULD).
  ``client_id``, when sent, must be the hint's ``azp``.
- The ``post_logout_redirect_uri`` is honoured only when it exactly matches one registered for
  the client named by the hint or ``client_id``; ``state`` is added to it.
- A browser whose cookie names the hint's session is logged out at once. A browser holding
  another live session, or a request with no valid hint, gets a confirmation page first (a
  logout CSRF guard, §2 of the spec).
- **Non-browser logout** (Keycloak's name): a valid hint and no live session cookie (an RP's
  server calling with only ``id_token_hint``) ends the hint's session (its ``sid``) if it is
  still live, and answers as Keycloak: a 302 to ``post_logout_redirect_uri`` (with ``state``),
  else the 200 "logged out" page. A session already over gives the same answer (idempotent).
- An empty ``id_token_hint=`` is Keycloak's 400 "Invalid parameter: id_token_hint" in the psc
  profile; the strict profile treats it as absent (RFC 6749 §3.1).

Ending a session fans out (``sessions/logout.py``): tokens of the session revoked (offline ones
kept), back-channel logout tokens POSTed in the background, and the logged-out page's iframes
load the front-channel URIs before going on to ``post_logout_redirect_uri``. ``ui_locales``
picks the pages' language.
"""

from __future__ import annotations

import secrets
from typing import Any

from authlib.common.urls import add_params_to_uri
from flask import Response, current_app, redirect, request
from joserfc import jwt
from joserfc.errors import JoseError

from ..audit import record
from ..db import db, utcnow
from ..fidelity import behaves
from ..html import html_page, protect
from ..login.i18n import pick_locale, translator
from ..secret_compare import same_secret
from ..sessions import clear_session_cookie, current_session
from ..sessions.backchannel import dispatch
from ..sessions.logout import LogoutOutcome, end_everywhere
from ..sessions.models import IdpSession
from ..sessions.service import end_session
from .client_cache import ClientView
from .errors import error_page
from .server import query_client

CSRF_COOKIE = "PSC_IDP_LOGOUT_CSRF"
ID_TOKEN_TYP = "ID"  # noqa: S105 (a token type, not a secret)
"""Keycloak's ``typ`` claim of ID tokens (access tokens say ``Bearer``, refresh ``Refresh``)."""
NON_BROWSER = "rp_logout_non_browser"
EMPTY_HINT_REFUSED = "logout_empty_id_token_hint_refused"
INVALID_HINT = "Invalid parameter: id_token_hint"


def _hint_claims(hint: str) -> tuple[dict[str, Any] | None, str]:
    """The claims of a valid ``id_token_hint`` and '', or None and why it is refused."""
    if len(hint) > 8192:
        return None, "invalid_id_token_hint"
    provider = current_app.extensions["psc_idp"]
    try:
        decoded = jwt.decode(hint, provider.keys.public_key_set(), algorithms=["RS256"])
        claims = dict(decoded.claims)
    except (JoseError, ValueError, TypeError, KeyError):
        return None, "invalid_id_token_hint"
    if claims.get("iss") != provider.settings.issuer:
        return None, "id_token_hint_other_issuer"
    if claims.get("typ") != ID_TOKEN_TYP:
        return None, "id_token_hint_not_an_id_token"
    if not isinstance(claims.get("azp", ""), str) or not isinstance(claims.get("sid", ""), str):
        return None, "invalid_id_token_hint"
    return claims, ""


def _empty_hint_refused(client: ClientView | None) -> bool:
    """Keycloak refuses ``id_token_hint=`` (psc); RFC 6749 §3.1 treats it as absent (strict)."""
    return behaves(current_app.extensions["psc_idp"].settings, EMPTY_HINT_REFUSED, client)


def _refuse(reason: str, description: str, client_id: str = "") -> Response:
    record("logout.refused", "failure", client_id=client_id[:200], reason=reason)
    db.session.commit()
    return error_page("invalid_request", description, 400)


def _end_hinted_session(sid: str) -> LogoutOutcome | None:
    """Keycloak's non-browser logout: end the hint's session if it is still live, fanned out
    as every logout. None when it is already over (ended, or past its lifetime)."""
    session = db.session.get(IdpSession, sid[:36]) if sid else None
    if session is None or session.ended_at is not None:
        return None
    if utcnow() >= session.expires_at:
        end_session(session, "expired")  # timed out: not fanned out, as Keycloak
        return None
    outcome = end_everywhere(session, NON_BROWSER)
    for listener in current_app.extensions["psc_idp"].logout_listeners:
        listener(session)
    return outcome


def logout_endpoint() -> Response:
    provider = current_app.extensions["psc_idp"]
    values = request.form if request.method == "POST" else request.args
    locale = pick_locale(values.get("ui_locales", ""))
    asked_client_id = values.get("client_id", "")
    hint = values.get("id_token_hint", "")
    if "id_token_hint" in values and not hint:
        named = query_client(asked_client_id[:200]) if asked_client_id else None
        if _empty_hint_refused(named):
            return _refuse("empty_id_token_hint", INVALID_HINT, asked_client_id)
    claims, why = _hint_claims(hint) if hint else (None, "")
    if claims is None and why:
        return _refuse(why, INVALID_HINT, asked_client_id)
    hinted_client_id = (claims or {}).get("azp", "")
    if claims and asked_client_id and asked_client_id != hinted_client_id:
        return _refuse("client_id_mismatch", INVALID_HINT, asked_client_id)
    client_id = asked_client_id or hinted_client_id
    client = query_client(client_id[:200]) if client_id else None  # the client cache
    if claims and client is None:
        return _refuse("id_token_hint_unknown_client", INVALID_HINT, client_id)
    target = values.get("post_logout_redirect_uri", "")
    if target and (client is None or target not in (client.post_logout_redirect_uris or [])):
        return _refuse("invalid_post_logout_redirect_uri",
                       "Invalid parameter: post_logout_redirect_uri", client_id)

    session = current_session()
    hinted_sid = (claims or {}).get("sid", "")
    confirmed = request.method == "POST" and values.get("confirm") == "yes" and \
        same_secret(values.get("csrf", ""), request.cookies.get(CSRF_COOKIE, ""))
    hint_matches = claims is not None and session is not None and hinted_sid == session.id
    if session is not None and not (hint_matches or confirmed):
        token = secrets.token_urlsafe(24)
        response = html_page("logout_confirm.html", csrf=token, values=values, lang=locale,
                             t=translator(locale), client=client)
        response.set_cookie(CSRF_COOKIE, token, httponly=True, samesite="Strict", path="/")
        return response

    outcome = hinted = None
    if session is not None:
        outcome = end_everywhere(session, "rp_logout" if hint_matches else "user_logout")
        for listener in provider.logout_listeners:
            listener(session)
    if claims is not None and not hint_matches:
        hinted = _end_hinted_session(hinted_sid)
    db.session.commit()
    for ended in (outcome, hinted):
        if ended is not None:
            dispatch(ended)

    keep_state = not behaves(provider.settings, "logout_without_state", client)
    if target and values.get("state") and keep_state:
        target = add_params_to_uri(target, [("state", values["state"])])
    if session is None and target:  # no browser session: Keycloak redirects at once
        response = protect(redirect(target, code=302))
    else:
        response = logged_out_page(outcome, target, locale, also=hinted)
    clear_session_cookie(response)
    response.delete_cookie(CSRF_COOKIE, path="/")
    return response


def logged_out_page(outcome: LogoutOutcome | None, target: str, locale: str,
                    also: LogoutOutcome | None = None) -> Response:
    """Straight to ``target`` when no RP needs an iframe; otherwise a page that loads the
    front-channel URIs (Front-Channel Logout 1.0 §4) and then goes on to ``target``."""
    frames: list[str] = []
    for ended in (outcome, also):
        if ended is not None and ended.frontchannel_uris:
            frames += ended.frontchannel_uris
            record("logout.frontchannel_sent", sid=ended.session_id,
                   uris=ended.frontchannel_uris)
    if target and not frames:
        return protect(redirect(target, code=302))
    if frames:
        db.session.commit()
    return html_page("logged_out.html", frames=frames, target=target, lang=locale,
                     t=translator(locale), frame_src=frames)  # CSP frame-src: their origins
