"""The reader's page for people: « Insérez votre carte, saisissez le code PIN ».

The provider's card page links here with ``?step=<the card host's TLS step URL>``. The page
lists the virtual cards of ``--cards-dir`` (the reader's slot), the person picks one and types
the PIN; the chip checks it, then this server presents the card at the TLS step (the
middleware's handshake) and sends the browser, which holds the provider's cookie, to the
return URL with the ticket: the browser completes the login.

Not an open proxy: ``step`` must be an https URL whose path is ``/login/<uid>/card/tls``, and
the card goes to that origin only (redirects are not followed). The page shows which host
asks for the card, as a middleware's dialog does. Every POST carries the session's CSRF token.
"""

from __future__ import annotations

import logging
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, redirect, render_template, request
from werkzeug.exceptions import HTTPException

from clients.web_common import csrf_matches, csrf_token, secure_headers
from psc_idp.credentials.card_chip import Chip, ChipError, is_card_folder, read_meta

from .middleware import (
    EXIT_BLOCKED,
    EXIT_CARD_REFUSED,
    EXIT_WRONG_PIN,
    TLS_STEP_PATH,
    ReaderError,
    card_trust,
    check_pin,
    is_tls_step,
    origin_of,
    present_card,
)

log = logging.getLogger(__name__)
CARD_PAGE_PATH = re.compile(r"^/login/([^/?#]+)/card$")
TYPE_LABELS = {"CPS": "Carte de professionnel de santé", "CPF": "Carte de professionnel en "
               "formation", "CPE": "Carte de personnel d'établissement", "CPA": "Carte de "
               "personnel autorisé", "CDE": "Carte de directeur d'établissement"}


@dataclass
class CardView:
    """One card in the slot, as the page lists it."""

    slot: str
    serial: str
    type: str
    holder: str
    national_id: str
    blocked: bool
    pin_tries_left: int


def holder_name(holder: Any) -> str:
    if isinstance(holder, dict):
        parts = [str(holder.get(k) or "") for k in ("given_name", "first_name", "prenom",
                                                     "family_name", "last_name", "nom")]
        text = " ".join(p for p in parts if p) or str(holder.get("name") or "")
        return text.strip()
    return str(holder or "")


def cards_in(folder: Path) -> list[CardView]:
    """The readable cards under ``folder`` (one sub-folder each), by slot name."""
    found = []
    for sub in sorted(p for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []:
        if not is_card_folder(sub):
            continue
        try:
            info = Chip.open(sub).info()
        except (ChipError, OSError, ValueError, KeyError) as exc:
            log.warning("card folder %s unreadable: %r", sub, exc)
            continue
        found.append(CardView(sub.name, str(info.get("serial", "")), str(info.get("type", "")),
                              holder_name(info.get("holder")), str(info.get("national_id", "")),
                              bool(info.get("blocked")), int(info.get("pin_tries_left", 0))))
    return found


def back_url(step: str, back: str, cards_dir: Path) -> str:
    """The provider's card page for this login (``/login/<uid>/card`` on its main host).

    ``back`` if the provider gave it (and it is that login's card page); else found from the
    cards: a card issued by the provider whose card host is the step's names the provider's
    issuer (card.json's ``mtls_base`` and ``issuer``); else "" (the page goes back in the
    browser's history)."""
    found = TLS_STEP_PATH.match(urlsplit(step).path) if is_tls_step(step) else None
    if not found:
        return ""
    parts = urlsplit(back)
    page = CARD_PAGE_PATH.match(parts.path)
    if (page and page.group(1) == found.group(1) and parts.scheme in ("http", "https")
            and parts.hostname and not parts.username and not parts.password):
        return back
    step_origin = origin_of(step)
    for sub in sorted(p for p in cards_dir.iterdir() if p.is_dir()) if cards_dir.is_dir() else []:
        try:
            meta = read_meta(sub) if is_card_folder(sub) else {}
        except ChipError:
            continue
        issuer = str(meta.get("issuer") or "")
        if (str(meta.get("mtls_base") or "").rstrip("/") == step_origin
                and issuer.startswith(("http://", "https://"))):
            return f"{origin_of(issuer)}/login/{found.group(1)}/card"
    return ""


def create_app(cards_dir: Path, *, ca_file: str | None = None,
               secret_key: str | None = None) -> Flask:
    app = Flask(__name__)
    app.config.update(SECRET_KEY=secret_key or secrets.token_hex(32),
                      SESSION_COOKIE_NAME="card_reader_session", SESSION_COOKIE_HTTPONLY=True,
                      SESSION_COOKIE_SAMESITE="Strict", SESSION_COOKIE_SECURE=False)
    cards_dir = Path(cards_dir)

    # form-action allows http(s): the PIN form's answer redirects the browser to the
    # provider's return URL, and Chromium applies form-action to that redirect too.
    secure_headers(app, "default-src 'self'; object-src 'none'; base-uri 'none'; "
                        "frame-ancestors 'none'; form-action 'self' http: https:")

    def page(status: int = 200, **view: Any) -> tuple[str, int]:
        step = view.pop("step", "")
        valid = is_tls_step(step)
        view.setdefault("message", "")
        view.setdefault("kind", "")
        back = back_url(step, view.pop("back", ""), cards_dir)
        return render_template(
            "reader.html", cards=cards_in(cards_dir), step=step if valid else "",
            step_host=urlsplit(step).netloc if valid else "", invalid_step=bool(step) and
            not valid, back=back, csrf_token=csrf_token(), cards_dir=str(cards_dir),
            **view), status

    @app.get("/")
    def home() -> tuple[str, int]:
        step = request.args.get("step", "")
        status = 400 if step and not is_tls_step(step) else 200
        return page(status, step=step, back=request.args.get("back", ""),
                    selected=request.args.get("card", ""))

    @app.post("/")
    def insert() -> Any:
        step = request.form.get("step", "")
        back = request.form.get("back", "")
        slot = request.form.get("card", "")
        if not csrf_matches(request.form.get("csrf", "")):
            return page(403, step=step, back=back, selected=slot, kind="error",
                        message="Formulaire expiré : recommencez.")
        if not is_tls_step(step):
            return page(400, step=step, back=back, kind="error",
                        message="Aucune connexion par carte en cours : ouvrez ce lecteur "
                                "depuis la page « Carte CPS » du fournisseur.")
        slots = {c.slot: c for c in cards_in(cards_dir)}
        if slot not in slots:
            return page(400, step=step, back=back, kind="error",
                        message="Choisissez une carte insérée dans le lecteur.")
        folder = cards_dir / slot
        pin = request.form.get("pin", "")
        try:
            chip = Chip.open(folder)
            check_pin(chip, pin)
            answer = present_card(chip, pin, step, card_trust(folder, ca_file))
        except ChipError as exc:
            return page(400, step=step, back=back, selected=slot, kind="error",
                        message=exc.message)
        except ReaderError as exc:
            kind = {EXIT_WRONG_PIN: "pin", EXIT_BLOCKED: "blocked",
                    EXIT_CARD_REFUSED: "refused"}.get(exc.exit_code, "error")
            log.info("card %s not presented to %s: %s", slots[slot].serial, step, exc.message)
            return page(403 if kind in ("blocked", "refused") else 400, step=step, back=back,
                        selected=slot, kind=kind, message=exc.message, reason=exc.reason)
        log.info("card %s presented to %s", slots[slot].serial, urlsplit(step).netloc)
        return redirect(answer.location, 302)

    @app.get("/healthz")
    def healthz() -> tuple[str, int, dict[str, str]]:
        return "ok", 200, {"Content-Type": "text/plain; charset=utf-8"}

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> tuple[str, int]:
        return page(exc.code or 400, kind="error",
                    message="Cette page n'existe pas sur le lecteur de cartes."
                    if exc.code in (404, 405) else "Requête invalide.")

    @app.errorhandler(Exception)
    def failure(exc: Exception) -> tuple[str, int]:
        log.exception("card reader page failed")
        return page(502, kind="error", message="Le lecteur n'a pas pu lire la carte ou "
                                               "joindre le fournisseur : recommencez.")

    return app
