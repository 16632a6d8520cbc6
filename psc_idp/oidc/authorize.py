"""The authorization endpoint: validate, then answer from the SSO session, by test autologin,
or by handing an ``Interaction`` to the login pages; and ``finish_interaction`` for their return.

Errors go back to the RP only once the client and the exact redirect URI are known
(RFC 6749 §4.1.2.1); before that the browser gets an error page.
"""

from __future__ import annotations

import secrets
from dataclasses import asdict
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from authlib.common.urls import add_params_to_uri
from authlib.oauth2.rfc6749 import OAuth2Request
from authlib.oauth2.rfc6749.errors import OAuth2Error
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload
from authlib.oidc.core.errors import (
    ConsentRequiredError,
    InteractionRequiredError,
    LoginRequiredError,
)
from flask import Response, current_app, request
from werkzeug.datastructures import MultiDict

from ..audit import record
from ..authenticators.base import AuthResult
from ..db import db, utcnow
from ..directory.lookup import (
    find_for_login,
    get_professional,
    login_refusal,
    signed_in_professional,
)
from ..directory.store import ProfessionalView
from ..sessions import (
    IdpSession,
    SessionDecision,
    current_session,
    decide,
    establish_session,
    note_client,
    set_session_cookie,
)
from ..sessions.assurance import granted_acr, known_acr_values, means_level
from ..sessions.backchannel import dispatch_if_queued
from . import interaction_store, urls
from .checks import first, run_checks
from .consent import CONSENT_STATE, consent_page, needs_consent
from .errors import error_page, redirect_error
from .models import Client, Interaction, digest
from .tokens import AuthContext

INTERACTION_LIFETIME = timedelta(minutes=15)
BINDING_COOKIE = "PSC_IDP_LOGIN"


def _provider():
    return current_app.extensions["psc_idp"]


class StoredRequest(OAuth2Request):
    """An authorization request replayed from an ``Interaction`` when login finishes."""

    def __init__(self, params: dict[str, str], uri: str):
        super().__init__("GET", uri)
        self.payload = BasicOAuth2Payload(params)

    @property
    def args(self) -> dict[str, str]:
        return self.payload.data

    @property
    def form(self) -> dict[str, str]:
        return {}


def _request_params() -> MultiDict[str, str]:
    return request.form if request.method == "POST" else request.args


def authorization_endpoint() -> Response:
    provider = _provider()
    raw = _request_params()
    params = {k: raw.getlist(k) for k in raw}
    state = first(params, "state")[:512]

    client_id = first(params, "client_id")
    client = provider.server.query_client(client_id) if len(params.get("client_id", [])) == 1 \
        else None
    if client is None:
        record("authorize.refused", "failure", client_id=client_id[:200], reason="unknown_client")
        db.session.commit()
        return error_page("invalid_client", "Client not found.", 400)
    received = first(params, "redirect_uri")
    redirect_uri = received
    if len(params.get("redirect_uri", [])) > 1 or not redirect_uri:
        redirect_uri = "" if redirect_uri else (client.get_default_redirect_uri() or "")
    elif not client.check_redirect_uri(redirect_uri):
        redirect_uri = ""
    if not redirect_uri:
        hint = redirect_uri_hint(params.get("redirect_uri", []), list(client.redirect_uris))
        record("authorize.refused", "failure", client_id=client.client_id,
               reason="invalid_redirect_uri", redirect_uri=received[:500], hint=hint,
               registered=list(client.redirect_uris))
        db.session.commit()
        return error_page("invalid_request", "Invalid parameter: redirect_uri", 400,
                          details={"received": received[:500], "hint": hint,
                                   "client": client.client_id,
                                   "registered": list(client.redirect_uris)})

    try:
        run_checks(params, client, provider.settings)
    except OAuth2Error as error:
        record("authorize.refused", "failure", client_id=client.client_id, reason=error.error,
               description=error.description)
        db.session.commit()
        return redirect_error(redirect_uri, error, state)

    # A redirect_uri left out stays left out: the token request must then omit it too
    # (RFC 6749 §4.1.3); the default one is where the answer goes.
    single = {k: v[0] for k, v in params.items() if v}
    prompt = set(single.get("prompt", "").split())
    hinted = _hinted_professional(single.get("login_hint", ""))
    session = current_session()
    decision = decide(
        session, prompt=prompt,
        max_age=int(single["max_age"]) if single.get("max_age") else None,
        hinted_professional_id=hinted.id if hinted else None,
        acr_values=known_acr_values(single.get("acr_values", "")),
        auth_mode=single.get("auth_mode", ""))
    end_user = _context_from_session(session, single) if decision.reuse and session else None
    if decision.reuse and end_user is None:
        decision = SessionDecision(False, "means_blocked")

    # demo/test: a --test-autologin client naming a persona needs no page either, so it
    # satisfies prompt=none too.
    autologin = None if end_user is not None else _test_autologin(client, hinted)
    oauth_request = StoredRequest(single, request.url)
    try:
        grant = provider.server.get_consent_grant(oauth_request, end_user=end_user or autologin)
    except LoginRequiredError:  # prompt=none, and a page would be needed
        return _prompt_none_refusal(client, redirect_uri, state, decision.reason)
    except OAuth2Error as error:
        record("authorize.refused", "failure", client_id=client.client_id, reason=error.error,
               decision=decision.reason)
        db.session.commit()
        return redirect_error(redirect_uri, error, state)

    if end_user is not None and session is not None:
        scope = client.get_allowed_scope(single.get("scope", ""))
        if needs_consent(client, session.professional_id, scope, prompt):
            if "none" in prompt:
                return _prompt_none_refusal(client, redirect_uri, state, "consent_missing")
            return _start_interaction(client, single, consent_for=_result_from_session(session))
        record("login.sso", subject=end_user.professional.national_id,
               client_id=client.client_id, sid=session.id)
        return _issue_code(grant, oauth_request, end_user, session, cookie=None)

    if autologin is not None:
        return _complete(grant, oauth_request, autologin, client, session)

    return _start_interaction(client, single)


_LOOPBACK = {"localhost", "127.0.0.1", "::1"}


def redirect_uri_hint(received: list[str], registered: list[str]) -> str:
    """Why a redirect URI was refused, for the developer (the error page and the audit row):
    repeated, missing, or the nearest registered URI differing only by the loopback host name
    (the classic ``localhost`` vs ``127.0.0.1``), the trailing slash, the scheme or the port.
    The registered URIs are shown beside it, in every mode: they are where codes go, sent in
    every authorization request the RP makes, so no secret; the page and audit row name the
    client the request named, nothing else of it."""
    if len(received) > 1:
        return "repeated"
    if not received or not received[0]:
        return "missing"
    got = urlsplit(received[0])
    for uri in registered:
        want = urlsplit(uri)
        same_rest = (got.path, got.query) == (want.path, want.query)
        if same_rest and got.scheme == want.scheme and got.port == want.port and \
                got.hostname != want.hostname and \
                {got.hostname or "", want.hostname or ""} <= _LOOPBACK:
            return "localhost"
    for uri in registered:
        want = urlsplit(uri)
        if got.netloc == want.netloc and got.scheme == want.scheme and \
                got.path.rstrip("/") == want.path.rstrip("/") and got.query == want.query:
            return "slash"
        if got.netloc == want.netloc and (got.path, got.query) == (want.path, want.query):
            return "scheme"
        if got.hostname == want.hostname and got.scheme == want.scheme and \
                (got.path, got.query) == (want.path, want.query):
            return "port"
    return "exact"


def _prompt_none_refusal(client: Client, redirect_uri: str, state: str,
                         reason: str) -> Response:
    """OIDC Core §3.1.2.6: which page would have been needed, in the RP's terms."""
    error: OAuth2Error
    if reason == "consent_missing":
        error = ConsentRequiredError()
    elif reason in ("acr_not_satisfied", "means_differs"):
        error = InteractionRequiredError(description="A stronger or another means is needed")
    else:
        error = LoginRequiredError()
    record("authorize.refused", "failure", client_id=client.client_id, reason=error.error,
           decision=reason, prompt="none")
    db.session.commit()
    return redirect_error(redirect_uri, error, state)


def _hinted_professional(login_hint: str) -> ProfessionalView | None:
    if not login_hint:
        return None
    return find_for_login(login_hint[:64])


def _context_from_session(session: IdpSession, params: dict[str, str]) -> AuthContext | None:
    professional = get_professional(session.professional_id)
    if professional is None or login_refusal(professional):  # blocked, or left the directory
        return None
    return AuthContext(professional=professional, session_id=session.id,
                       auth_time=session.auth_time,
                       acr=_granted_acr(params, session.auth_mode, session.amr, session.acr),
                       amr=list(session.amr), auth_mode=session.auth_mode,
                       nonce=params.get("nonce", ""))


def _result_from_session(session: IdpSession) -> AuthResult:
    professional = get_professional(session.professional_id)
    return AuthResult(professional_id=session.professional_id,
                      national_id=professional.national_id if professional else "",
                      auth_mode=session.auth_mode, acr=session.acr, amr=list(session.amr),
                      auth_time=session.auth_time, authenticator=session.authenticator)


def _granted_acr(params: dict[str, str], auth_mode: str, amr: list[str], default: str) -> str:
    return granted_acr(known_acr_values(params.get("acr_values", "")),
                       means_level(auth_mode, amr), default)


def _test_autologin(client: Client, hinted: ProfessionalView | None) -> Any:
    """demo/test mode only: a ``--test-autologin`` client with a persona's id as login_hint."""
    provider = _provider()
    if not (client.test_autologin and hinted and provider.settings.emulation_enabled):
        return None
    persona = provider.autologin_authenticator
    if persona is None:
        return None
    step = persona.sign_in(hinted)
    return step.result


def _start_interaction(client: Client, params: dict[str, str],
                       consent_for: AuthResult | None = None) -> Response:
    """A login transaction bound to this browser: the login pages, or (already signed in)
    straight to the consent page."""
    provider = _provider()
    binding = secrets.token_urlsafe(24)
    interaction = Interaction(
        uid=secrets.token_urlsafe(24), client_id=client.client_id, params=params,
        csrf_token=secrets.token_urlsafe(24), browser_binding=digest(binding),
        expires_at=utcnow() + INTERACTION_LIFETIME)
    if consent_for is not None:
        interaction.state = CONSENT_STATE
        interaction.data = {"consent_for": asdict(consent_for)}
    else:
        interaction.state, interaction.authenticator, interaction.data = "pending", "", {}
    interaction.created_at = utcnow()
    response = consent_page(interaction, client) if consent_for is not None \
        else provider.interaction_handler(interaction)
    # One Core INSERT once the first page is known (its means and data go in the same row).
    interaction_store.insert(interaction)
    db.session.commit()
    response.set_cookie(BINDING_COOKIE, binding, httponly=True, samesite="Lax", path="/",
                        secure=provider.settings.is_production or
                        provider.settings.session.secure_cookie,
                        max_age=int(INTERACTION_LIFETIME.total_seconds()))
    return response


def interaction_belongs_to_browser(interaction: Interaction) -> bool:
    binding = request.cookies.get(BINDING_COOKIE, "")
    return bool(binding) and secrets.compare_digest(digest(binding), interaction.browser_binding)


def finish_interaction(interaction: Interaction, result: Any) -> Response:
    """Called by ``login/`` with an ``AuthResult``: consent if the client wants it, then the
    session, the code, and the redirect back to the RP."""
    client = _provider().server.query_client(interaction.client_id)
    if client is None or interaction.state != "pending":
        return error_page("invalid_request", "This login has already been used.", 400)
    params = dict(interaction.params)
    scope = client.get_allowed_scope(params.get("scope", ""))
    if needs_consent(client, result.professional_id, scope, set(params.get("prompt", "").split())):
        if not interaction_store.advance(
                interaction, "pending", CONSENT_STATE,
                data={**(interaction.data or {}), "consent_for": asdict(result)}):
            return already_used(interaction)
        db.session.commit()
        return consent_page(interaction, client)
    return _finish(interaction, client, result, "pending")


def complete_after_consent(interaction: Interaction) -> Response:
    client = _provider().server.query_client(interaction.client_id)
    if client is None:
        return error_page("invalid_request", "This login has already been used.", 400)
    return _finish(interaction, client, AuthResult(**interaction.data["consent_for"]),
                   CONSENT_STATE)


def already_used(interaction: Interaction) -> Response:
    """Another request moved this login on first (a double submission, a second tab): what
    this one did is rolled back, and it gets the login's "expired" page."""
    from ..login.i18n import pick_locale, translator

    locale = pick_locale((interaction.params or {}).get("ui_locales", ""))
    db.session.rollback()
    return error_page("invalid_request", translator(locale)("expired"), 400)


def _finish(interaction: Interaction, client: Client, result: AuthResult,
            expected: str) -> Response:
    provider = _provider()
    params = dict(interaction.params)
    redirect_uri = _redirect_target(client, params)
    # First, before anything is issued: of two submissions at once, one only goes on.
    if not interaction_store.advance(interaction, expected, "done"):
        return already_used(interaction)
    session = current_session()
    oauth_request = StoredRequest(params, urls.absolute(provider.settings.wallet_base,
                                                        urls.WALLET_AUTHORIZE))
    try:
        grant = provider.server.get_consent_grant(oauth_request, end_user=result)
    except OAuth2Error as error:
        db.session.commit()
        return redirect_error(redirect_uri, error, params.get("state", ""))
    return _complete(grant, oauth_request, result, client, session)


def fail_interaction(interaction: Interaction, error: str, description: str) -> Response:
    """The authenticator ended the request (denied, blocked): tell the RP in OAuth terms."""
    if not interaction_store.advance(interaction, interaction.state, "failed"):
        return already_used(interaction)
    params = interaction.params
    record("login.failure", "failure", client_id=interaction.client_id, reason=error,
           description=description)
    db.session.commit()
    err = OAuth2Error(description=description, error=error)
    client = _provider().server.query_client(interaction.client_id)
    target = _redirect_target(client, params)
    if not target:
        return error_page(error, description, 400)
    return redirect_error(target, err, params.get("state", ""))


def _redirect_target(client: Client | None, params: dict[str, str]) -> str:
    if params.get("redirect_uri"):
        return params["redirect_uri"]
    return (client.get_default_redirect_uri() or "") if client is not None else ""


def _complete(grant: Any, oauth_request: StoredRequest, result: Any, client: Client,
              previous: IdpSession | None) -> Response:
    professional = signed_in_professional(result.professional_id)
    session, cookie = establish_session(
        professional_id=result.professional_id, auth_time=result.auth_time, acr=result.acr,
        amr=result.amr, auth_mode=result.auth_mode, authenticator=result.authenticator,
        previous=previous)
    record("login.success", subject=result.national_id, client_id=client.client_id,
           authenticator=result.authenticator, auth_mode=result.auth_mode, acr=result.acr,
           sid=session.id)
    params = oauth_request.payload.data
    ctx = AuthContext(professional=professional, session_id=session.id,
                      auth_time=result.auth_time,
                      acr=_granted_acr(params, result.auth_mode, result.amr, result.acr),
                      amr=list(result.amr), auth_mode=result.auth_mode,
                      nonce=params.get("nonce", ""))
    return _issue_code(grant, oauth_request, ctx, session, cookie)


def _add_session_state(response: Response, session_id: str) -> None:
    """Keycloak adds ``session_state`` (OIDC Session Management 1.0 §2) to every successful
    authorization response; RPs built for PSC read it, others ignore it."""
    location = response.headers.get("Location", "")
    if response.status_code == 302 and "code=" in location:
        response.headers["Location"] = add_params_to_uri(location,
                                                         [("session_state", session_id)])


def _issue_code(grant: Any, oauth_request: StoredRequest, ctx: AuthContext,
                session: IdpSession, cookie: str | None) -> Response:
    provider = _provider()
    oauth_request.user = ctx
    response = provider.server.create_authorization_response(
        request=oauth_request, grant_user=ctx, grant=grant)
    _add_session_state(response, session.id)
    note_client(session, oauth_request.client.client_id)
    db.session.commit()
    dispatch_if_queued()
    if cookie is not None:
        set_session_cookie(response, cookie)
    response.headers["Cache-Control"] = "no-store"
    return response

