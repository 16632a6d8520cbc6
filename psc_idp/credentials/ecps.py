"""The e-CPS life cycle, as the seeds describe it: activation from the contact data on record
(one code by e-mail and one by SMS, both required), a PIN chosen on the phone, a device key
pair and an OTP seed, a 48 h activation delay, 3 years of validity; then every login pushed to
the phone and confirmed with the PIN and a signature by the device key.

Pure service functions over the models; the mobile API and the authenticators call them.
Errors are ``EcpsError`` with a stable ``code`` the API turns into JSON.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import pyotp
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from cryptography.exceptions import InvalidSignature
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from flask import current_app

from ..audit import record
from ..db import db
from ..directory.models import Professional
from ..hashing import ARGON2ID
from ..wakeups import announce
from . import card, outbox, webhooks
from .models import EcpsActivation, EcpsChallenge, EcpsDevice

_pins = ARGON2ID
"""argon2id at OWASP's recommended minimum (``hashing.py``): about 30 ms of CPU per PIN check
here, where argon2-cffi's default (64 MiB, 3 passes, 4 lanes) took about 230 ms on every
approval. A PIN has 4 to 8 digits, so no hash cost makes a leaked hash safe on its own;
what protects it is that it is checked only after the device signature verifies, and that 3
wrong PINs block the e-CPS. PINs hashed with other parameters still verify, and are re-hashed
with these at their next successful check."""
PIN_LENGTHS = range(4, 9)


class EcpsError(Exception):
    """A refused e-CPS operation; ``code`` is stable (the API's ``error``), ``status`` its HTTP."""

    def __init__(self, code: str, description: str, status: int = 400):
        super().__init__(description)
        self.code = code
        self.description = description
        self.status = status


def _provider():
    return current_app.extensions["psc_idp"]


def _now() -> datetime:
    return _provider().clock.now()


def _settings():
    return _provider().settings


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _fernet() -> Fernet:
    key = hashlib.sha256(("otp-seed:" + current_app.secret_key).encode()).digest()
    return Fernet(base64.urlsafe_b64encode(key))


# ----------------------------------------------------------------------------- activation
def start_contact_activation(professional: Professional) -> EcpsActivation:
    """Send one code to the e-mail and one to the mobile on record (never shown in claims)."""
    if professional.means_blocked:
        raise EcpsError("means_blocked", "This professional's means are blocked.", 403)
    if not (professional.contact_email and professional.contact_mobile):
        raise EcpsError("no_contact_data", "No e-mail and mobile on record for activation.", 409)
    settings = _settings().ecps
    email_code = f"{secrets.randbelow(10**6):06d}"
    sms_code = f"{secrets.randbelow(10**6):06d}"
    activation = EcpsActivation(
        id=str(uuid.uuid4()), professional_id=professional.id, method="contact",
        email_code_digest=_digest(email_code), sms_code_digest=_digest(sms_code),
        created_at=_now(), expires_at=_now() + timedelta(seconds=settings.code_lifetime))
    db.session.add(activation)
    outbox.send("email", professional.contact_email, "Activation de votre e-CPS",
                f"Votre code d'activation e-CPS (e-mail) : {email_code}",
                professional.national_id)
    outbox.send("sms", professional.contact_mobile, "",
                f"e-CPS : votre code d'activation (SMS) est {sms_code}",
                professional.national_id)
    record("ecps.activation_started", subject=professional.national_id, method="contact",
           activation_id=activation.id)
    return activation


def start_card_activation(professional: Professional) -> tuple[EcpsActivation, str]:
    """Activation with a CPx card: a challenge for the card to sign (see ``card.py``)."""
    if card.card_verifier() is None:
        raise EcpsError("unsupported_method", "Activation with a CPx card is not available on "
                        "this server (no card verifier is installed): use the contact method.")
    if professional.means_blocked:
        raise EcpsError("means_blocked", "This professional's means are blocked.", 403)
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
    try:
        signature = base64.urlsafe_b64decode(signature_b64 + "=" * (-len(signature_b64) % 4))
        verifier.verify(card.CardProof(
            national_id=professional.national_id,
            challenge=card.activation_challenge(activation.id).encode(),
            certificate_pem=certificate_pem, signature=signature))
    except (card.CardProofRejected, ValueError, TypeError) as exc:
        activation.failed_attempts += 1
        if activation.failed_attempts >= _settings().ecps.code_attempts:
            activation.state = "failed"
        reason = str(exc) if isinstance(exc, card.CardProofRejected) else "malformed proof"
        record("ecps.card_proof_refused", "failure", subject=professional.national_id,
               activation_id=activation.id, reason=reason[:200],
               attempts=activation.failed_attempts, state=activation.state)
        raise EcpsError("invalid_card_proof", f"The card proof was refused: {reason}",
                        403) from None
    token = secrets.token_urlsafe(32)
    activation.state = "verified"
    activation.completion_digest = _digest(token)
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
    ok_email = secrets.compare_digest(_digest(str(email_code)[:12]), activation.email_code_digest)
    ok_sms = secrets.compare_digest(_digest(str(sms_code)[:12]), activation.sms_code_digest)
    professional = db.session.get(Professional, activation.professional_id)
    if not (ok_email and ok_sms):
        activation.failed_attempts += 1
        if activation.failed_attempts >= _settings().ecps.code_attempts:
            activation.state = "failed"
        record("ecps.activation_code_refused", "failure", subject=professional.national_id,
               attempts=activation.failed_attempts, state=activation.state)
        raise EcpsError("invalid_code", "Wrong activation code(s).", 400)
    token = secrets.token_urlsafe(32)
    activation.state = "verified"
    activation.completion_digest = _digest(token)
    return token


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
    device = EcpsDevice(
        id=str(uuid.uuid4()), professional_id=activation.professional_id,
        name=(device_name or "e-CPS")[:100], public_key_pem=public_key_pem,
        token_digest=_digest(token), pin_hash=_pins.hash(pin),
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
def device_for_token(token: str) -> EcpsDevice | None:
    if not token or len(token) > 200:
        return None
    return db.session.scalar(db.select(EcpsDevice).where(
        EcpsDevice.token_digest == _digest(token)))


def device_status(device: EcpsDevice) -> str:
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


def usable_devices(professional_id: int) -> list[EcpsDevice]:
    devices = db.session.scalars(db.select(EcpsDevice).where(
        EcpsDevice.professional_id == professional_id))
    return [d for d in devices if device_status(d) == "usable"]


def devices_of(professional_id: int) -> list[EcpsDevice]:
    return list(db.session.scalars(db.select(EcpsDevice).where(
        EcpsDevice.professional_id == professional_id).order_by(EcpsDevice.activated_at)))


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
                     devices: list[EcpsDevice] | None = None) -> EcpsChallenge:
    """``devices``: the professional's devices when the caller has just read them (their
    usable ones get the push-gateway notice), else they are read here."""
    settings = _settings().ecps
    challenge = EcpsChallenge(
        id=str(uuid.uuid4()), professional_id=professional.id, client_id=client_id,
        service_name=service_name[:200], origin=origin,
        binding_code=binding_code or f"{secrets.randbelow(100):02d}", created_at=_now(),
        expires_at=_now() + timedelta(seconds=settings.challenge_lifetime), data=data or {})
    db.session.add(challenge)
    announce(topic(professional.id))
    # Push gateways hear of it once this transaction commits (never before, never on rollback).
    usable = ([d for d in devices if device_status(d) == "usable"] if devices is not None
              else usable_devices(professional.id))
    webhooks.queue_for(challenge, usable, professional.national_id)
    return challenge


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


def withdraw_challenge(challenge: EcpsChallenge) -> bool:
    """A pending push is withdrawn (its login cancelled or replaced): the phone drops it."""
    if challenge.status != "pending":
        return False
    challenge.status = "cancelled"
    announce(topic(challenge.professional_id))
    return True


def pending_challenges(professional_id: int) -> list[EcpsChallenge]:
    rows = db.session.scalars(db.select(EcpsChallenge).where(
        EcpsChallenge.professional_id == professional_id,
        EcpsChallenge.status == "pending").order_by(EcpsChallenge.created_at))
    return [c for c in rows if challenge_status(c) == "pending"]


def signed_message(challenge: EcpsChallenge, decision: str) -> bytes:
    """What the device signs: the challenge, its binding code and the decision."""
    return f"{challenge.id}.{challenge.binding_code}.{decision}".encode()


def _check_pin(device: EcpsDevice, pin: str) -> None:
    try:
        _pins.verify(device.pin_hash, str(pin)[:16])
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        device.pin_failures += 1
        professional = db.session.get(Professional, device.professional_id)
        if device.pin_failures >= _settings().ecps.pin_attempts:
            device.blocked_at = _now()
            announce(topic(device.professional_id))
            record("ecps.blocked", "failure", subject=professional.national_id,
                   device_id=device.id, reason="pin_attempts")
        record("ecps.pin_refused", "failure", subject=professional.national_id,
               device_id=device.id, failures=device.pin_failures)
        raise EcpsError("invalid_pin", "Wrong PIN.", 403) from None
    device.pin_failures = 0
    if _pins.check_needs_rehash(device.pin_hash):
        device.pin_hash = _pins.hash(str(pin)[:16])


def answer_challenge(device: EcpsDevice, challenge_id: str, decision: str, pin: str,
                     signature_b64: str) -> EcpsChallenge:
    """The phone's answer: PIN and a signature by the device key over the challenge."""
    if decision not in ("approve", "deny"):
        raise EcpsError("invalid_request", "decision must be approve or deny")
    status = device_status(device)
    if status != "usable":
        raise EcpsError(f"device_{status}", f"This e-CPS is {status}.", 403)
    challenge = db.session.get(EcpsChallenge, str(challenge_id)[:36])
    if challenge is None or challenge.professional_id != device.professional_id:
        raise EcpsError("unknown_challenge", "No such pending request for this e-CPS.", 404)
    if challenge_status(challenge) != "pending":
        raise EcpsError("challenge_closed", f"This request is {challenge.status}.", 409)
    try:
        signature = base64.urlsafe_b64decode(signature_b64 + "=" * (-len(signature_b64) % 4))
        load_public_key(device.public_key_pem).verify(
            signature, signed_message(challenge, decision), ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError, TypeError) as exc:
        record("ecps.signature_refused", "failure", device_id=device.id,
               challenge_id=challenge.id)
        raise EcpsError("invalid_signature", "The device signature does not verify.",
                        403) from exc
    _check_pin(device, pin)
    challenge.status = "approved" if decision == "approve" else "denied"
    announce(topic(challenge.professional_id))
    challenge.device_id = device.id
    challenge.answered_at = _now()
    professional = db.session.get(Professional, device.professional_id)
    record("ecps.challenge_answered", subject=professional.national_id, device_id=device.id,
           challenge_id=challenge.id, decision=challenge.status, client_id=challenge.client_id)
    return challenge


# ----------------------------------------------------------------------------- OTP
def otp_secret(device: EcpsDevice) -> str:
    try:
        return _fernet().decrypt(device.otp_secret_encrypted.encode()).decode()
    except InvalidToken as exc:  # the provider's secret changed: the seed is unreadable
        raise EcpsError("otp_unavailable", "Re-activate this e-CPS.", 409) from exc


def verify_otp(professional: Professional, code: str) -> EcpsDevice:
    """A TOTP code (6 digits, 30 s) from any usable device; each time step is accepted once."""
    if not (isinstance(code, str) and code.isascii() and code.isdigit() and len(code) == 6):
        raise EcpsError("invalid_otp", "The code has 6 digits.")
    devices = usable_devices(professional.id)
    if not devices:
        raise EcpsError("no_usable_device", "No usable e-CPS for this professional.", 403)
    settings = _settings().ecps
    now = _provider().clock.timestamp()
    for device in devices:
        if device.otp_failures >= settings.otp_attempts:
            continue
        totp = pyotp.TOTP(otp_secret(device))
        for drift in range(-settings.otp_drift_steps, settings.otp_drift_steps + 1):
            step = int(now // 30) + drift
            if secrets.compare_digest(totp.at(step * 30), code):
                if step <= device.last_otp_step:
                    record("ecps.otp_replayed", "failure", subject=professional.national_id,
                           device_id=device.id)
                    raise EcpsError("otp_replayed", "This code was already used.", 403)
                device.last_otp_step = step
                device.otp_failures = 0
                return device
    for device in devices:
        device.otp_failures += 1
    record("ecps.otp_refused", "failure", subject=professional.national_id)
    raise EcpsError("invalid_otp", "Wrong or expired code.", 403)
