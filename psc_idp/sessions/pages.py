"""The professional's session pages (Keycloak's account console, narrowed): every live session
of the professional signed in on this browser, the services opened in each, and a button to
end one. Ending goes through ``logout.end_everywhere`` like any other logout."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import Blueprint, Response, redirect, request, url_for

from ..audit import record
from ..db import db
from ..directory.lookup import get_professional
from ..html import html_page
from ..login.i18n import pick_locale, translator
from ..oidc import urls
from ..secret_compare import same_secret
from .backchannel import dispatch
from .logout import end_by_id
from .queries import live_sessions
from .service import clear_session_cookie, current_session

bp = Blueprint("account", __name__)
try:
    PARIS: tzinfo = ZoneInfo("Europe/Paris")
except ZoneInfoNotFoundError:  # pragma: no cover - no tz database on the machine
    PARIS = UTC


def paris_time(at: datetime, label: str) -> str:
    """A stored time (naive UTC) as a professional reads it: ``01/12/2026 14:05 (heure de
    Paris, UTC+01:00)``, the offset shown so it matches a UTC log line without a table."""
    moment = (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(PARIS)
    offset = moment.strftime("%z") or "+0000"
    return f"{moment:%d/%m/%Y %H:%M} ({label}, UTC{offset[:3]}:{offset[3:]})"


@bp.app_template_filter("paris_time")
def paris_time_filter(at: datetime, label: str = "heure de Paris") -> str:
    """``{{ when|paris_time }}`` in any provider page (the outbox)."""
    return paris_time(at, label)

CSRF_COOKIE = "PSC_IDP_ACCOUNT_CSRF"


@bp.get(urls.ACCOUNT_SESSIONS)
def list_sessions() -> Response:
    locale = pick_locale(request.args.get("ui_locales", ""))
    current = current_session()
    db.session.commit()  # a session found idle or expired is ended now
    if current is None:
        return html_page("account_sessions.html", lang=locale, t=translator(locale),
                         sessions=[], current_sid="")
    token = secrets.token_urlsafe(24)
    t = translator(locale)
    professional = get_professional(current.professional_id)
    response = html_page("account_sessions.html", lang=locale, t=t,
                         current_sid=current.id, csrf=token,
                         sessions=live_sessions(current.professional_id),
                         professional=professional,
                         local_time=lambda at: paris_time(at, t("sessions_paris_time")))
    response.set_cookie(CSRF_COOKIE, token, httponly=True, samesite="Strict", path="/")
    return response


@bp.post(urls.ACCOUNT_SESSIONS)
def end_one() -> Response:
    from ..oidc.errors import error_page
    from ..oidc.logout import logged_out_page

    locale = pick_locale(request.form.get("ui_locales", ""))
    current = current_session()
    sent = request.form.get("csrf", "")
    if current is None or not same_secret(sent, request.cookies.get(CSRF_COOKIE, "")):
        record("logout.refused", "failure", reason="account_page_csrf_or_no_session")
        db.session.commit()
        return error_page("invalid_request", "Invalid form: reload the sessions page.", 400)
    sid = request.form.get("sid", "")
    outcome = end_by_id(sid, "account_page", professional_id=current.professional_id)
    if outcome is None:
        db.session.commit()
        return error_page("invalid_request", "No such session.", 400)
    db.session.commit()
    dispatch(outcome)
    if sid != current.id:
        return redirect(url_for("account.list_sessions"), code=303)
    response = logged_out_page(outcome, "", locale)
    clear_session_cookie(response)
    response.delete_cookie(CSRF_COOKIE, path="/")
    return response
