"""The virtual e-CPS app as a phone-sized web page, over ``EcpsPhone`` (the mobile API).

Pick or activate a professional, then: the visual card, the pending login (service, binding
code) refreshed by long-poll from JavaScript, the PIN and approve / deny, the current TOTP code,
the devices with revoke. The page holds device keys: every POST carries a per-session CSRF token
(a hidden field, or the ``X-CSRF-Token`` header for the page's own JSON calls, which also need it
on GET), cookies are ``SameSite=Strict``, and it listens on 127.0.0.1 by default.

Settings from the environment (``ECPS_APP_SERVER``, ``ECPS_APP_HOME``, ``ECPS_APP_HOST``,
``ECPS_APP_PORT`` default 5002, ``ECPS_APP_SECRET_KEY``, ``ECPS_APP_POLL_WAIT``) or a
``Settings`` given to ``create_app``. Run: ``python -m clients.ecps_app.web``.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import requests
from flask import (
    Flask,
    Response,
    abort,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

from clients.web_common import csrf_matches, csrf_token, secure_headers

from .phone import DEFAULT_HOME, MAX_WAIT, EcpsPhone, PhoneError, canonical_national_id

log = logging.getLogger(__name__)
ENV_PREFIX = "ECPS_APP_"
CSRF_HEADER = "X-CSRF-Token"
PROFESSIONAL = "national_id"


DEVICE_NAME = "e-CPS virtuelle (page web)"

STATUS_LABELS = {"usable": "utilisable", "waiting": "en attente d'activation",
                 "blocked": "bloquée", "revoked": "révoquée", "expired": "expirée",
                 "unreachable": "fournisseur injoignable"}
"""The device statuses of the mobile API, as the professional reads them."""

MESSAGES = {
    "invalid_pin": "Code PIN erroné.",
    "device_blocked": "e-CPS bloquée : trop de codes PIN erronés. Elle ne peut plus valider de "
                      "connexion ; réactivez-la (bouton « Réactiver »), avec les codes reçus "
                      "par e-mail et par SMS.",
    "device_revoked": "Cette e-CPS a été révoquée : réactivez-la.",
    "device_expired": "Cette e-CPS a expiré : réactivez-la.",
    "device_waiting": "Cette e-CPS est en cours d'activation : elle n'est pas encore "
                      "utilisable.",
    "invalid_token": "Cette e-CPS n'est plus reconnue par le fournisseur (révoquée) : "
                     "réactivez-la.",
    "unknown_professional": "Identifiant national ou numéro RPPS inconnu.",
    "means_blocked": "Les moyens d'identification de ce professionnel sont bloqués.",
    "no_contact_data": "Aucune adresse e-mail ni aucun mobile connus pour ce professionnel : "
                       "l'activation par codes est impossible.",
    "no_codes": "Les codes d'activation sont introuvables dans la boîte d'envoi du "
                "fournisseur.",
    "outbox_unavailable": "La boîte d'envoi du fournisseur n'est pas accessible (elle n'existe "
                          "qu'en mode démonstration ou test).",
    "invalid_code": "Code d'activation erroné.",
    "activation_expired": "Les codes d'activation ont expiré : recommencez.",
    "activation_closed": "Cette activation est terminée : recommencez.",
    "unsupported_method": "Ce mode d'activation n'est pas disponible sur ce fournisseur.",
    "challenge_closed": "Cette demande n'est plus en attente.",
    "unknown_challenge": "Cette demande n'existe plus.",
    "invalid_signature": "La signature de l'appareil a été refusée.",
    "unknown_device": "Appareil inconnu.",
    "not_found": "Session inconnue ou déjà terminée.",
    "not_activated": "Aucune e-CPS n'est activée pour ce professionnel sur ce téléphone.",
    "no_pending_request": "Aucune demande en attente.",
    "invalid_request": "Requête refusée par le fournisseur.",
    "unreachable": "Le fournisseur ne répond pas.",
}
"""The provider's error codes, in the professional's words (the code stays in a detail)."""
_FRENCH_DESCRIPTIONS = ("too_many_requests",)
"""Codes whose ``error_description`` the provider already writes in French."""


def french_message(exc: PhoneError) -> str:
    """What the page says for a refusal: French, never the provider's English text."""
    if exc.code == "invalid_pin" and exc.status == 403:
        left = exc.attempts_left
        if left == 0:
            return MESSAGES["device_blocked"]
        if left is not None:
            return f"Code PIN erroné, {left} essai{'s' if left > 1 else ''} " \
                   f"restant{'s' if left > 1 else ''}."
        return MESSAGES["invalid_pin"]
    if exc.code == "invalid_pin":  # at activation: the PIN's format
        return "Le code PIN doit comporter 4 à 8 chiffres."
    if exc.code in _FRENCH_DESCRIPTIONS and exc.description:
        return exc.description
    return MESSAGES.get(exc.code, "Le fournisseur a refusé l'opération.")


def blocked_after(exc: PhoneError) -> bool:
    """This refusal leaves the e-CPS blocked (the last wrong PIN, or already blocked)."""
    return exc.code == "device_blocked" or (exc.code == "invalid_pin" and
                                            exc.attempts_left == 0)


class ConfigError(ValueError):
    """A setting is malformed."""


@dataclass
class Settings:
    SERVER: str = "http://127.0.0.1:5000"
    """The provider's base URL (its mobile API is ``{SERVER}/api/mobile/v1``)."""
    HOME: str = DEFAULT_HOME
    """Folder of the phone's state, shared with the ``ecps-app`` CLI (its ``--home``; both
    default to ``$ECPS_APP_HOME``, else ``~/.ecps-app``)."""
    HOST: str = "127.0.0.1"
    PORT: int = 5002
    SECRET_KEY: str = ""
    """Signs the session cookie. Empty: random per process."""
    POLL_WAIT: float = 20.0
    """Seconds one long-poll of the page waits for a login (the provider caps it at 25)."""

    @property
    def home_path(self) -> Path:
        return Path(os.path.expanduser(self.HOME))

    def validate(self) -> None:
        if not self.SERVER.startswith(("http://", "https://")):
            raise ConfigError(f"SERVER must be an http(s) URL, not {self.SERVER!r}")
        if not 0 < self.PORT < 65536:
            raise ConfigError(f"PORT out of range: {self.PORT}")
        if not 0 <= self.POLL_WAIT <= MAX_WAIT:
            raise ConfigError(f"POLL_WAIT must be between 0 and {MAX_WAIT:g}")


def load_settings(overrides: Mapping[str, Any] | None = None,
                  environ: Mapping[str, str] | None = None) -> Settings:
    """Defaults < ``ECPS_APP_*`` environment < ``overrides``."""
    env = os.environ if environ is None else environ
    fields = {f.name: f.type for f in dataclasses.fields(Settings)}
    data: dict[str, Any] = {n: env[ENV_PREFIX + n] for n in fields if ENV_PREFIX + n in env}
    data.update({k.upper(): v for k, v in (overrides or {}).items()})
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(f"unknown setting(s): {', '.join(unknown)}")
    try:
        if "PORT" in data:
            data["PORT"] = int(data["PORT"])
        if "POLL_WAIT" in data:
            data["POLL_WAIT"] = float(data["POLL_WAIT"])
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"PORT / POLL_WAIT must be numbers: {exc}") from exc
    settings = Settings(**data)
    if not settings.SECRET_KEY:
        settings.SECRET_KEY = secrets.token_hex(32)
    settings.validate()
    return settings


class PageError(Exception):
    """Shown on the page (or as JSON to the page's script), never as a traceback."""

    def __init__(self, code: str, message: str, status: int = 400,
                 extra: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status
        self.extra = extra or {}


def create_app(settings: Settings | Mapping[str, Any] | None = None) -> Flask:
    if not isinstance(settings, Settings):
        settings = load_settings(settings)
    settings.validate()
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=settings.SECRET_KEY or secrets.token_hex(32),
        # the provider and the demo RP share the host 127.0.0.1: cookies ignore the port
        SESSION_COOKIE_NAME=f"ecps_app_{settings.PORT}_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        SESSION_COOKIE_SECURE=False,
    )
    app.extensions["ecps_app"] = settings
    _register(app, settings)
    return app


try:
    PARIS: tzinfo = ZoneInfo("Europe/Paris")
except ZoneInfoNotFoundError:  # pragma: no cover - no tz database on the machine
    PARIS = UTC


def paris_time(iso: str | None) -> str:
    """An API time (ISO 8601, UTC) as a professional reads it: ``01/12/2026 14:05 (heure de
    Paris, UTC+01:00)``, the offset shown so it matches the provider's pages and logs."""
    try:
        moment = datetime.fromisoformat(str(iso or "").replace("Z", "+00:00"))
    except ValueError:
        return str(iso or "")
    moment = (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(PARIS)
    offset = moment.strftime("%z") or "+0000"
    return f"{moment:%d/%m/%Y %H:%M} (heure de Paris, UTC{offset[:3]}:{offset[3:]})"


def _register(app: Flask, settings: Settings) -> None:
    home = settings.home_path
    app.add_template_filter(paris_time, "paris_time")

    def phone_for(national_id: str) -> EcpsPhone:
        return EcpsPhone(settings.SERVER, home, national_id)

    def current_phone() -> EcpsPhone:
        national_id = session.get(PROFESSIONAL, "")
        if not national_id or national_id not in EcpsPhone.known(home):
            raise PageError("no_phone", "Aucune e-CPS sélectionnée : activez-en une.", 409)
        return phone_for(national_id)

    @app.context_processor
    def globals_() -> dict[str, Any]:
        return {"csrf_token": csrf_token(), "server": settings.SERVER, "home": str(home),
                "status_label": lambda status: STATUS_LABELS.get(status, status)}

    @app.before_request
    def check_csrf() -> None:
        """Every POST, and every call to the page's JSON API, carries the session's token."""
        if request.method != "POST" and not request.path.startswith("/api/"):
            return
        if not csrf_matches(request.headers.get(CSRF_HEADER)
                            or request.form.get("csrf_token", "")):
            if request.path.startswith("/api/"):
                raise PageError("csrf", "Jeton anti-CSRF manquant ou invalide : "
                                        "rechargez la page.", 403)
            flash("Formulaire expiré : recommencez.", "error")
            abort(redirect(url_for("home"), 303))

    secure_headers(app, "default-src 'self'; img-src 'self' data:; object-src 'none'; "
                        "base-uri 'none'; frame-ancestors 'none'; form-action 'self'")

    # ------------------------------------------------------------------ pages
    @app.get("/", endpoint="home")
    def home_page() -> str:
        national_id = session.get(PROFESSIONAL, "")
        known = EcpsPhone.known(home)
        if not national_id or national_id not in known:
            return render_template("activate.html", known=known,
                                   national_id=request.args.get("national_id", "")[:40])
        phone = phone_for(national_id)
        view: dict[str, Any] = {"national_id": national_id, "device_id":
                                phone.local_state()["device_id"], "otp": phone.otp(),
                                "otp_remaining": phone.otp_remaining()}
        try:
            view["card"] = phone.card()
            view["devices"] = phone.devices()
            view["sessions"] = phone.sessions()
            view["status"] = view["card"]["status"]
        except PhoneError as exc:
            if exc.status != 401:
                raise
            view.update(card=None, devices=[], sessions=[], status="revoked")
        except requests.RequestException as exc:
            log.warning("provider unreachable: %r", exc)
            view.update(card=None, devices=[], sessions=[], status="unreachable")
        return render_template("phone.html", poll_wait=settings.POLL_WAIT, **view)

    @app.post("/activate")
    def activate() -> Response:
        national_id = request.form.get("national_id", "").strip()
        pin = request.form.get("pin", "").strip()
        name = request.form.get("device_name", "").strip()[:100] or DEVICE_NAME
        # the RPPS alone is accepted, as on the login page: 8 + RPPS is the national id
        national_id = canonical_national_id(national_id)
        if not (national_id.isascii() and national_id.isalnum() and len(national_id) <= 40):
            flash("Identifiant national invalide.", "error")
            return redirect(url_for("home"), 303)
        try:
            device = phone_for(national_id).activate(pin, device_name=name)
        except PhoneError as exc:
            flash({"text": f"Activation refusée : {french_message(exc)}", "code": exc.code},
                  "error")
            return redirect(url_for("home", national_id=national_id), 303)
        session[PROFESSIONAL] = national_id
        flash(f"e-CPS activée ({STATUS_LABELS.get(device['status'], device['status'])}).",
              "ok")
        return redirect(url_for("home"), 303)

    @app.post("/reactivate")
    def reactivate() -> Response:
        """A blocked, revoked or expired e-CPS: back to the activation form, pre-filled."""
        national_id = session.pop(PROFESSIONAL, "")
        return redirect(url_for("home", national_id=national_id), 303)

    @app.post("/select")
    def select() -> Response:
        national_id = request.form.get("national_id", "")
        if national_id in EcpsPhone.known(home):
            session[PROFESSIONAL] = national_id
        return redirect(url_for("home"), 303)

    @app.post("/switch")
    def switch() -> Response:
        session.pop(PROFESSIONAL, None)
        return redirect(url_for("home"), 303)

    @app.post("/devices/<device_id>/revoke")
    def revoke(device_id: str) -> Response:
        phone = current_phone()
        revoked = phone.revoke(device_id)
        own = revoked["device_id"] == phone.local_state()["device_id"]
        flash(f"Appareil « {revoked['name']} » révoqué" +
              (" : c'était cette e-CPS, réactivez-la." if own else "."), "ok")
        return redirect(url_for("home"), 303)

    @app.post("/sessions/<sid>/end")
    def end_session(sid: str) -> Response:
        current_phone().end_session(sid)
        flash("Session terminée : les services concernés ont été prévenus.", "ok")
        return redirect(url_for("home"), 303)

    # ------------------------------------------------------------------ the page's JSON API
    @app.get("/api/pending")
    def api_pending() -> Response:
        try:
            wait = min(max(float(request.args.get("wait", "0")), 0.0), settings.POLL_WAIT)
        except ValueError:
            wait = 0.0
        if wait != wait:  # NaN
            wait = 0.0
        phone = current_phone()
        body = phone._call("GET", "/challenges", params={"wait": wait})
        challenges = body["challenges"]
        return jsonify({"device_status": body.get("device_status"), "challenges": [
            {k: c.get(k) for k in ("challenge_id", "service_name", "client_id", "binding_code",
                                   "origin", "created_at", "expires_at")} for c in challenges]})

    @app.get("/api/sessions")
    def api_sessions() -> Response:
        """The professional's live sessions, for the page to refresh its list while it is
        open (a login elsewhere, a logout from a service), times in Paris time."""
        return jsonify({"sessions": [
            {"sid": s.get("sid"), "auth_mode": s.get("auth_mode"),
             "since": paris_time(s.get("created_at")), "clients": list(s.get("clients") or [])}
            for s in current_phone().sessions()]})

    @app.post("/api/answer")
    def api_answer() -> Response:
        data = request.get_json(silent=True)
        if not isinstance(data, dict):
            raise PageError("invalid_request", "Requête invalide.")
        decision = data.get("decision")
        challenge_id = str(data.get("challenge_id", ""))
        pin = str(data.get("pin", ""))
        if decision not in ("approve", "deny") or not challenge_id:
            raise PageError("invalid_request", "Requête invalide.")
        if decision == "approve" and not pin:
            raise PageError("pin_required", "Saisissez votre code PIN pour accepter.")
        phone = current_phone()
        # the binding code signed is the provider's, never one sent by the page
        found = [c for c in phone.pending() if c["challenge_id"] == challenge_id]
        if not found:
            raise PageError("challenge_closed", "Cette demande n'est plus en attente.", 409)
        answered = phone.answer(found[0], decision, pin)
        return jsonify({"challenge_id": answered["challenge_id"], "status": answered["status"],
                        "binding_code": answered["binding_code"],
                        "service_name": answered["service_name"]})

    @app.get("/api/otp")
    def api_otp() -> Response:
        phone = current_phone()
        return jsonify({"otp": phone.otp(), "remaining": phone.otp_remaining()})

    @app.get("/healthz")
    def healthz() -> tuple[str, int, dict[str, str]]:
        return "ok", 200, {"Content-Type": "text/plain; charset=utf-8"}

    # ------------------------------------------------------------------ errors
    def _failure(code: str, message: str, status: int,
                 extra: dict[str, Any] | None = None) -> Any:
        """French for the professional, the provider's code beside it for developers."""
        if request.path.startswith("/api/"):
            response = jsonify({"error": code, "error_description": message, **(extra or {})})
            response.status_code = status
            return response
        flash({"text": message, "code": code}, "error")
        return redirect(url_for("home"), 303)

    @app.errorhandler(PageError)
    def page_error(exc: PageError) -> Any:
        return _failure(exc.code, exc.message, exc.status, exc.extra)

    @app.errorhandler(PhoneError)
    def phone_error(exc: PhoneError) -> Any:
        status = exc.status if 400 <= exc.status < 500 else 409 if exc.status == 0 else 502
        extra: dict[str, Any] = {}
        if exc.attempts_left is not None:
            extra["attempts_left"] = exc.attempts_left
        if blocked_after(exc):
            extra["device_status"] = "blocked"
        return _failure(exc.code, french_message(exc), status, extra)

    @app.errorhandler(requests.RequestException)
    def unreachable(exc: requests.RequestException) -> Any:
        log.warning("provider request failed: %r", exc)
        return _failure("unreachable", f"Le fournisseur ({settings.SERVER}) ne répond pas.",
                        502)


def main() -> None:
    """``python -m clients.ecps_app.web``: Flask's threaded server on HOST:PORT."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        settings = load_settings()
    except ConfigError as exc:
        raise SystemExit(f"ecps-app web: {exc}") from exc
    app = create_app(settings)
    log.info("virtual e-CPS app on http://%s:%s, provider %s, home %s", settings.HOST,
             settings.PORT, settings.SERVER, settings.home_path)
    app.run(host=settings.HOST, port=settings.PORT, threaded=True, use_reloader=False)


if __name__ == "__main__":
    main()
