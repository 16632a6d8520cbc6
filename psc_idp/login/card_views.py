"""The card login's own steps, beside the login state machine of ``views.py``.

- ``GET /login/<uid>/card/tls``, on the client-certificate listener only (the CPS middleware,
  here the virtual reader, presents the card there): the card is checked
  (``credentials.card_check``); accepted, the interaction gets a single-use ticket and the
  answer is a 303 to the main host's return step; refused, a French 403 page (header
  ``X-PSC-IDP-Card-Refusal``) and the card page on the main host says why. The reader has no
  browser cookie, so the interaction is loaded by uid alone (pending and not expired).
- ``GET /login/<uid>/card/return?ticket=…``, main host, bound to the browser that started the
  login: the ticket is spent, the card checked again at this moment (a card declared lost in
  between is refused), and the login completes (session, code to the RP).
- ``POST /login/<uid>/card/abandon`` (the interaction's CSRF token): the reader reports a card
  blocked, too many wrong PINs or a cancel; the RP gets ``access_denied``.

See docs/card-login.md.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization
from flask import Blueprint, Response, current_app, redirect, render_template, request
from sqlalchemy.orm.attributes import flag_modified

from ..audit import record
from ..authenticators import Authenticator, LoginContext
from ..db import db, utcnow
from ..html import protect
from ..oidc import fail_interaction
from ..oidc.models import Interaction
from ..secret_compare import same_secret
from .i18n import pick_locale, translator
from .views import _apply, _context, _load, usable_authenticators

bp = Blueprint("card_login", __name__, url_prefix="/login")

CARD = "card"
ABANDON_REASONS = ("card_blocked", "pin_failed", "cancelled")
REFUSAL_HEADER = "X-PSC-IDP-Card-Refusal"


def _provider() -> Any:
    return current_app.extensions["psc_idp"]


def _card_page(status: int, message: str, *, reason: str = "",
               interaction: Interaction | None = None) -> Response:
    """A French page for the card steps (refusals and errors; never a 500)."""
    settings = _provider().settings
    locale = pick_locale(interaction.params.get("ui_locales", "")) if interaction else "fr"
    base = settings.wallet_base
    links = {}
    if interaction is not None and interaction.state == "pending":
        links = {"card": f"{base}/login/{interaction.uid}/card",
                 "choose": f"{base}/login/{interaction.uid}"}
    html = render_template("login/card_refused.html", t=translator(locale), lang=locale,
                           message=message, reason=reason, links=links, settings=settings,
                           emulation=settings.emulation_enabled)
    response = protect(Response(html, status=status, mimetype="text/html"))
    if reason:
        response.headers[REFUSAL_HEADER] = reason
    return response


def _pending_by_uid(uid: str) -> tuple[Interaction | None, str]:
    """The interaction for the reader (no browser cookie): (interaction, "") or (None, why)."""
    interaction = db.session.get(Interaction, uid[:64]) if uid else None
    if interaction is None:
        return None, "card_unknown_login"
    if interaction.state != "pending":
        return None, "expired"
    if utcnow() >= interaction.expires_at:
        interaction.state = "expired"
        db.session.commit()
        return None, "expired"
    return interaction, ""


def _card_means(interaction: Interaction) -> Authenticator | None:
    return usable_authenticators(interaction).get(CARD)


def _check(chain: list[Any], settings: Any) -> Any:
    """``check_presented_card``; anything unreadable is a refusal, never a 500."""
    from ..credentials.card_check import CardRefused, check_presented_card

    try:
        return check_presented_card(chain, settings)
    except CardRefused:
        raise
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        raise CardRefused("malformed") from exc


def _stored_chain(card: dict[str, Any]) -> list[Any]:
    """The chain kept at the TLS step; unreadable (never, short of an edited row): none,
    which the check refuses as ``no_certificate``."""
    from cryptography import x509

    try:
        return [x509.load_pem_x509_certificate(str(p).encode()) for p in card.get("chain", [])]
    except (ValueError, TypeError):
        return []


def _save(interaction: Interaction, ctx: LoginContext) -> None:
    interaction.data = dict(ctx.data)
    flag_modified(interaction, "data")


@bp.get("/<uid>/card/tls")
def tls_step(uid: str) -> Response:
    """The card presented in the TLS handshake (listener only)."""
    from ..credentials.card_check import CardRefused
    from ..mtls.presented import came_through_listener, presented_chain

    t = translator("fr")
    if not came_through_listener(request):
        return _card_page(400, t("card_not_on_listener"))
    interaction, problem = _pending_by_uid(uid)
    if interaction is None:
        return _card_page(400, t(problem))
    authenticator = _card_means(interaction)
    if authenticator is None:
        return _card_page(400, t("card_not_offered"), interaction=interaction)
    ctx = _context(interaction)
    settings = _provider().settings
    chain = presented_chain(request)
    try:
        checked = _check(chain, settings)
    except CardRefused as refused:
        authenticator.refused(ctx, refused.reason, refused.message_fr)  # type: ignore[attr-defined]
        _save(interaction, ctx)
        record("card.refused", "failure", subject=refused.national_id,
               client_id=interaction.client_id, reason=refused.reason,
               card_serial=refused.card_serial, national_id=refused.national_id,
               step="tls")
        db.session.commit()
        return _card_page(403, refused.message_fr, reason=refused.reason,
                          interaction=interaction)
    pem = [c.public_bytes(serialization.Encoding.PEM).decode() for c in chain]
    ticket = authenticator.presented(ctx, checked, pem)  # type: ignore[attr-defined]
    _save(interaction, ctx)
    interaction.authenticator = CARD
    record("card.presented", subject=checked.national_id, client_id=interaction.client_id,
           card_serial=checked.card_serial, card_type=checked.card_type,
           national_id=checked.national_id)
    db.session.commit()
    response = redirect(f"{settings.wallet_base}/login/{interaction.uid}/card/return"
                        f"?ticket={ticket}", 303)
    response.headers["Cache-Control"] = "no-store"
    return response


def _lock(interaction: Interaction) -> None:
    """Hold the login's row until the commit, then read it again: PostgreSQL ``FOR UPDATE``;
    SQLite has no row lock, so a no-op UPDATE takes the database's single write lock (a
    concurrent return waits, then sees the ticket already spent)."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.refresh(interaction, with_for_update=True)
        return
    db.session.execute(sa.update(Interaction).where(Interaction.uid == interaction.uid)
                       .values(uid=Interaction.uid))
    db.session.refresh(interaction)


@bp.get("/<uid>/card/return")
def card_return(uid: str) -> Response:
    """The browser back on the main host with the ticket: the login completes."""
    from ..credentials.card_check import CardRefused
    from ..mtls.presented import came_through_listener

    interaction = _load(uid)
    _lock(interaction)  # one redemption at a time, whatever the number of processes
    t = translator(pick_locale(interaction.params.get("ui_locales", "")))
    if interaction.state != "pending":
        db.session.commit()
        return _card_page(400, t("expired"))
    authenticator = _card_means(interaction)
    if authenticator is None:
        db.session.commit()
        return _card_page(400, t("card_not_offered"), interaction=interaction)
    ctx = _context(interaction)
    problem, card = authenticator.redeem(  # type: ignore[attr-defined]
        ctx, str(request.args.get("ticket", "")))
    _save(interaction, ctx)
    if problem:
        record("card.refused", "failure", client_id=interaction.client_id, reason=problem,
               step="return", came_through_listener=came_through_listener(request))
        db.session.commit()
        return _card_page(400, t(problem), reason=problem, interaction=interaction)
    try:
        _check(_stored_chain(card), _provider().settings)  # the card now: lost in between?
    except CardRefused as refused:
        authenticator.refused(ctx, refused.reason, refused.message_fr)  # type: ignore[attr-defined]
        _save(interaction, ctx)
        record("card.refused", "failure", subject=refused.national_id or card["national_id"],
               client_id=interaction.client_id, reason=refused.reason,
               card_serial=refused.card_serial or card["serial"],
               national_id=refused.national_id or card["national_id"], step="return")
        db.session.commit()
        return _card_page(403, refused.message_fr, reason=refused.reason,
                          interaction=interaction)
    step = authenticator.complete(card)  # type: ignore[attr-defined]
    return _apply(interaction, authenticator, ctx, step)


@bp.post("/<uid>/card/abandon")
def abandon(uid: str) -> Response:
    """The reader gives up (card blocked, PIN failed, cancelled): the RP gets access_denied.

    Checked by the interaction's CSRF token only: the reader's page may post it from another
    origin, where the browser does not send the binding cookie (SameSite=Lax)."""
    t = translator("fr")
    interaction, problem = _pending_by_uid(uid)
    if interaction is None:
        return _card_page(400, t(problem))
    if not same_secret(request.form.get("csrf", ""), interaction.csrf_token):
        record("login.failure", "failure", client_id=interaction.client_id, reason="csrf",
               authenticator=CARD)
        db.session.commit()
        return _card_page(400, t("csrf"), interaction=interaction)
    reason = request.form.get("reason", "")
    if reason not in ABANDON_REASONS:
        reason = "cancelled"
    record("card.refused", "failure", client_id=interaction.client_id, reason=reason,
           reported_by="reader", step="abandon")
    return fail_interaction(interaction, "access_denied",
                            f"The card login was abandoned: {reason}")



# ----------------------------------------------------------------------------- CIBA channel=CARD
ciba_bp = Blueprint("ciba_card", __name__, url_prefix="/ciba/card")


def _ciba_csrf(challenge_id: str, card_serial: str) -> str:
    """A form token bound to the request and the card (stateless: an HMAC under the app's
    secret). The browser presents the card by itself on every request to the listener, so a
    page elsewhere must not be able to post an approval."""
    import hashlib
    import hmac

    key = str(current_app.secret_key or "").encode()
    return hmac.new(key, f"ciba-card.{challenge_id}.{card_serial}".encode(),
                    hashlib.sha256).hexdigest()


def _ciba_card() -> tuple[Any, Response | None]:
    """The card presented on this request, checked as for a login: (checked, None) or
    (None, a French refusal page)."""
    from ..credentials.card_check import CardRefused
    from ..mtls.presented import came_through_listener, presented_chain

    if not came_through_listener(request):
        return None, _card_page(400, translator("fr")("card_not_on_listener"))
    try:
        return _check(presented_chain(request), _provider().settings), None
    except CardRefused as refused:
        record("card.refused", "failure", subject=refused.national_id, reason=refused.reason,
               card_serial=refused.card_serial, national_id=refused.national_id, step="ciba")
        db.session.commit()
        return None, _card_page(403, refused.message_fr, reason=refused.reason)


def _ciba_page(checked: Any, requests_: list[Any], status: int = 200, done: str = "") -> Response:
    settings = _provider().settings
    now = _provider().clock.now()
    rows = [{"id": c.id, "service": c.service_name, "binding": c.binding_code,
             "expires_in": max(int((c.expires_at - now).total_seconds()), 0),
             "csrf": _ciba_csrf(c.id, checked.card_serial)} for c in requests_]
    html = render_template("login/card_ciba.html", t=translator("fr"), lang="fr",
                           requests=rows, holder=checked.national_id, done=done,
                           settings=settings, emulation=settings.emulation_enabled)
    return protect(Response(html, status=status, mimetype="text/html"))


@ciba_bp.get("")
def ciba_list() -> Response:
    """The card holder's CIBA requests waiting for the card (``channel=CARD``)."""
    from ..oidc.ciba import pending_card_requests

    checked, refusal = _ciba_card()
    if refusal is not None:
        return refusal
    return _ciba_page(checked, pending_card_requests(checked.professional_id))


@ciba_bp.get("/<challenge_id>")
def ciba_one(challenge_id: str) -> Response:
    from ..oidc.ciba import pending_card_requests

    checked, refusal = _ciba_card()
    if refusal is not None:
        return refusal
    found = [c for c in pending_card_requests(checked.professional_id) if c.id == challenge_id]
    if not found:
        return _card_page(404, translator("fr")("ciba_card_unknown"))
    return _ciba_page(checked, found)


@ciba_bp.post("/<challenge_id>")
def ciba_answer(challenge_id: str) -> Response:
    """Approve or deny one request with the card (the form's token, the card again)."""
    from ..credentials.models import EcpsChallenge
    from ..oidc.ciba import answer_card_request, pending_card_requests

    checked, refusal = _ciba_card()
    if refusal is not None:
        return refusal
    t = translator("fr")
    challenge = db.session.get(EcpsChallenge, challenge_id[:36])
    if challenge is None or challenge.professional_id != checked.professional_id or \
            challenge.origin != "ciba":
        return _card_page(404, t("ciba_card_unknown"))
    if not same_secret(request.form.get("csrf", ""),
                       _ciba_csrf(challenge.id, checked.card_serial)):
        record("ciba.refused", "failure", subject=checked.national_id,
               client_id=challenge.client_id, challenge_id=challenge.id, error="csrf",
               channel="CARD")
        db.session.commit()
        return _card_page(400, t("csrf"))
    decision = request.form.get("decision", "")
    if not answer_card_request(challenge, decision, checked.card_serial):
        db.session.commit()
        return _card_page(400, t("ciba_card_unknown"))
    record("ciba.card_answered", subject=checked.national_id, client_id=challenge.client_id,
           challenge_id=challenge.id, decision=decision, card_serial=checked.card_serial)
    db.session.commit()
    return _ciba_page(checked, pending_card_requests(checked.professional_id),
                      done="ciba_card_approved" if decision == "approve" else "ciba_card_denied")
