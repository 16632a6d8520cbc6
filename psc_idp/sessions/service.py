"""Finding, deciding on, creating and ending IdP sessions.

``decide`` is the SSO policy in one pure function: whether an authorization request may be
answered from the browser's session (OIDC Core §3.1.2.1 ``prompt``/``max_age``, a ``login_hint``
naming someone else, an ``acr`` the session does not satisfy).
"""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta

from flask import Response, current_app, g, request

from ..db import db, utcnow
from . import store
from .assurance import means_level, required_level
from .models import IdpSession

_TOUCH_EVERY = timedelta(seconds=60)


def _settings():
    return current_app.extensions["psc_idp"].settings


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def current_session() -> IdpSession | None:
    """The live session named by the browser's cookie, or None (expired, idle, ended, forged)."""
    settings = _settings().session
    cookie = request.cookies.get(settings.cookie_name)
    if not cookie or len(cookie) > 200:
        return None
    session = db.session.scalar(
        db.select(IdpSession).where(IdpSession.cookie_digest == _digest(cookie)))
    if session is None or session.ended_at is not None:
        return None
    now = utcnow()
    if now >= session.expires_at:
        end_session(session, "expired")
        return None
    if now - session.last_seen_at > timedelta(seconds=settings.idle_timeout):
        end_session(session, "idle")
        return None
    if now - session.last_seen_at > _TOUCH_EVERY:
        session.last_seen_at = now
    return session


@dataclass(frozen=True)
class SessionDecision:
    reuse: bool
    reason: str


def decide(session: IdpSession | None, *, prompt: set[str], max_age: int | None,
           hinted_professional_id: int | None, acr_values: list[str],
           auth_mode: str = "", now: int | None = None) -> SessionDecision:
    """Can this authorization request be answered from ``session`` without a login page?

    Reasons, checked in this order: ``no_session``, ``prompt_login``, ``max_age``,
    ``login_hint_other_professional``, ``acr_not_satisfied`` (a stronger level than the session's
    means reached), ``means_differs`` (``auth_mode`` names another means than the session's).
    """
    if session is None:
        return SessionDecision(False, "no_session")
    if "login" in prompt:
        return SessionDecision(False, "prompt_login")
    now = int(time.time()) if now is None else now
    if max_age is not None and (max_age == 0 or now - session.auth_time > max_age):
        return SessionDecision(False, "max_age")
    if hinted_professional_id is not None and hinted_professional_id != session.professional_id:
        return SessionDecision(False, "login_hint_other_professional")
    wanted = required_level(acr_values)
    if wanted is not None and means_level(session.auth_mode, session.amr or []) < wanted:
        return SessionDecision(False, "acr_not_satisfied")
    if auth_mode and auth_mode != session.auth_mode:
        return SessionDecision(False, "means_differs")
    return SessionDecision(True, "session_valid")


def establish_session(*, professional_id: int, auth_time: int, acr: str, amr: list[str],
                      auth_mode: str, authenticator: str,
                      previous: IdpSession | None) -> tuple[IdpSession, str]:
    """Record a fresh authentication; the cookie value is always new (rotated at login).

    Re-authenticating the same professional keeps the ``sid`` (the RPs' sessions go on);
    a different professional ends the previous session.
    """
    settings = _settings().session
    cookie = secrets.token_urlsafe(32)
    now = utcnow()
    if previous is not None and previous.professional_id == professional_id:
        session = previous
    else:
        if previous is not None:  # another professional on this browser: log the first out
            from .logout import end_everywhere

            if end_everywhere(previous, "replaced").deliveries:
                g.psc_idp_logout_queued = True  # see backchannel.dispatch_if_queued
        # A new session: one Core INSERT (store.py); the object stays transient.
        session = IdpSession(id=str(uuid.uuid4()), professional_id=professional_id,
                             cookie_digest=_digest(cookie), auth_time=auth_time, acr=acr,
                             amr=list(amr), auth_mode=auth_mode, authenticator=authenticator,
                             created_at=now, last_seen_at=now,
                             expires_at=now + timedelta(seconds=settings.lifetime),
                             ended_at=None, ended_reason="")
        store.insert_session(session)
        g.psc_idp_new_session = session.id  # see note_client
        return session, cookie
    session.cookie_digest = _digest(cookie)
    session.auth_time = auth_time
    session.acr = acr
    session.amr = list(amr)
    session.auth_mode = auth_mode
    session.authenticator = authenticator
    session.last_seen_at = now
    return session, cookie


def note_client(session: IdpSession, client_id: str) -> None:
    """Remember that ``client_id`` was served in ``session`` (a new session has no links yet)."""
    store.link_client(session.id, client_id, utcnow(),
                      new_session=g.get("psc_idp_new_session") == session.id)


def end_session(session: IdpSession, reason: str) -> None:
    from ..audit import record

    if session.ended_at is None:
        session.ended_at = utcnow()
        session.ended_reason = reason
        record("session.ended", "info", sid=session.id, reason=reason)


def clear_session_cookie(response: Response) -> None:
    settings = _settings().session
    response.delete_cookie(settings.cookie_name, path="/", domain=settings.cookie_domain or None)


def set_session_cookie(response: Response, cookie: str) -> None:
    settings = _settings()
    response.set_cookie(
        settings.session.cookie_name, cookie, max_age=settings.session.lifetime,
        httponly=True, samesite="Lax", path="/", domain=settings.session.cookie_domain or None,
        # https served here, or by a trusted proxy (X-Forwarded-Proto from [proxy] hops only)
        secure=settings.session.secure_cookie or settings.is_production or request.is_secure,
    )
