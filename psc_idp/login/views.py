"""Login pages: the LoginTransaction state machine over an ``Interaction``.

pending → (authenticator steps) → done (code issued) | failed (error sent to the RP) | expired.
Every POST carries the interaction's CSRF token and must come from the browser that started it.
"""

from __future__ import annotations

import secrets
from typing import Any

from flask import Blueprint, Response, abort, current_app, jsonify, render_template, request

from ..audit import record
from ..authenticators import Authenticator, LoginContext, Outcome, StepResult
from ..db import db, utcnow
from ..oidc import fail_interaction, finish_interaction, interaction_belongs_to_browser
from ..oidc.errors import error_page
from ..oidc.models import Interaction
from ..oidc.server import query_client
from .i18n import pick_locale, translator

bp = Blueprint("login", __name__, url_prefix="/login")


def _provider():
    return current_app.extensions["psc_idp"]


def _context(interaction: Interaction) -> LoginContext:
    client = query_client(interaction.client_id)
    params = interaction.params
    return LoginContext(
        interaction_uid=interaction.uid, client_id=interaction.client_id,
        client_name=(client.name or client.client_id) if client else interaction.client_id,
        login_hint=params.get("login_hint", ""),
        ui_locale=pick_locale(params.get("ui_locales", "")), data=dict(interaction.data or {}),
        emulation_enabled=_provider().settings.emulation_enabled)


def _page(template: str, interaction: Interaction, ctx: LoginContext, status: int = 200,
          **extra: Any) -> Response:
    settings = _provider().settings
    html = render_template(
        template, interaction=interaction, ctx=ctx, t=translator(ctx.ui_locale),
        authenticators=_provider().authenticators, settings=settings,
        emulation=settings.emulation_enabled, **extra)
    response = Response(html, status=status, mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Content-Security-Policy"] = "frame-ancestors 'none'"
    return response


def render_first_step(interaction: Interaction) -> Response:
    """The provider's interaction handler: one means → its first step; several → a choice."""
    authenticators = _provider().authenticators
    ctx = _context(interaction)
    if len(authenticators) == 1:
        return _run_begin(interaction, next(iter(authenticators.values())), ctx)
    return _page("login/choose.html", interaction, ctx)


def _load(uid: str) -> Interaction:
    interaction = db.session.get(Interaction, uid[:64]) if uid else None
    if interaction is None:
        abort(error_page("invalid_request", "Unknown login request.", 400))
    ctx_locale = pick_locale(interaction.params.get("ui_locales", ""))
    t = translator(ctx_locale)
    if interaction.state != "pending":
        abort(error_page("invalid_request", t("expired"), 400))
    if utcnow() >= interaction.expires_at:
        interaction.state = "expired"
        db.session.commit()
        abort(error_page("invalid_request", t("expired"), 400))
    if not interaction_belongs_to_browser(interaction):
        record("login.failure", "failure", client_id=interaction.client_id,
               reason="interaction_from_other_browser")
        db.session.commit()
        abort(error_page("invalid_request", t("other_browser"), 400))
    return interaction


def _authenticator(auth_id: str) -> Authenticator:
    authenticator = _provider().authenticators.get(auth_id)
    if authenticator is None:
        abort(error_page("invalid_request", "Unknown means of identification.", 404))
    return authenticator


def _check_csrf(interaction: Interaction) -> bool:
    sent = request.form.get("csrf", "")
    return bool(sent) and secrets.compare_digest(sent, interaction.csrf_token)


@bp.get("/<uid>")
def choose(uid: str) -> Response:
    interaction = _load(uid)
    return render_first_step(interaction)


@bp.get("/<uid>/<auth_id>")
def begin(uid: str, auth_id: str) -> Response:
    interaction = _load(uid)
    return _run_begin(interaction, _authenticator(auth_id), _context(interaction))


def _run_begin(interaction: Interaction, authenticator: Authenticator,
               ctx: LoginContext) -> Response:
    step = authenticator.begin(ctx)
    return _apply(interaction, authenticator, ctx, step)


@bp.post("/<uid>/<auth_id>")
def resume(uid: str, auth_id: str) -> Response:
    interaction = _load(uid)
    authenticator = _authenticator(auth_id)
    ctx = _context(interaction)
    if not _check_csrf(interaction):
        record("login.failure", "failure", client_id=interaction.client_id, reason="csrf")
        db.session.commit()
        step = authenticator.begin(ctx)
        step.message = "csrf"
        return _apply(interaction, authenticator, ctx, step, status=400)
    step = authenticator.resume(ctx, request.form)
    return _apply(interaction, authenticator, ctx, step)


@bp.get("/<uid>/<auth_id>/status")
def status(uid: str, auth_id: str) -> Response:
    """For means that wait on something outside the browser (e-CPS): the page asks here."""
    interaction = _load(uid)
    authenticator = _authenticator(auth_id)
    ctx = _context(interaction)
    step = authenticator.poll(ctx)
    _save_data(interaction, authenticator, ctx)
    if step.outcome is Outcome.PENDING:
        db.session.commit()
        return jsonify({"status": "pending"})
    return jsonify({"status": step.outcome.value,
                    "next": f"/login/{interaction.uid}/{authenticator.id}/finish"})


@bp.post("/<uid>/cancel")
def cancel(uid: str) -> Response:
    interaction = _load(uid)
    if not _check_csrf(interaction):
        return error_page("invalid_request", "Invalid form.", 400)
    return fail_interaction(interaction, "access_denied", "The professional cancelled the login")


def _save_data(interaction: Interaction, authenticator: Authenticator,
               ctx: LoginContext) -> None:
    if ctx.data != (interaction.data or {}):
        interaction.data = dict(ctx.data)
    interaction.authenticator = authenticator.id


def _apply(interaction: Interaction, authenticator: Authenticator, ctx: LoginContext,
           step: StepResult, status: int = 200) -> Response:
    _save_data(interaction, authenticator, ctx)
    if step.outcome is Outcome.SUCCESS and step.result is not None:
        return finish_interaction(interaction, step.result)
    if step.outcome is Outcome.FAILURE:
        record("login.failure", "failure", client_id=interaction.client_id,
               authenticator=authenticator.id, reason=step.message or step.error)
        if step.final:
            return fail_interaction(interaction, step.error or "access_denied",
                                    _ascii(step.message or "Authentication failed"))
        db.session.commit()
        retry = authenticator.begin(ctx)
        retry.message = step.message
        return _render_step(interaction, authenticator, ctx, retry, 400)
    db.session.commit()
    return _render_step(interaction, authenticator, ctx, step, status)


def _render_step(interaction: Interaction, authenticator: Authenticator, ctx: LoginContext,
                 step: StepResult, status: int) -> Response:
    return _page(step.template or "login/choose.html", interaction, ctx, status,
                 authenticator=authenticator, step=step, message=step.message,
                 **step.context)


def _ascii(text: str) -> str:
    return text.encode("ascii", "replace").decode().replace('"', "'").replace("\\", "/")
