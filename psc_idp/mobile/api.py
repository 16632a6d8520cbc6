"""The e-CPS app's backend API, JSON under ``/api/mobile/v1`` (described by ``openapi.py``).

Activation is anonymous (the codes are the proof); everything after uses the device's bearer
token, and every approval also carries the PIN and a signature by the device key. Errors are
``{"error": code, "error_description": text}`` with a 4xx status.
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Callable
from functools import wraps
from typing import Any

import qrcode
import qrcode.image.svg
from flask import Blueprint, Response, current_app, g, jsonify, request

from .. import jsonbody, ratelimit, waits
from ..audit import AuditEvent
from ..credentials import device_store, ecps
from ..credentials.device_store import DeviceRow
from ..credentials.ecps import EcpsError
from ..credentials.models import EcpsDevice
from ..credentials.store import ChallengeRow
from ..db import db, read_only_request
from ..directory.lookup import find_by_identifier, get_professional
from ..directory.nomenclature import profession_label
from ..sessions.backchannel import dispatch
from ..sessions.logout import end_by_id
from ..sessions.models import IdpSession, SessionClient
from ..sse import Check, event_stream
from .openapi import openapi_document

PREFIX = "/api/mobile/v1"
bp = Blueprint("mobile", __name__, url_prefix=PREFIX)
MAX_WAIT = 25.0


def _error(code: str, description: str, status: int) -> Response:
    response = jsonify({"error": code, "error_description": description})
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.errorhandler(EcpsError)
def ecps_error(exc: EcpsError) -> Response:
    db.session.commit()  # attempt counters and audit rows are kept
    response = _error(exc.code, exc.description, exc.status)
    device = g.get("device")
    if exc.code == "invalid_pin" and exc.status == 403 and device is not None:
        # a wrong PIN under a valid device signature: how many more before the block
        limit = current_app.extensions["psc_idp"].settings.ecps.pin_attempts
        body = response.get_json()
        failures = exc.pin_failures if exc.pin_failures is not None else device.pin_failures
        body["attempts_left"] = max(limit - int(failures or 0), 0)
        response.set_data(jsonify(body).get_data())
    return response


def _body() -> dict[str, Any]:
    try:
        return jsonbody.read_object()  # size and nesting depth bounded: 400, never a 500
    except jsonbody.JsonBodyError as exc:
        raise EcpsError("invalid_request", exc.description) from exc


def _field(data: dict[str, Any], name: str, max_length: int = 2000) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value or len(value) > max_length or "\x00" in value:
        raise EcpsError("invalid_request", f"Missing or invalid field: {name}")
    return value


def _optional_text(data: dict[str, Any], name: str, max_length: int) -> str:
    value = data.get(name, "")
    if not isinstance(value, str) or len(value) > max_length or "\x00" in value:
        raise EcpsError("invalid_request", f"Invalid field: {name}")
    return value


@bp.before_request
def refuse_nul_characters() -> Response | None:
    """PostgreSQL text cannot hold NUL: refuse it in paths and queries before any lookup."""
    if "\x00" in request.path or "\x00" in request.query_string.decode("latin-1"):
        return _error("invalid_request", "NUL characters are not allowed.", 400)
    if "%00" in request.query_string.decode("latin-1").lower():
        return _error("invalid_request", "NUL characters are not allowed.", 400)
    return None


def _bearer_token() -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def _invalid_token() -> Response:
    return _error("invalid_token", "Unknown or revoked device.", 401)


def device_required(view: Callable[..., Response]) -> Callable[..., Response]:
    """The app's bearer token → ``g.device``, a frozen row (revoked devices are refused
    here); a view that changes the device loads its ORM row (``_device_model``)."""
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Response:
        device = ecps.device_for_token(_bearer_token())
        if device is None or device.revoked_at is not None:
            return _invalid_token()
        g.device = device
        return view(*args, **kwargs)
    return wrapper


def _device_model() -> EcpsDevice:
    """The ORM row of ``g.device``, for the views that change it."""
    device = db.session.get(EcpsDevice, g.device.id)
    if device is None:  # removed since the bearer check: as a revoked one
        raise EcpsError("invalid_token", "Unknown or revoked device.", 401)
    return device


def _iso(value: Any) -> str | None:
    return value.isoformat() + "Z" if value is not None else None


def _device_json(device: EcpsDevice | DeviceRow) -> dict[str, Any]:
    return {"device_id": device.id, "name": device.name, "status": ecps.device_status(device),
            "activated_at": _iso(device.activated_at), "usable_from": _iso(device.usable_from),
            "expires_at": _iso(device.expires_at), "revoked_at": _iso(device.revoked_at),
            "blocked_at": _iso(device.blocked_at), "pin_failures": device.pin_failures,
            "push_webhook": device.push_webhook or None}


def _challenge_json(challenge: ChallengeRow) -> dict[str, Any]:
    return {"challenge_id": challenge.id, "service_name": challenge.service_name,
            "client_id": challenge.client_id, "binding_code": challenge.binding_code,
            "origin": challenge.origin, "status": challenge.status,
            "created_at": _iso(challenge.created_at), "expires_at": _iso(challenge.expires_at),
            "signing_input": ecps.signed_message(challenge, "approve").decode()
            .rsplit(".", 1)[0] + ".<decision>"}


def _mask(value: str, keep: int = 2) -> str:
    return value[:keep] + "*" * max(len(value) - 2 * keep, 3) + value[-keep:]


# ----------------------------------------------------------------------------- activation
@bp.post("/activations")
def start_activation() -> Response:
    data = _body()
    professional = find_by_identifier(_field(data, "national_id", 40))
    if professional is None:
        raise EcpsError("unknown_professional", "Unknown national identifier.", 404)
    method = data.get("method", "contact")
    try:  # abuse limits (ratelimit): per address, and per professional for the contact codes
        ratelimit.activation_start(professional.national_id, method == "contact")
    except ratelimit.RateLimited as limited:
        db.session.commit()  # the refusal's audit row
        response = _error("too_many_requests", ratelimit.ACTIVATION_MESSAGES[limited.name]
                          .format(minutes=math.ceil(limited.retry_after / 60)), 429)
        response.headers["Retry-After"] = str(limited.retry_after)
        return response
    settings = current_app.extensions["psc_idp"].settings.ecps
    if method == "card":
        activation, challenge = ecps.start_card_activation(professional)
        db.session.commit()
        response = jsonify({"activation_id": activation.id, "method": "card",
                            "expires_in": settings.code_lifetime, "card_challenge": challenge})
        response.status_code = 201
        return response
    if method != "contact":
        raise EcpsError("unsupported_method", "method is contact or card.")
    activation = ecps.start_contact_activation(professional)
    db.session.commit()
    response = jsonify({"activation_id": activation.id, "method": "contact",
                        "expires_in": settings.code_lifetime,
                        "sent_to": {"email": _mask(professional.contact_email),
                                    "sms": _mask(professional.contact_mobile)}})
    response.status_code = 201
    return response


@bp.post("/activations/<activation_id>/verify")
def verify_activation(activation_id: str) -> Response:
    data = _body()
    token = ecps.verify_activation_codes(activation_id, _field(data, "email_code", 12),
                                         _field(data, "sms_code", 12))
    db.session.commit()
    return jsonify({"activation_token": token})


@bp.post("/activations/<activation_id>/card")
def verify_card(activation_id: str) -> Response:
    """The card's signature over ``card_challenge`` and its certificate → activation token."""
    data = _body()
    token = ecps.verify_card_proof(activation_id, _field(data, "certificate", 8000),
                                   _field(data, "signature", 2000))
    db.session.commit()
    return jsonify({"activation_token": token})


@bp.post("/activations/<activation_id>/complete")
def complete_activation(activation_id: str) -> Response:
    data = _body()
    enrolment = ecps.complete_activation(
        activation_id, _field(data, "activation_token", 200), _field(data, "pin", 16),
        _field(data, "device_public_key", 4000), _optional_text(data, "device_name", 100))
    db.session.commit()
    body = _device_json(enrolment.device)
    body.update({"device_token": enrolment.device_token, "otp_secret": enrolment.otp_secret})
    response = jsonify(body)
    response.status_code = 201
    return response


# ----------------------------------------------------------------------------- the device
@bp.get("/device")
@device_required
def current_device() -> Response:
    return jsonify(_device_json(g.device))


@bp.post("/device/renew")
@device_required
def renew() -> Response:
    device = _device_model()
    ecps.renew_device(device)
    db.session.commit()
    return jsonify(_device_json(device))


@bp.put("/device/push-webhook")
@device_required
def set_push_webhook() -> Response:
    """``{"url": "https://gateway.example/…"}``: POSTed a small JSON notice at each login for
    this device (challenge id, service, binding code, expiry; never a secret)."""
    data = _body()
    if not isinstance(data.get("url"), str) or not data["url"]:
        raise EcpsError("invalid_request", "Missing or invalid field: url (DELETE removes)")
    device = _device_model()
    ecps.set_webhook(device, data["url"])
    db.session.commit()
    return jsonify(_device_json(device))


@bp.delete("/device/push-webhook")
@device_required
def remove_push_webhook() -> Response:
    device = _device_model()
    ecps.set_webhook(device, "")
    db.session.commit()
    return jsonify(_device_json(device))


@bp.get("/devices")
@device_required
def list_devices() -> Response:
    devices = ecps.devices_of(g.device.professional_id)
    return jsonify({"devices": [_device_json(d) for d in devices]})


def _own_device(device_id: str) -> EcpsDevice:
    device = db.session.get(EcpsDevice, device_id[:36])
    if device is None or device.professional_id != g.device.professional_id:
        raise EcpsError("unknown_device", "No such device for this professional.", 404)
    return device


@bp.patch("/devices/<device_id>")
@device_required
def rename_device(device_id: str) -> Response:
    device = _own_device(device_id)
    device.name = _field(_body(), "name", 100)
    db.session.commit()
    return jsonify(_device_json(device))


@bp.delete("/devices/<device_id>")
@device_required
def revoke_device(device_id: str) -> Response:
    device = _own_device(device_id)
    ecps.revoke_device(device, by=g.device.id)
    db.session.commit()
    return jsonify(_device_json(device))


# ----------------------------------------------------------------------------- challenges
@bp.get("/challenges")
def challenges() -> Response:
    """Pending logins; ``?wait=N`` long-polls up to N (≤ 25) seconds for the first one.

    The bearer check and the first look are one statement (``ecps.device_with_pending``);
    a wait's later looks read the pending logins alone. It only reads: on PostgreSQL without
    a transaction (``read_only_request``), so no BEGIN/COMMIT and none held open while it
    waits."""
    read_only_request()
    found = ecps.device_with_pending(_bearer_token())
    if found is None or found[0].revoked_at is not None:
        return _invalid_token()
    g.device, first = found
    try:
        wait = float(request.args.get("wait", "0"))
    except ValueError:
        raise EcpsError("invalid_request", "wait must be a number of seconds") from None
    if not math.isfinite(wait):
        raise EcpsError("invalid_request", "wait must be a finite number of seconds")
    professional_id = g.device.professional_id
    seconds = min(max(wait, 0.0), MAX_WAIT)
    # A wait takes one of the process's wait slots (waits.py: per device, per process);
    # without one it answers at once with what is pending, and "retry_after".
    permit = waits.try_wait(f"device:{g.device.id}") if seconds > 0 else waits.NO_WAIT
    waiting = seconds > 0 and permit.granted
    looks = [first]

    def look() -> list[ChallengeRow]:
        # The bearer check's look serves when it found something or nobody waits; an empty
        # one before a wait is read again once subscribed (long_poll subscribes before its
        # first look: a push announced in between is never missed).
        if looks and ((at_check := looks.pop()) or not waiting):
            return at_check
        return ecps.pending_challenges(professional_id)

    try:
        pending = current_app.extensions["psc_idp"].wakeups.long_poll(
            (ecps.topic(professional_id),), look, bool, seconds if waiting else 0.0)
    finally:
        permit.release()
    db.session.commit()
    body: dict[str, Any] = {"device_status": ecps.device_status(g.device),
                            "challenges": [_challenge_json(c) for c in pending]}
    if seconds > 0 and not permit.granted:
        body["retry_after"] = permit.retry_after  # the phone asks again after that
        return waits.degraded(jsonify(body), permit)
    return jsonify(body)


@bp.get("/challenges/stream")
@device_required
def challenge_stream() -> Response:
    """Server-Sent Events: a ``challenges`` event (the body of ``GET /challenges``) at once
    and whenever the pending logins change; heartbeat comments; ``end`` after
    ``ecps.stream_max_duration`` seconds (reconnect) or when the device is revoked."""
    settings = current_app.extensions["psc_idp"].settings.ecps
    # The stream runs after the view returned, in a new database session: keep ids only.
    device_id, professional_id = g.device.id, g.device.professional_id
    permit = waits.try_wait(f"device:{device_id}")
    if not permit.granted:  # 429/503 at once: the phone long-polls, and tries again later
        return waits.refused(permit)
    state: dict[str, Any] = {"sent": None}

    def check() -> Check:
        # Revocation and blocking are announced on the topic too: the device is read again
        # at every look, with the pending logins (one statement), so the stream ends at once.
        found = device_store.by_id_with_pending(
            device_id, current_app.extensions["psc_idp"].clock.now())
        if found is None or found[0].revoked_at is not None:
            return Check([("end", {"reason": "device_revoked"})], done=True)
        device, pending = found
        status = ecps.device_status(device)
        recheck_in = _until_next_expiry(pending)
        key = (status, tuple(c.id for c in pending))
        if key == state["sent"]:
            return Check(recheck_in=recheck_in)
        state["sent"] = key
        return Check([("challenges", {"device_status": status,
                                      "challenges": [_challenge_json(c) for c in pending]})],
                     recheck_in=recheck_in)

    try:
        response = event_stream(check, max_duration=settings.stream_max_duration,
                                heartbeat=settings.stream_heartbeat,
                                topics=(ecps.topic(professional_id),))
    except BaseException:
        permit.release()
        raise
    response.call_on_close(permit.release)  # the slot is held until the stream ends
    return response


def _until_next_expiry(pending: list[ChallengeRow]) -> float | None:
    """Seconds until the first pending login expires (it then leaves the list)."""
    if not pending:
        return None
    now = current_app.extensions["psc_idp"].clock.now()
    return max(min((c.expires_at - now).total_seconds() for c in pending), 0.0) + 0.05


@bp.post("/challenges/<challenge_id>/answer")
def answer(challenge_id: str) -> Response:
    """The bearer check, the challenge and the professional are one statement
    (``ecps.answer_look``); for an approval it locks the device row, under which the PIN is
    checked and counted (``credentials/device_store.py``)."""
    try:
        data: dict[str, Any] | None = _body()
    except EcpsError as exc:  # refused after the bearer check, as before
        data, malformed = None, exc
    decision = data.get("decision") if data is not None else None
    look = ecps.answer_look(_bearer_token(), challenge_id, lock=decision == "approve")
    if look is None or look.device.revoked_at is not None:
        return _invalid_token()
    g.device = look.device
    if data is None:
        raise malformed
    decision = _field(data, "decision", 10)
    # A denial needs no PIN: it can only end a login, and the device signature proves the
    # phone (docs/ecps-login.md). An approval always needs it.
    pin = _field(data, "pin", 16) if decision != "deny" else _optional_text(data, "pin", 16)
    challenge = ecps.answer_challenge(look, decision, pin, _field(data, "signature", 200))
    db.session.commit()
    return jsonify(_challenge_json(challenge))


# ----------------------------------------------------------------------------- traceability
@bp.get("/me/card")
@device_required
def visual_card() -> Response:
    """What the app shows as the e-CPS card: identity, profession, validity, a QR code."""
    professional = get_professional(g.device.professional_id, whole=True)
    professions = sorted({p.profession_code for p in professional.practices})
    qr = qrcode.make(professional.national_id, image_factory=qrcode.image.svg.SvgPathImage)
    buffer = io.BytesIO()
    qr.save(buffer)
    return jsonify({
        "national_id": professional.national_id, "rpps": professional.rpps,
        "given_name": professional.given_name, "family_name": professional.family_name,
        "professions": [{"code": c, "label": profession_label(c)} for c in professions],
        "valid_until": _iso(g.device.expires_at), "status": ecps.device_status(g.device),
        "qr_svg_base64": base64.b64encode(buffer.getvalue()).decode()})


@bp.get("/me/authentications")
@device_required
def authentications() -> Response:
    professional = get_professional(g.device.professional_id)
    rows = db.session.scalars(db.select(AuditEvent).where(
        AuditEvent.subject == professional.national_id,
        AuditEvent.event.in_(("login.success", "login.sso", "ecps.challenge_answered",
                              "login.failure")))
        .order_by(AuditEvent.id.desc()).limit(50))
    return jsonify({"authentications": [
        {"at": _iso(r.at), "event": r.event, "outcome": r.outcome, "client_id": r.client_id}
        for r in rows]})


@bp.get("/me/sessions")
@device_required
def sessions() -> Response:
    now = current_app.extensions["psc_idp"].clock.now()
    rows = db.session.scalars(db.select(IdpSession).where(
        IdpSession.professional_id == g.device.professional_id, IdpSession.ended_at.is_(None),
        IdpSession.expires_at > now))
    result = []
    for s in rows:
        clients = db.session.scalars(db.select(SessionClient.client_id).where(
            SessionClient.session_id == s.id))
        result.append({"sid": s.id, "auth_time": s.auth_time, "auth_mode": s.auth_mode,
                       "created_at": _iso(s.created_at), "clients": list(clients)})
    return jsonify({"sessions": result})


@bp.delete("/me/sessions/<sid>")
@device_required
def end_session(sid: str) -> Response:
    """Logout from the app: the same fan-out as a browser logout (no front channel here)."""
    outcome = end_by_id(sid, "ecps_app", professional_id=g.device.professional_id)
    if outcome is None:
        return _error("not_found", "No such live session of yours.", 404)
    db.session.commit()
    dispatch(outcome)
    return jsonify({"sid": sid, "ended": True})


@bp.get("/openapi.json")
def openapi() -> Response:
    return jsonify(openapi_document(current_app.extensions["psc_idp"].settings.public_url))
