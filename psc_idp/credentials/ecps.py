"""The e-CPS life cycle, as the seeds describe it: activation from the contact data on record
(one code by e-mail and one by SMS, both required), a PIN chosen on the phone, a device key
pair and an OTP seed, a 48 h activation delay, 3 years of validity; then every login pushed to
the phone and confirmed with the PIN and a signature by the device key.

Pure service functions over the models; the mobile API and the authenticators call them.
Errors are ``EcpsError`` with a stable ``code`` the API turns into JSON.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pyotp
from cryptography.exceptions import InvalidSignature
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from flask import current_app

from .. import hashing
from ..audit import record
from ..db import db
from ..directory.models import Professional
from ..wakeups import announce
from . import attempts, card, device_store, outbox, store, webhooks
from .device_store import AnswerLook, DeviceRow
from .models import EcpsActivation, EcpsChallenge, EcpsDevice

CODE_PURPOSE = "ecps-activation-code"
"""Activation codes and PINs are kept as keyed hashes (HMAC-SHA-256 under the at-rest key in
``keys_dir``, ``hashing.py``): 6 digits or a 4-to-8-digit PIN have too few values for any
unkeyed hash, fast or slow, to hide them from whoever reads the database. A PIN is checked only
after the device signature verifies, and 3 wrong PINs block the e-CPS; argon2id PIN hashes
made before still verify and are replaced by the keyed hash at their next right PIN."""
PIN_LENGTHS = range(4, 9)
MAX_PENDING = 3
"""Pending logins (browser pushes and CIBA requests together) per professional. A new one
withdraws the oldest beyond this: typing someone's public RPPS number must not flood their
phone (push fatigue), nor keep the owner from signing in (a refused push would)."""
OTP_WINDOW = timedelta(minutes=15)
"""First window of the professional-wide budget of wrong one-time codes; each later window
is twice as long, up to ``OTP_MAX_WINDOW``, until a code is accepted."""
OTP_MAX_WINDOW = timedelta(hours=24)
OTP_LOGIN_WINDOW = timedelta(hours=1)
"""A login's own budget (``ecps.otp_attempts`` wrong codes) lasts longer than the login."""


class EcpsError(Exception):
    """A refused e-CPS operation; ``code`` is stable (the API's ``error``), ``status`` its HTTP."""

    def __init__(self, code: str, description: str, status: int = 400,
                 pin_failures: int | None = None):
        super().__init__(description)
        self.code = code
        self.description = description
        self.status = status
        self.pin_failures = pin_failures
        """With ``invalid_pin``: the wrong PINs now counted (the API says how many remain)."""


def _provider():
    return current_app.extensions["psc_idp"]


def _now() -> datetime:
    return _provider().clock.now()


def _settings():
    return _provider().settings


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _keyed() -> hashing.KeyedHash:
    return hashing.keyed_hash(_settings().keys_dir)


def _code_digest(activation_id: str, channel: str, code: str) -> str:
    """The keyed digest of one activation code, bound to its activation and channel."""
    return _keyed().digest(CODE_PURPOSE, activation_id, channel, code)


def _fernet() -> Fernet:
    key = hashlib.sha256(("otp-seed:" + current_app.secret_key).encode()).digest()
    return Fernet(base64.urlsafe_b64encode(key))


# ----------------------------------------------------------------------------- activation
def _refuse_unable_to_sign_in(professional: Professional) -> None:
    """No e-CPS for someone who could not sign in with it: blocked means, or a person who
    left the directory (absent from a newer extraction)."""
    from ..directory.lookup import is_ended

    if professional.means_blocked:
        raise EcpsError("means_blocked", "This professional's means are blocked.", 403)
    if is_ended(professional):
        raise EcpsError("professional_ended", "This professional has left the directory "
                        "(Annuaire Santé): no e-CPS can be activated.", 403)


def start_contact_activation(professional: Professional) -> EcpsActivation:
    """Send one code to the e-mail and one to the mobile on record (never shown in claims)."""
    _refuse_unable_to_sign_in(professional)
    if not (professional.contact_email and professional.contact_mobile):
        raise EcpsError("no_contact_data", "No e-mail and mobile on record for activation.", 409)
    settings = _settings().ecps
    email_code = f"{secrets.randbelow(10**6):06d}"
    sms_code = f"{secrets.randbelow(10**6):06d}"
    activation_id = str(uuid.uuid4())
    activation = EcpsActivation(
        id=activation_id, professional_id=professional.id, method="contact",
        email_code_digest=_code_digest(activation_id, "email", email_code),
        sms_code_digest=_code_digest(activation_id, "sms", sms_code),
        created_at=_now(), expires_at=_now() + timedelta(seconds=settings.code_lifetime))
    db.session.add(activation)
    # The messages carry the codes to the professional; what the outbox keeps of them is
    # masked outside demo/test (``outbox.send``).
    outbox.send("email", professional.contact_email, "Activation de votre e-CPS",
                f"Votre code d'activation e-CPS (e-mail) : {email_code}",
                professional.national_id, secret=email_code)
    outbox.send("sms", professional.contact_mobile, "",
                f"e-CPS : votre code d'activation (SMS) est {sms_code}",
                professional.national_id, secret=sms_code)
    record("ecps.activation_started", subject=professional.national_id, method="contact",
           activation_id=activation.id)
    return activation


def start_card_activation(professional: Professional) -> tuple[EcpsActivation, str]:
    """Activation with a CPx card: a challenge for the card to sign (see ``card.py``)."""
    if card.card_verifier() is None:
        raise EcpsError("unsupported_method", "Activation with a CPx card is not available on "
                        "this server (no card verifier is installed): use the contact method.")
    _refuse_unable_to_sign_in(professional)
    activation = EcpsActivation(
        id=str(uuid.uuid4()), professional_id=professional.id, method="card",
        created_at=_now(),
        expires_at=_now() + timedelta(seconds=_settings().ecps.code_lifetime))
    db.session.add(activation)
    record("ecps.activation_started", subject=professional.national_id, method="card",
           activation_id=activation.id)
    return activation, card.activation_challenge(activation.id)


def verify_card_proof(activation_id: str, certificate_pem: str, signature_b64: str) -> str:
    """The card signed the challenge → the one-time completion token (as with the codes)."""
    activation = _live_activation(activation_id)
    if activation.method != "card":
        raise EcpsError("wrong_method", "This activation uses the contact codes.", 409)
    if activation.state != "pending":
        raise EcpsError("activation_closed", "The card proof was already accepted.", 409)
    verifier = card.card_verifier()
    if verifier is None:
        raise EcpsError("unsupported_method", "Activation with a CPx card is not available on "
                        "this server (no card verifier is installed).")
    professional = db.session.get(Professional, activation.professional_id)
    limit = _settings().ecps.code_attempts
    used = _reserve_activation_attempt(activation, professional, "card_proof")
    try:
        signature = base64.urlsafe_b64decode(signature_b64 + "=" * (-len(signature_b64) % 4))
        verifier.verify(card.CardProof(
            national_id=professional.national_id,
            challenge=card.activation_challenge(activation.id).encode(),
            certificate_pem=certificate_pem, signature=signature))
    except (card.CardProofRejected, ValueError, TypeError) as exc:
        if used >= limit:
            attempts.transition(activation, {"state": "pending"}, state="failed")
        reason = str(exc) if isinstance(exc, card.CardProofRejected) else "malformed proof"
        record("ecps.card_proof_refused", "failure", subject=professional.national_id,
               activation_id=activation.id, reason=reason[:200], attempts=used,
               state=activation.state)
        raise EcpsError("invalid_card_proof", f"The card proof was refused: {reason}",
                        403) from None
    return _verified(activation)


def _reserve_activation_attempt(activation: EcpsActivation, professional: Professional,
                                means: str) -> int:
    """One of the activation's ``ecps.code_attempts`` attempts, counted before the check
    (``attempts.reserve``); none left → ``activation_closed``, unchecked."""
    used = attempts.reserve(activation, "failed_attempts", _settings().ecps.code_attempts,
                            EcpsActivation.state == "pending")
    if used is None:
        record("ecps.attempt_refused", "failure", subject=professional.national_id,
               means=means, activation_id=activation.id, reason="limit")
        raise EcpsError("activation_closed", "This activation is failed.", 409)
    return used


def _verified(activation: EcpsActivation) -> str:
    """The right codes or card proof: the attempt is given back, and one request only (the
    first) gets the completion token."""
    attempts.release(activation, "failed_attempts")
    token = secrets.token_urlsafe(32)
    if not attempts.transition(activation, {"state": "pending"}, state="verified",
                               completion_digest=_digest(token)):
        raise EcpsError("activation_closed", "The activation was already verified.", 409)
    return token


def _live_activation(activation_id: str) -> EcpsActivation:
    activation = db.session.get(EcpsActivation, activation_id[:36]) if activation_id else None
    if activation is None:
        raise EcpsError("unknown_activation", "No such activation.", 404)
    if activation.state in ("failed", "completed", "expired"):
        raise EcpsError("activation_closed", f"This activation is {activation.state}.", 409)
    if _now() >= activation.expires_at:
        activation.state = "expired"
        raise EcpsError("activation_expired", "The activation codes have expired.", 409)
    return activation


def verify_activation_codes(activation_id: str, email_code: str, sms_code: str) -> str:
    """Both codes right → a one-time completion token for the device registration."""
    activation = _live_activation(activation_id)
    if activation.method != "contact":
        raise EcpsError("wrong_method", "This activation uses a CPx card.", 409)
    if activation.state != "pending":
        raise EcpsError("activation_closed", "The codes were already verified.", 409)
    professional = db.session.get(Professional, activation.professional_id)
    used = _reserve_activation_attempt(activation, professional, "activation_code")
    keyed = _keyed()
    ok_email = keyed.matches(activation.email_code_digest, CODE_PURPOSE, activation.id, "email",
                             str(email_code)[:12])
    ok_sms = keyed.matches(activation.sms_code_digest, CODE_PURPOSE, activation.id, "sms",
                           str(sms_code)[:12])
    if not (ok_email and ok_sms):
        if used >= _settings().ecps.code_attempts:
            attempts.transition(activation, {"state": "pending"}, state="failed")
        record("ecps.activation_code_refused", "failure", subject=professional.national_id,
               attempts=used, state=activation.state)
        raise EcpsError("invalid_code", "Wrong activation code(s).", 400)
    return _verified(activation)


@dataclass
class Enrolment:
    device: EcpsDevice
    device_token: str
    otp_secret: str


def load_public_key(pem: str) -> ec.EllipticCurvePublicKey:
    try:
        key = serialization.load_pem_public_key(pem.encode())
    except (ValueError, TypeError, UnicodeError) as exc:
        raise EcpsError("invalid_device_key", "The device key is not a PEM public key.") from exc
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
        raise EcpsError("invalid_device_key", "The device key must be an EC P-256 key.")
    return key


def complete_activation(activation_id: str, completion_token: str, pin: str,
                        public_key_pem: str, device_name: str = "") -> Enrolment:
    activation = _live_activation(activation_id)
    if activation.state != "verified" or not secrets.compare_digest(
            _digest(str(completion_token)), activation.completion_digest):
        raise EcpsError("invalid_activation_token", "Verify the codes first.", 403)
    if not (isinstance(pin, str) and pin.isascii() and pin.isdigit() and len(pin) in PIN_LENGTHS):
        raise EcpsError("invalid_pin", "The PIN must be 4 to 8 digits.")
    load_public_key(public_key_pem)
    settings = _settings()
    now = _now()
    token = secrets.token_urlsafe(32)
    seed = pyotp.random_base32()
    delay = settings.ecps.resolved_activation_delay(settings.emulation_enabled)
    device_id = str(uuid.uuid4())
    device = EcpsDevice(
        id=device_id, professional_id=activation.professional_id,
        name=(device_name or "e-CPS")[:100], public_key_pem=public_key_pem,
        token_digest=_digest(token), pin_hash=hashing.hash_pin(_keyed(), device_id, pin),
        otp_secret_encrypted=_fernet().encrypt(seed.encode()).decode(), activated_at=now,
        usable_from=now + timedelta(seconds=delay),
        expires_at=now + timedelta(days=settings.ecps.validity_days))
    db.session.add(device)
    activation.state = "completed"
    professional = db.session.get(Professional, activation.professional_id)
    record("ecps.activated", subject=professional.national_id, device_id=device.id,
           usable_from=device.usable_from.isoformat())
    return Enrolment(device, token, seed)


def topic(professional_id: int) -> str:
    """The wake-up topic (``wakeups.py``) of a professional's e-CPS: announced when one of
    their challenges is created, answered or withdrawn, or a device revoked or blocked; the
    phone's stream and long-poll and the login's waiting page listen to it."""
    return f"ecps.professional.{professional_id}"


# ----------------------------------------------------------------------------- devices
def _bearer_digest(token: str) -> str | None:
    """The stored digest of a bearer token, or None for one no device can hold."""
    return _digest(token) if token and len(token) <= 200 else None


def device_for_token(token: str) -> DeviceRow | None:
    """The device of a bearer token, as a frozen row (one prebuilt statement)."""
    digest = _bearer_digest(token)
    return device_store.by_token_digest(digest) if digest else None


def device_with_pending(token: str) -> tuple[DeviceRow, list[store.ChallengeRow]] | None:
    """The device of a bearer token and its professional's pending logins, in one
    statement (the phone's list)."""
    digest = _bearer_digest(token)
    return device_store.by_token_digest_with_pending(digest, _now()) if digest else None


def answer_look(token: str, challenge_id: str, lock: bool) -> AnswerLook | None:
    """The device of a bearer token, the challenge it answers (if its professional's) and the
    professional's national id, in one statement; ``lock``: an approval, whose PIN is then
    checked under the device row's lock (``device_store``)."""
    digest = _bearer_digest(token)
    return device_store.answer_look(digest, str(challenge_id), lock) if digest else None


def device_status(device: EcpsDevice | DeviceRow) -> str:
    """usable, revoked, blocked, expired, or waiting (the activation delay is running)."""
    now = _now()
    if device.revoked_at is not None:
        return "revoked"
    if device.blocked_at is not None:
        return "blocked"
    if now >= device.expires_at:
        return "expired"
    if now < device.usable_from:
        return "waiting"
    return "usable"


def usable_devices(professional_id: int) -> list[DeviceRow]:
    """The professional's usable devices, as frozen rows."""
    return [d for d in device_store.of_professional(professional_id)
            if device_status(d) == "usable"]


def devices_of(professional_id: int) -> list[DeviceRow]:
    """The professional's devices, oldest activation first, as frozen rows (one prebuilt
    statement); what changes a device loads its ORM row by id."""
    return device_store.of_professional(professional_id)


def _usable_device_models(professional_id: int) -> list[EcpsDevice]:
    """The usable devices as ORM rows (the OTP check counts on them through ``attempts``)."""
    devices = db.session.scalars(db.select(EcpsDevice).where(
        EcpsDevice.professional_id == professional_id))
    return [d for d in devices if device_status(d) == "usable"]


def revoke_device(device: EcpsDevice, by: str) -> None:
    if device.revoked_at is None:
        device.revoked_at = _now()
        announce(topic(device.professional_id))
        professional = db.session.get(Professional, device.professional_id)
        record("ecps.device_revoked", subject=professional.national_id, device_id=device.id,
               by=by)


def renew_device(device: EcpsDevice) -> None:
    """Another full validity period from now (the seeds: valid 3 years, renewable)."""
    if device_status(device) in ("revoked", "blocked"):
        raise EcpsError("device_not_renewable", "A revoked or blocked e-CPS is re-activated.", 409)
    device.expires_at = _now() + timedelta(days=_settings().ecps.validity_days)


# ----------------------------------------------------------------------------- challenges
def create_challenge(professional: Professional, client_id: str, service_name: str,
                     origin: str, binding_code: str | None = None,
                     data: dict | None = None,
                     devices: list[DeviceRow] | None = None) -> EcpsChallenge:
    """A new challenge as an ORM row (CIBA keeps its polling state in it); ``devices``: the
    professional's devices when the caller has just read them (their usable ones get the
    push-gateway notice), else they are read here.

    At most ``MAX_PENDING`` logins wait per professional, browser pushes and CIBA requests
    together: the professional's row is locked (``attempts.lock_row``) until the caller
    commits, the pending ones are counted, and the oldest beyond ``MAX_PENDING - 1`` are
    withdrawn before this one is added. Concurrent creations for one professional queue on
    that lock, on every process and instance."""
    supersede_pending(professional)
    row = _new_challenge(professional, client_id, service_name, origin, binding_code, data)
    challenge = EcpsChallenge(**dataclasses.asdict(row))
    db.session.add(challenge)
    _announce_new(challenge, professional, devices)
    return challenge


def push_challenge(professional: Any, client_id: str, service_name: str,
                   data: dict, devices: list[DeviceRow], locked: bool) -> store.ChallengeRow:
    """A browser login's push, as ``create_challenge`` but through one Core INSERT into a
    frozen row; ``locked``: the caller holds the professional's row lock already
    (``devices_for_push``)."""
    supersede_pending(professional, locked=locked)
    row = _new_challenge(professional, client_id, service_name, "browser", None, data)
    store.insert(row)
    _announce_new(row, professional, devices)
    return row


def devices_for_push(professional_id: int) -> tuple[list[DeviceRow], bool]:
    """The professional's devices before a push, and whether the professional's row is now
    locked for ``push_challenge`` (PostgreSQL: in the same statement)."""
    return device_store.of_professional_locking(professional_id)


def _new_challenge(professional: Any, client_id: str, service_name: str,
                   origin: str, binding_code: str | None,
                   data: dict | None) -> store.ChallengeRow:
    now = _now()
    return store.ChallengeRow(
        id=str(uuid.uuid4()), professional_id=professional.id, client_id=client_id,
        service_name=service_name[:200], binding_code=binding_code or
        f"{secrets.randbelow(100):02d}", origin=origin, status="pending", device_id=None,
        created_at=now, expires_at=now + timedelta(seconds=_settings().ecps.challenge_lifetime),
        answered_at=None, data=data or {})


def _announce_new(challenge: EcpsChallenge | store.ChallengeRow, professional: Any,
                  devices: list[DeviceRow] | None) -> None:
    announce(topic(professional.id))
    # Push gateways hear of it once this transaction commits (never before, never on rollback).
    usable = ([d for d in devices if device_status(d) == "usable"] if devices is not None
              else usable_devices(professional.id))
    webhooks.queue_for(challenge, usable, professional.national_id)


def set_webhook(device: EcpsDevice, url: str) -> None:
    """Register (or, with ``""``, remove) the device's push-gateway webhook."""
    if url:
        try:
            url = webhooks.validate_url(url, https_only=_settings().is_production)
        except webhooks.WebhookError as exc:
            raise EcpsError("invalid_webhook", str(exc)) from None
    if device.push_webhook != url:
        device.push_webhook = url
        professional = db.session.get(Professional, device.professional_id)
        record("ecps.webhook_set", subject=professional.national_id, device_id=device.id,
               registered=bool(url))


def challenge_status(challenge: EcpsChallenge) -> str:
    if challenge.status == "pending" and _now() >= challenge.expires_at:
        challenge.status = "expired"
    return challenge.status


def supersede_pending(professional: Any, locked: bool = False) -> None:
    """Make room for one more pending login: lock the professional's row (unless ``locked``:
    the caller did), then withdraw the oldest pending logins beyond ``MAX_PENDING - 1``
    (audited ``ecps.push_cancelled``, reason ``superseded``). The caller adds the new one
    before it commits. The pending ones are read after the lock: a new statement, so they
    include what a creation that held the lock before committed."""
    if not locked:
        attempts.lock_row(Professional.__table__, professional.id)
    pending = device_store.pending(professional.id, _now())
    for old in pending[:max(len(pending) - (MAX_PENDING - 1), 0)]:
        if store.settle(old, "cancelled") is not None:
            announce(topic(old.professional_id))
            record("ecps.push_cancelled", subject=professional.national_id,
                   client_id=old.client_id, challenge_id=old.id, origin=old.origin,
                   reason="superseded")


def pending_challenges(professional_id: int) -> list[store.ChallengeRow]:
    """The professional's pending logins not yet expired, oldest first, as frozen rows (one
    prebuilt statement; an expired one is written as such by whoever settles it)."""
    return device_store.pending(professional_id, _now())


def signed_message(challenge: EcpsChallenge | store.ChallengeRow, decision: str) -> bytes:
    """What the device signs: the challenge, its binding code and the decision."""
    return f"{challenge.id}.{challenge.binding_code}.{decision}".encode()


def _check_pin(look: AnswerLook, pin: str) -> None:
    """The PIN, after the device signature verified (an authenticated attempt), checked
    under the device row's lock (``device_store``): the count it reads is the one the
    previous attempt left, a wrong PIN is counted (and the e-CPS blocked at
    ``ecps.pin_attempts``) before the lock is released, and none is checked beyond the limit,
    however many arrive at once."""
    limit = _settings().ecps.pin_attempts
    device, national_id = look.device, look.national_id
    locked = device_store.lock_for_pin(look)
    if locked is None or locked.blocked_at is not None or locked.revoked_at is not None \
            or locked.pin_failures >= limit:
        record("ecps.attempt_refused", "failure", subject=national_id,
               means="pin", device_id=device.id, reason="limit")
        raise EcpsError("device_blocked", "This e-CPS is blocked.", 403)
    keyed = _keyed()
    right, rehash = hashing.verify_pin(keyed, locked.pin_hash, device.id, str(pin)[:16])
    if not right:
        used, blocked_at = device_store.count_wrong_pin(device.id, limit, _now())
        if blocked_at is not None:
            announce(topic(device.professional_id))
            record("ecps.blocked", "failure", subject=national_id,
                   device_id=device.id, reason="pin_attempts")
        record("ecps.pin_refused", "failure", subject=national_id,
               device_id=device.id, failures=used)
        raise EcpsError("invalid_pin", "Wrong PIN.", 403, pin_failures=used)
    if locked.pin_failures or rehash:  # an argon2id hash from before: the keyed hash now
        device_store.clear_pin_failures(
            device.id, hashing.hash_pin(keyed, device.id, str(pin)[:16]) if rehash else None)


def answer_challenge(look: AnswerLook, decision: str, pin: str,
                     signature_b64: str) -> store.ChallengeRow:
    """The phone's answer (``look``: its device, the challenge and the professional, from
    ``answer_look``): a signature by the device key over the challenge, and the PIN to
    approve (a denial needs none: it only ends the login, and the signature proves the
    phone; a stranger holding the phone can refuse a login, never accept one)."""
    if decision not in ("approve", "deny"):
        raise EcpsError("invalid_request", "decision must be approve or deny")
    device = look.device
    status = device_status(device)
    if status != "usable":
        raise EcpsError(f"device_{status}", f"This e-CPS is {status}.", 403)
    challenge = look.challenge  # a frozen row, read with the device: one Core SELECT
    if challenge is None or challenge.professional_id != device.professional_id:
        raise EcpsError("unknown_challenge", "No such pending request for this e-CPS.", 404)
    status = store.effective_status(challenge, _now())
    if status != "pending":
        if status == "expired" and challenge.status == "pending":
            store.settle(challenge, "expired")
        raise EcpsError("challenge_closed", f"This request is {status}.", 409)
    try:
        signature = base64.urlsafe_b64decode(signature_b64 + "=" * (-len(signature_b64) % 4))
        load_public_key(device.public_key_pem).verify(
            signature, signed_message(challenge, decision), ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError, TypeError) as exc:
        record("ecps.signature_refused", "failure", device_id=device.id,
               challenge_id=challenge.id)
        raise EcpsError("invalid_signature", "The device signature does not verify.",
                        403) from exc
    if decision == "approve":  # a denial needs no PIN: it cannot sign anyone in
        _check_pin(look, pin)
    # The first answer wins: one conditional update (a parallel answer, or the login
    # withdrawing it, finds it no longer pending).
    answered = store.settle(challenge, "approved" if decision == "approve" else "denied",
                            device_id=device.id, answered_at=_now())
    if answered is None:
        raise EcpsError("challenge_closed", "This request was already answered or withdrawn.",
                        409)
    challenge = answered
    announce(topic(challenge.professional_id))
    record("ecps.challenge_answered", subject=look.national_id, device_id=device.id,
           challenge_id=challenge.id, decision=challenge.status, client_id=challenge.client_id)
    return challenge


# ----------------------------------------------------------------------------- OTP
def otp_secret(device: EcpsDevice | DeviceRow) -> str:
    try:
        return _fernet().decrypt(device.otp_secret_encrypted.encode()).decode()
    except InvalidToken as exc:  # the provider's secret changed: the seed is unreadable
        raise EcpsError("otp_unavailable", "Re-activate this e-CPS.", 409) from exc


def verify_otp(professional: Any, code: str, source: str = "") -> EcpsDevice:
    """A TOTP code (6 digits, 30 s) from any usable device; each time step is accepted once,
    ever, per device (``attempts.claim``).

    Codes are typed next to a public national id: a wrong one proves nothing about who typed
    it, so it never blocks the device's OTP. It is throttled instead (``attempts.take``,
    counted before the check): ``ecps.otp_attempts`` wrong codes per login (``source``, the
    login's id) → ``otp_locked`` for that login; twice that per professional per window
    (15 min, doubling up to 24 h) → ``otp_throttled`` until the window ends. An accepted code
    clears both."""
    if not (isinstance(code, str) and code.isascii() and code.isdigit() and len(code) == 6):
        raise EcpsError("invalid_otp", "The code has 6 digits.")
    devices = _usable_device_models(professional.id)
    if not devices:
        raise EcpsError("no_usable_device", "No usable e-CPS for this professional.", 403)
    settings = _settings().ecps
    now = _now()
    login_key = f"otp.login.{source}" if source else ""
    professional_key = f"otp.professional.{professional.id}"
    in_login = attempts.take(login_key, settings.otp_attempts, OTP_LOGIN_WINDOW, now) \
        if login_key else 0
    if in_login is None:
        record("ecps.attempt_refused", "failure", subject=professional.national_id,
               means="otp", reason="login_limit")
        raise EcpsError("otp_locked", "Too many wrong codes in this login.", 429)
    if attempts.take(professional_key, 2 * settings.otp_attempts, OTP_WINDOW, now,
                     OTP_MAX_WINDOW) is None:
        if login_key:
            attempts.give_back(login_key)
        ends = attempts.window_ends(professional_key)
        record("ecps.attempt_refused", "failure", subject=professional.national_id,
               means="otp", reason="throttled", until=ends.isoformat() if ends else None)
        raise EcpsError("otp_throttled", "Too many wrong codes for this professional: "
                        "try again later.", 429)
    timestamp = _provider().clock.timestamp()
    for device in devices:
        totp = pyotp.TOTP(otp_secret(device))
        for drift in range(-settings.otp_drift_steps, settings.otp_drift_steps + 1):
            step = int(timestamp // 30) + drift
            if secrets.compare_digest(totp.at(step * 30), code):
                if not attempts.claim(device, "last_otp_step", step):
                    record("ecps.otp_replayed", "failure", subject=professional.national_id,
                           device_id=device.id)
                    raise EcpsError("otp_replayed", "This code was already used.", 403)
                attempts.reset(device, "otp_failures")
                attempts.forget(professional_key)
                if login_key:
                    attempts.forget(login_key)
                return device
    attempts.bump(devices, "otp_failures")  # wrong codes since the last accepted one
    record("ecps.otp_refused", "failure", subject=professional.national_id)
    if login_key and in_login >= settings.otp_attempts:
        raise EcpsError("otp_locked", "Wrong code, and the last one this login may try.", 403)
    raise EcpsError("invalid_otp", "Wrong or expired code.", 403)
