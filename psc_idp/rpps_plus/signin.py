"""Who is using the RPPS+ portal: the person signed in to psc-idp itself (the IdP session).

The portal is a relying service of the provider it lives in, as Keycloak's account console is
a client of its realm: an anonymous visitor is sent through a normal authorization request of
the public client ``psc-rpps-plus-portal`` (PKCE S256, registered on first use), so every
means of identification, SSO and the session's limits apply. On return the code is checked
(the portal's, issued to the browser's session, unused) and marked used; from then on the
portal reads the IdP session, like the professional's session page.

Forms carry a CSRF token derived from the IdP session (HMAC with the app's secret key): no
cookie to keep, and a token from another session is worthless.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from urllib.parse import urlencode

from flask import Response, current_app, redirect, request, url_for
from sqlalchemy.exc import IntegrityError

from ..db import db
from ..directory.models import Professional

PORTAL_CLIENT_ID = "psc-rpps-plus-portal"
LOGIN_COOKIE = "PSC_RPPS_PLUS_LOGIN"
RETURN_PATH = "/rpps-plus/connexion/retour"


def _settings():
    return current_app.extensions["psc_idp"].settings


def redirect_uri() -> str:
    return _settings().public_url.rstrip("/") + RETURN_PATH


def ensure_portal_client() -> None:
    """Register (or re-point) the portal's public client; a no-op when it is as it should be."""
    from ..admin.clients import upsert_client
    from ..config import ClientSeed
    from ..oidc.models import Client

    uri = redirect_uri()
    client = db.session.get(Client, PORTAL_CLIENT_ID)
    if client is not None and client.redirect_uris == [uri] and client.is_public:
        return
    try:
        upsert_client(ClientSeed(client_id=PORTAL_CLIENT_ID, name="Portail RPPS+",
                                 redirect_uris=[uri], auth_method="none"),
                      _settings(), source="rpps_plus")
        db.session.commit()
    except IntegrityError:  # two first visitors at once: the other one registered it
        db.session.rollback()


def current_person() -> Professional | None:
    """The person of the browser's live IdP session (None: anonymous, ended, blocked)."""
    from ..directory.lookup import get_professional
    from ..sessions.service import current_session

    session = current_session()
    db.session.commit()  # a session found idle or expired is ended now
    if session is None:
        return None
    person = get_professional(session.professional_id)
    if person is None or person.means_blocked or person.ended_on is not None:
        return None
    return person


def csrf_token() -> str:
    from ..sessions.service import current_session

    session = current_session()
    sid = session.id if session else ""
    key = current_app.secret_key
    assert isinstance(key, str | bytes) and key
    raw = key.encode() if isinstance(key, str) else key
    return hmac.new(raw, b"rpps-plus-form:" + sid.encode(), hashlib.sha256).hexdigest()


def csrf_ok() -> bool:
    from ..secret_compare import same_secret

    return same_secret(request.form.get("csrf", ""), csrf_token())


def _safe_next(target: str) -> str:
    """Only the portal's own pages (no open redirect)."""
    if target.startswith("/rpps-plus/") and "//" not in target and "\\" not in target:
        return target
    return "/rpps-plus/"


def start_login(next_path: str) -> Response:
    """An authorization request of the portal's client; state, PKCE verifier and where to go
    back are kept in a short-lived cookie of the portal's path."""
    from ..oidc import urls

    ensure_portal_client()
    state, verifier = secrets.token_urlsafe(24), secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()
                                         ).rstrip(b"=").decode()
    query = urlencode({"client_id": PORTAL_CLIENT_ID, "redirect_uri": redirect_uri(),
                       "response_type": "code", "scope": "openid", "state": state,
                       "nonce": secrets.token_urlsafe(16), "code_challenge": challenge,
                       "code_challenge_method": "S256", "ui_locales": "fr"})
    response = redirect(urls.AUTHORIZE + "?" + query, code=303)
    response.set_cookie(LOGIN_COOKIE, f"{state}.{_safe_next(next_path)}", max_age=900,
                        httponly=True, samesite="Lax", path="/rpps-plus",
                        secure=request.is_secure)
    return response


def finish_login() -> tuple[Response | None, str]:
    """Check the return of the authorization request: ``(redirect, "")`` when signed in,
    ``(None, French reason)`` otherwise."""
    from ..oidc import store
    from ..oidc.models import digest
    from ..secret_compare import same_secret
    from ..sessions.service import current_session

    kept = request.cookies.get(LOGIN_COOKIE, "")
    state, _, next_path = kept.partition(".")
    if not state or not same_secret(request.args.get("state", ""), state):
        return None, "La connexion a expiré ou ne vient pas de ce navigateur : recommencez."
    if request.args.get("error"):
        return None, "La connexion a été refusée ou annulée."
    code = request.args.get("code", "")
    session = current_session()
    row = store.find_code(digest(code)) if code else None
    if session is None or row is None or row.client_id != PORTAL_CLIENT_ID or \
            row.session_id != session.id:
        db.session.commit()
        return None, "La connexion n'a pas abouti : recommencez."
    used = store.claim_code(row.code_digest, None)  # the token endpoint's single-use claim
    db.session.commit()
    if not used:
        return None, "Ce retour de connexion a déjà servi : recommencez."
    response = redirect(_safe_next(next_path), code=303)
    response.delete_cookie(LOGIN_COOKIE, path="/rpps-plus")
    return response, ""


def login_url(next_path: str) -> str:
    return url_for("rpps_plus.login", next=next_path)
