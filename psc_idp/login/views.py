"""Login pages: the LoginTransaction state machine over an ``Interaction``.

pending → (authenticator steps) → done (code issued) | failed (error sent to the RP) | expired.
Every POST carries the interaction's CSRF token and must come from the browser that started it.

The authorization endpoint opens the first configured means; every first-step page links to
the others (``/login/<uid>/<auth_id>``). A means that waits on something outside the browser
(the e-CPS push) answers PENDING: the form POST redirects (303) to ``…/finish``, which shows the
waiting page while the authenticator's ``poll`` says pending; the page's script long-polls
``…/status?wait=N`` and goes back to ``…/finish`` once it is not (the waits are woken by the
authenticator's ``wait_topics``, see ``wakeups.py``), where the login is completed
(code to the RP), failed (error to the RP) or offered again. See docs/ecps-login.md.
"""

from __future__ import annotations

import math
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from sqlalchemy import inspect as sa_inspect

from .. import waits
from ..audit import record
from ..authenticators import Authenticator, LoginContext, Outcome, StepResult
from ..db import db, utcnow
from ..html import protect
from ..oidc import (
    fail_interaction,
    finish_interaction,
    interaction_belongs_to_browser,
    interaction_store,
)
from ..oidc.errors import error_page
from ..oidc.models import Interaction
from ..oidc.server import query_client
from ..secret_compare import same_secret
from ..sessions.assurance import means_fits
from ..sse import Check, event_stream
from .i18n import pick_locale, translator

bp = Blueprint("login", __name__, url_prefix="/login")

MAX_WAIT = 25.0
"""Longest long-poll of the status endpoint, in seconds (under common proxy timeouts)."""


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
        authenticators=usable_authenticators(interaction), settings=settings,
        emulation=settings.emulation_enabled, **extra)
    return protect(Response(html, status=status, mimetype="text/html"))


def render_first_step(interaction: Interaction) -> Response:
    """The provider's interaction handler: the first configured means' first step (its page
    links to the other means). With ``persona`` first, GET /auth answers the persona form."""
    authenticators = usable_authenticators(interaction)
    ctx = _context(interaction)
    return _run_begin(interaction, next(iter(authenticators.values())), ctx)


def usable_authenticators(interaction: Interaction) -> dict[str, Authenticator]:
    """The means that meet what the RP asked (``acr_values`` level, psc-idp's ``auth_mode``);
    every configured means when none does (``acr_values`` are voluntary, OIDC Core §3.1.2.1:
    the tokens then say what was used)."""
    every = _provider().authenticators
    params = interaction.params
    fitting = {name: a for name, a in every.items()
               if means_fits(a.auth_mode, list(a.amr), params.get("acr_values", ""),
                             params.get("auth_mode", ""))}
    return fitting or every


def _load(uid: str) -> Interaction:
    interaction = interaction_store.load(uid[:64]) if uid else None
    if interaction is None:
        abort(error_page("invalid_request", "Unknown login request.", 400))
    ctx_locale = pick_locale(interaction.params.get("ui_locales", ""))
    t = translator(ctx_locale)
    if interaction.state != "pending":
        abort(error_page("invalid_request", t("expired"), 400))
    if utcnow() >= interaction.expires_at:
        interaction_store.advance(interaction, "pending", "expired")
        db.session.commit()
        abort(error_page("invalid_request", t("expired"), 400))
    if not interaction_belongs_to_browser(interaction):
        record("login.failure", "failure", client_id=interaction.client_id,
               reason="interaction_from_other_browser")
        db.session.commit()
        abort(error_page("invalid_request", t("other_browser"), 400))
    return interaction


def _authenticator(auth_id: str, interaction: Interaction) -> Authenticator:
    authenticator = usable_authenticators(interaction).get(auth_id)
    if authenticator is None:
        abort(error_page("invalid_request", "Unknown means of identification.", 404))
    return authenticator


def _check_csrf(interaction: Interaction) -> bool:
    sent = request.form.get("csrf", "")
    return same_secret(sent, interaction.csrf_token)  # bytes: a non-ASCII csrf is no 500


@bp.get("/<uid>")
def choose(uid: str) -> Response:
    """Every means on one page (several configured), else the only one's first step."""
    interaction = _load(uid)
    if len(usable_authenticators(interaction)) > 1:
        return _page("login/choose.html", interaction, _context(interaction))
    return render_first_step(interaction)


@bp.get("/<uid>/<auth_id>")
def begin(uid: str, auth_id: str) -> Response:
    interaction = _load(uid)
    return _run_begin(interaction, _authenticator(auth_id, interaction), _context(interaction))


def _run_begin(interaction: Interaction, authenticator: Authenticator,
               ctx: LoginContext) -> Response:
    step = authenticator.begin(ctx)
    return _apply(interaction, authenticator, ctx, step)


@bp.post("/<uid>/<auth_id>")
def resume(uid: str, auth_id: str) -> Response:
    interaction = _load(uid)
    authenticator = _authenticator(auth_id, interaction)
    ctx = _context(interaction)
    if not _check_csrf(interaction):
        record("login.failure", "failure", client_id=interaction.client_id, reason="csrf")
        db.session.commit()
        step = authenticator.begin(ctx)
        step.message = "csrf"
        return _apply(interaction, authenticator, ctx, step, status=400)
    step = authenticator.resume(ctx, request.form)
    if step.outcome is Outcome.PENDING:
        # Post/redirect/get: the waiting page is …/finish, so reloading it sends no new push.
        _save_data(interaction, authenticator, ctx)
        db.session.commit()
        response = redirect(_finish_url(interaction, authenticator), 303)
        response.headers["Cache-Control"] = "no-store"
        return response
    return _apply(interaction, authenticator, ctx, step)


def _finish_url(interaction: Interaction, authenticator: Authenticator) -> str:
    return url_for("login.finish", uid=interaction.uid, auth_id=authenticator.id)


def _json(body: dict[str, Any], status: int = 200) -> Response:
    response = jsonify(body)
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/<uid>/<auth_id>/status")
def status(uid: str, auth_id: str) -> Response:
    """For means that wait on something outside the browser (e-CPS): the page asks here.

    ``?wait=N`` (seconds, at most 25) long-polls: the answer comes as soon as the status is no
    longer pending, or after N seconds. Nothing is completed here: the page then goes to
    ``next`` (…/finish), which does. ``challenge`` is the e-CPS request's own status.
    """
    try:
        wait = float(request.args.get("wait", "0") or 0)
    except ValueError:
        wait = math.nan
    if wait > 0 and (early := waits.early_refusal(request.remote_addr or "")) is not None:
        return early  # no room to wait: 429/503 before any database work (waits.py)
    interaction = _load(uid)
    authenticator = _authenticator(auth_id, interaction)
    if math.isnan(wait):
        return _json({"error": "invalid_request",
                      "error_description": "wait must be a number of seconds"}, 400)
    ctx = _context(interaction)
    topics = authenticator.wait_topics(ctx)
    # A means with nothing to wait on (no push sent) answers at once; a wait takes one of the
    # process's wait slots (waits.py), and without one it answers at once too (short poll).
    seconds = min(max(wait, 0.0), MAX_WAIT) if topics else 0.0
    permit = _login_wait_permit(interaction) if seconds > 0 else waits.NO_WAIT
    try:
        step = _provider().wakeups.long_poll(
            topics, lambda: authenticator.poll(ctx),
            lambda step: step.outcome is not Outcome.PENDING,
            seconds if permit.granted else 0.0, _recheck_in)
    finally:
        permit.release()
    _save_data(interaction, authenticator, ctx)
    db.session.commit()
    body = _status_body(_finish_url(interaction, authenticator), step)
    if seconds > 0 and not permit.granted:
        body["retry_after"] = permit.retry_after  # the page asks again after that
        return waits.degraded(_json(body), permit)
    return _json(body)


def _login_wait_permit(interaction: Interaction) -> waits.Permit:
    """A wait slot for this login's page: per login, per client address, per process."""
    return waits.try_wait(f"login:{interaction.uid}", request.remote_addr or "")


def _recheck_in(step: StepResult) -> float:
    """Seconds until a pending step expires by itself (then it is looked at again)."""
    expires_in = step.context.get("expires_in")
    return float(expires_in) + 0.05 if isinstance(expires_in, int | float) else MAX_WAIT


def _status_body(finish_url: str, step: StepResult) -> dict[str, Any]:
    body: dict[str, Any] = {"status": step.outcome.value}
    if step.context.get("challenge_status"):
        body["challenge"] = step.context["challenge_status"]
    if step.outcome is Outcome.PENDING:
        if "expires_in" in step.context:
            body["expires_in"] = step.context["expires_in"]
    else:
        body["next"] = finish_url
    return body


@bp.get("/<uid>/<auth_id>/events")
def events(uid: str, auth_id: str) -> Response:
    """The status endpoint as Server-Sent Events (the waiting page's EventSource).

    A ``status`` event (the status endpoint's JSON) at once, then whenever the status changes;
    the stream ends after the first non-pending one, or after ``ecps.stream_max_duration``
    seconds (an ``end`` event: EventSource reconnects by itself). Heartbeat comments keep it
    open. Like the status endpoint, it completes nothing: the page then goes to ``next``.
    """
    early = waits.early_refusal(request.remote_addr or "")
    if early is not None:
        return early  # no room to wait: 429/503 before any database work (waits.py)
    interaction = _load(uid)
    authenticator = _authenticator(auth_id, interaction)
    ctx = _context(interaction)
    settings = _provider().settings.ecps
    finish_url = _finish_url(interaction, authenticator)
    topics = authenticator.wait_topics(ctx)
    permit = _login_wait_permit(interaction) if topics else waits.NO_WAIT
    if topics and not permit.granted:  # 429/503 at once: the page long-polls instead
        return waits.refused(permit)
    last: dict[str, Any] = {}

    def check() -> Check:
        # The stream runs after the view returned, in a new database session.
        step = authenticator.poll(ctx)
        pending = step.outcome is Outcome.PENDING
        if not pending:
            current = db.session.get(Interaction, uid)
            if current is not None:
                _save_data(current, authenticator, ctx)
        body = _status_body(finish_url, step)
        key = (body["status"], body.get("challenge"))
        recheck_in = _recheck_in(step)
        if last.get("key") == key:
            return Check(recheck_in=recheck_in)
        last["key"] = key
        # A means with nothing to wait on (no push sent): its status once, and the end.
        return Check([("status", body)], done=not pending or not topics,
                     recheck_in=recheck_in)

    try:
        response = event_stream(check, max_duration=settings.stream_max_duration,
                                heartbeat=settings.stream_heartbeat, topics=topics)
    except BaseException:
        permit.release()
        raise
    response.call_on_close(permit.release)  # the slot is held until the stream ends
    return response


@bp.get("/<uid>/<auth_id>/finish")
def finish(uid: str, auth_id: str) -> Response:
    """Where a waiting means ends: ``poll`` once more, then complete, fail, or keep waiting
    (the waiting page itself: the target of the form's redirect and of ``<noscript>``)."""
    interaction = _load(uid)
    authenticator = _authenticator(auth_id, interaction)
    ctx = _context(interaction)
    step = authenticator.poll(ctx)
    if step.outcome is Outcome.PENDING and not step.template:
        step = authenticator.begin(ctx)  # a means that never waits: its form
    return _apply(interaction, authenticator, ctx, step)


@bp.post("/<uid>/cancel")
def cancel(uid: str) -> Response:
    interaction = _load(uid)
    if not _check_csrf(interaction):
        return error_page("invalid_request", "Invalid form.", 400)
    ctx = _context(interaction)
    for authenticator in _provider().authenticators.values():
        abandon = getattr(authenticator, "abandon", None)
        if abandon is not None:  # e.g. withdraw a push still waiting on the phone
            abandon(ctx)
    return fail_interaction(interaction, "access_denied", "The professional cancelled the login")


def _save_data(interaction: Interaction, authenticator: Authenticator,
               ctx: LoginContext) -> None:
    """The means' state onto the interaction (written at the request's commit, or with its
    guarded transition). Which means is shown is not worth a write on a page view (GET): it
    is written with the first form posted to it, or with a new interaction's INSERT."""
    changed = ctx.data != (interaction.data or {})
    if changed:
        interaction.data = dict(ctx.data)
    if interaction.authenticator != authenticator.id and (
            changed or request.method != "GET" or sa_inspect(interaction).transient):
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
        retry.context.update(step.context)  # e.g. what was typed, the message's arguments
        return _render_step(interaction, authenticator, ctx, retry, 400)
    if not sa_inspect(interaction).transient:
        # (a new interaction's first page: its INSERT and the commit follow in the
        # authorization request, one transaction with what this request read)
        db.session.commit()
    return _render_step(interaction, authenticator, ctx, step, status)


def _render_step(interaction: Interaction, authenticator: Authenticator, ctx: LoginContext,
                 step: StepResult, status: int) -> Response:
    return _page(step.template or "login/choose.html", interaction, ctx, status,
                 authenticator=authenticator, step=step, message=step.message,
                 **step.context)


def _ascii(text: str) -> str:
    return text.encode("ascii", "replace").decode().replace('"', "'").replace("\\", "/")
