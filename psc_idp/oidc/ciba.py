"""CIBA, poll mode (OpenID Connect Client-Initiated Backchannel Authentication Core 1.0), as
PSC exposes it (reference §6): the backchannel authentication endpoint and the token
endpoint's ``urn:openid:params:grant-type:ciba`` grant. Authlib has no CIBA; this module adds it.

- ``backchannel_authentication_endpoint`` (``{issuer}/protocol/openid-connect/ext/ciba/auth``):
  a confidential client authenticates as at the token endpoint and names the professional by
  ``login_hint`` (national identifier); the professional's e-CPS phones get a challenge showing
  the client's name and the two-digit ``binding_message``. The answer is the acknowledgement
  ``{auth_req_id, expires_in, interval}`` or a CIBA §13 error.
- ``CibaGrant``: an Authlib grant (``BaseGrant`` + ``TokenEndpointMixin``) registered with the
  same ``PscOpenIDCode`` extension as the code grant, so the ID token is built the same way.
  Polls answer ``authorization_pending`` (PSC's exact body), ``slow_down`` (polled faster than
  ``interval``; the interval then grows by 5 s), ``expired_token``, ``access_denied``, and
  ``invalid_grant`` for an unknown, foreign or already redeemed ``auth_req_id``.

State lives in ``EcpsChallenge.data`` (origin ``ciba``). ``auth_req_id`` is
``<challenge id>.<32 random bytes, base64url>``: the id finds the row by primary key, the random
part is the bearer secret (256 bits, CIBA §7.3 asks for at least 128) and only its SHA-256 is
stored, as for authorization codes. Ping and push modes are not implemented.

``channel=CARD`` (psc-idp's behaviour; PSC documents the value, not what it does): the request
is not pushed to the phone. The professional confirms with the CPx card on the
client-certificate listener, ``{mtls_base}/ciba/card`` (``login/card_views.py``): the card is
checked as for a card login, the page shows the service and the ``binding_message``, and
approves or denies. Its challenge waits in status ``card_pending`` (the phone lists only
``pending`` ones, so an e-CPS cannot answer a card request); tokens then say ``authMode``
``CARD`` and ``amr`` ``sc``/``pin``/``hwk``. A professional without an active card gets
``access_denied`` at once. docs/card-login.md.
"""

from __future__ import annotations

import re
import secrets
import time
import uuid
from datetime import UTC, timedelta
from typing import Any

import sqlalchemy as sa
from authlib.consts import default_json_headers
from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc6749.errors import (
    InvalidGrantError,
    InvalidRequestError,
    InvalidScopeError,
    OAuth2Error,
    UnauthorizedClientError,
)
from authlib.oauth2.rfc6749.hooks import hooked
from flask import Response, current_app, request
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import flag_modified

from ..audit import record
from ..config import Settings
from ..credentials import ecps
from ..credentials import store as challenge_store
from ..credentials.models import EcpsChallenge
from ..credentials.store import ChallengeRow
from ..db import db
from ..directory.lookup import (
    ENDED_ERROR_DESCRIPTION,
    find_for_login,
    is_ended,
    signed_in_professional,
)
from ..prepared import Prepared
from ..sessions import establish_session, note_client
from . import store, urls
from .grants import TOKEN_AUTH_METHODS
from .models import Grant, digest
from .tokens import AuthContext

GRANT_TYPE = "urn:openid:params:grant-type:ciba"
CONFIDENTIAL_METHODS = [m for m in TOKEN_AUTH_METHODS if m != "none"]
DEFAULT_INTERVAL = 5
"""Seconds between polls (CIBA's default when ``interval`` is absent; PSC's mock says 1 or 5)."""
SLOW_DOWN_STEP = 5
"""CIBA §11: after ``slow_down`` the interval grows by at least 5 s for all later polls."""
MAX_EXPIRY = 600
"""``requested_expiry`` is honoured up to this many seconds."""
CHANNELS = ("MOBILE", "CARD")
AUTH_MODE = "MOBILE"
ACR = "eidas1"
AMR = ["swk", "pin", "mfa"]  # RFC 8176: software-secured key + PIN, as the e-CPS persona mode
AUTHENTICATOR = "ecps-ciba"
CARD_PENDING = "card_pending"
"""Status of a ``channel=CARD`` request waiting for the card (never listed on the phone)."""
CARD_AMR = ["sc", "pin", "hwk"]  # RFC 8176: smart card, PIN, hardware-secured key
CARD_AUTHENTICATOR = "card-ciba"
MAX_CARD_PENDING = 3
"""``channel=CARD`` requests waiting per professional; a new one withdraws the oldest."""
PENDING_DESCRIPTION = ("The authorization request is still pending as the end-user hasn't yet "
                       "been authenticated.")  # PSC's exact wording (reference §6)
SINGLE_VALUED = ("scope", "client_notification_token", "acr_values", "login_hint_token",
                 "id_token_hint", "login_hint", "binding_message", "user_code",
                 "requested_expiry", "channel", "client_id", "auth_req_id")
_TWO_DIGITS = re.compile(r"[0-9]{2}")
_POSITIVE_INT = re.compile(r"[1-9][0-9]{0,8}")
_GRANT_NS = uuid.UUID("5d1d7a3e-8a3c-4f2e-9a7b-0c1a2b3c4d5e")


# ----------------------------------------------------------------------------- errors
class UnknownUserIdError(OAuth2Error):
    error = "unknown_user_id"
    status_code = 400


class InvalidBindingMessageError(OAuth2Error):
    error = "invalid_binding_message"
    status_code = 400


class BackchannelAccessDeniedError(OAuth2Error):
    """CIBA §13: the OP refuses the authentication request itself (HTTP 403)."""

    error = "access_denied"
    status_code = 403


class AuthorizationPendingError(OAuth2Error):
    error = "authorization_pending"
    status_code = 400


class SlowDownError(OAuth2Error):
    error = "slow_down"
    status_code = 400


class ExpiredTokenError(OAuth2Error):
    error = "expired_token"
    status_code = 400


class TokenAccessDeniedError(OAuth2Error):
    """CIBA §11: the professional denied the request on the phone (HTTP 400, token endpoint)."""

    error = "access_denied"
    status_code = 400


# ----------------------------------------------------------------------------- helpers
def _provider() -> Any:
    return current_app.extensions["psc_idp"]


def _clock() -> Any:
    return _provider().clock


def _single(form: Any, name: str) -> str:
    values = form.getlist(name) if hasattr(form, "getlist") else [form.get(name)]
    values = [v for v in values if v is not None]
    if len(values) > 1:
        raise InvalidRequestError(f"Duplicated parameter: {name}")
    return values[0] if values else ""


def _check_duplicates(form: Any) -> None:
    for name in SINGLE_VALUED:
        _single(form, name)


def _remaining(challenge: EcpsChallenge | ChallengeRow) -> int:
    return max(int((challenge.expires_at - _clock().now()).total_seconds()), 0)


def _real_timestamp(provider_time: Any) -> int:
    """A provider-clock instant on the real-time scale tokens are stamped with (``iat``)."""
    clock = _clock()
    stamp = provider_time.replace(tzinfo=UTC).timestamp() - clock.offset
    return int(min(stamp, time.time()))


def new_auth_req_id(challenge_id: str) -> tuple[str, str]:
    """``auth_req_id`` and the digest kept in the challenge's data."""
    secret = secrets.token_urlsafe(32)
    return f"{challenge_id}.{secret}", digest(secret)


def _update_data(challenge: EcpsChallenge, **changes: Any) -> None:
    challenge.data = {**(challenge.data or {}), **changes}
    flag_modified(challenge, "data")


def find_request(auth_req_id: str) -> ChallengeRow | None:
    """The CIBA challenge named by ``auth_req_id``, as a frozen row (one prepared SELECT);
    None if unknown or the secret is wrong."""
    if not isinstance(auth_req_id, str) or len(auth_req_id) > 100 or "." not in auth_req_id:
        return None
    challenge_id, _, secret = auth_req_id.partition(".")
    if len(challenge_id) != 36 or not secret:
        return None
    challenge = challenge_store.challenge(challenge_id)
    if challenge is None or challenge.origin != "ciba":
        return None
    expected = str((challenge.data or {}).get("auth_req_digest", ""))
    if not expected or not secrets.compare_digest(digest(secret), expected):
        return None
    return challenge


def _with_data(challenge: ChallengeRow, **changes: Any) -> ChallengeRow:
    """The polling state written (one prepared UPDATE of the data), and the row as now."""
    return challenge_store.set_data(challenge, {**(challenge.data or {}), **changes})


# ----------------------------------------------------------------------------- endpoint
def _validate(form: Any, client: Any) -> dict[str, Any]:
    """CIBA §7.1 request checks, in order; returns what the challenge needs."""
    _check_duplicates(form)
    if not client.check_grant_type(GRANT_TYPE):
        raise UnauthorizedClientError("The client is not allowed to use CIBA.")
    if form.get("request") or form.get("request_uri"):
        raise InvalidRequestError("Signed authentication requests are not supported.")
    if form.get("user_code"):
        raise InvalidRequestError("user_code is not supported.")

    scope = _single(form, "scope")
    if not scope:
        raise InvalidRequestError("Missing parameter: scope")
    if len(scope) > 2048:
        raise InvalidRequestError("Invalid parameter: scope is too long")
    allowed = client.get_allowed_scope(scope)
    if "openid" not in allowed.split():
        raise InvalidScopeError("The scope must include openid.")

    if _single(form, "login_hint_token") or _single(form, "id_token_hint"):
        raise InvalidRequestError("login_hint_token and id_token_hint are not supported; "
                                  "send login_hint (the national identifier).")
    login_hint = _single(form, "login_hint")
    if not login_hint:
        raise InvalidRequestError("Missing parameter: login_hint")

    channel = _single(form, "channel") or "MOBILE"
    if channel not in CHANNELS:
        raise InvalidRequestError("Invalid parameter: channel (CARD or MOBILE)")

    binding_message = _single(form, "binding_message")
    if binding_message and not _TWO_DIGITS.fullmatch(binding_message):
        raise InvalidBindingMessageError("The binding_message must be two digits, 00 to 99.")

    settings = _provider().settings
    lifetime = settings.ecps.challenge_lifetime
    requested = _single(form, "requested_expiry")
    if requested:
        if not _POSITIVE_INT.fullmatch(requested):
            raise InvalidRequestError("Invalid parameter: requested_expiry (positive integer)")
        lifetime = min(int(requested), MAX_EXPIRY)

    professional = find_for_login(login_hint[:64]) if len(login_hint) <= 64 else None
    if professional is None:
        raise UnknownUserIdError("Unknown login_hint: no professional with this identifier.")
    if professional.means_blocked:
        raise BackchannelAccessDeniedError("This professional's means are blocked.")
    if is_ended(professional):
        raise BackchannelAccessDeniedError(ENDED_ERROR_DESCRIPTION)
    devices = []  # the usable e-CPS, read once: the challenge's push-gateway notices too
    if channel == "CARD":
        if not _has_active_card(professional.id):
            raise BackchannelAccessDeniedError("No usable CPx card for this professional.")
    elif not (devices := ecps.usable_devices(professional.id)):
        raise BackchannelAccessDeniedError("No usable e-CPS for this professional.")
    return {"professional": professional, "devices": devices, "scope": allowed,
            "channel": channel,
            "binding_message": binding_message, "lifetime": lifetime,
            "acr_values": _single(form, "acr_values")[:200]}


def backchannel_authentication_endpoint() -> Response:
    """POST ``{issuer}/protocol/openid-connect/ext/ciba/auth`` (CIBA §7)."""
    server = _provider().server
    oauth_request = server.create_oauth2_request(None)
    form = request.form
    client = None
    try:
        client = server.authenticate_client(oauth_request, CONFIDENTIAL_METHODS, "backchannel")
        checked = _validate(form, client)
    except OAuth2Error as error:
        record("ciba.refused", "failure",
               client_id=client.client_id if client else _presented_client_id(oauth_request),
               error=error.error, description=error.description or "",
               login_hint=str(form.get("login_hint", ""))[:64])
        db.session.commit()
        return server.handle_error_response(oauth_request, error)

    professional = checked["professional"]
    if checked["channel"] == "CARD":
        challenge = _card_challenge(professional, client, checked["binding_message"])
    else:
        challenge = ecps.create_challenge(
            professional, client.client_id, client.name or client.client_id, "ciba",
            binding_code=checked["binding_message"] or None, devices=checked["devices"])
    challenge.expires_at = challenge.created_at + timedelta(seconds=checked["lifetime"])
    auth_req_id, secret_digest = new_auth_req_id(challenge.id)
    challenge.data = {
        "auth_req_digest": secret_digest, "scope": checked["scope"],
        "acr_values": checked["acr_values"], "channel": checked["channel"],
        "binding_message": checked["binding_message"], "interval": DEFAULT_INTERVAL,
        "last_poll": None,
    }
    record("ciba.requested", subject=professional.national_id, client_id=client.client_id,
           challenge_id=challenge.id, channel=checked["channel"],
           binding_code=challenge.binding_code, expires_in=checked["lifetime"],
           interval=DEFAULT_INTERVAL, scope=checked["scope"])
    db.session.commit()
    return server.handle_response(200, {"auth_req_id": auth_req_id,
                                        "expires_in": checked["lifetime"],
                                        "interval": DEFAULT_INTERVAL},
                                  default_json_headers)


def _has_active_card(professional_id: int) -> bool:
    from ..credentials.models import Card

    now = _clock().now()
    return db.session.scalar(db.select(Card.serial).where(
        Card.professional_id == professional_id, Card.status == "active",
        Card.not_before <= now, Card.not_after > now).limit(1)) is not None


def _card_challenge(professional: Any, client: Any, binding_message: str) -> EcpsChallenge:
    """A ``channel=CARD`` request: no push to the phone; at most ``MAX_CARD_PENDING`` wait per
    professional (the professional's row lock, ``attempts.lock_row``, queues
    concurrent requests)."""
    from ..credentials import attempts
    from ..directory.models import Professional

    attempts.lock_row(Professional.__table__, professional.id)
    now = _clock().now()
    waiting = list(db.session.scalars(db.select(EcpsChallenge).where(
        EcpsChallenge.professional_id == professional.id,
        EcpsChallenge.status == CARD_PENDING, EcpsChallenge.expires_at > now)
        .order_by(EcpsChallenge.created_at, EcpsChallenge.id)))
    for old in waiting[:max(len(waiting) - (MAX_CARD_PENDING - 1), 0)]:
        if attempts.transition(old, {"status": CARD_PENDING}, status="cancelled"):
            record("ciba.refused", "failure", subject=professional.national_id,
                   client_id=old.client_id, challenge_id=old.id, error="superseded",
                   channel="CARD")
    challenge = EcpsChallenge(
        id=str(uuid.uuid4()), professional_id=professional.id, client_id=client.client_id,
        service_name=(client.name or client.client_id)[:200], origin="ciba",
        binding_code=binding_message or f"{secrets.randbelow(100):02d}", created_at=now,
        expires_at=now, status=CARD_PENDING, data={})
    db.session.add(challenge)
    return challenge


def card_request_status(challenge: EcpsChallenge | ChallengeRow) -> str:
    """A card request's status as the token endpoint reads it (``pending`` while waiting)."""
    if challenge.status == CARD_PENDING:
        return "pending" if _clock().now() < challenge.expires_at else "expired"
    return challenge.status


def pending_card_requests(professional_id: int) -> list[EcpsChallenge]:
    """What the card holder's page lists: the ``channel=CARD`` requests still waiting."""
    return list(db.session.scalars(db.select(EcpsChallenge).where(
        EcpsChallenge.professional_id == professional_id, EcpsChallenge.origin == "ciba",
        EcpsChallenge.status == CARD_PENDING, EcpsChallenge.expires_at > _clock().now())
        .order_by(EcpsChallenge.created_at, EcpsChallenge.id)))


def answer_card_request(challenge: EcpsChallenge, decision: str, card_serial: str) -> bool:
    """The holder approved or denied with the card: one conditional update decides (a
    second answer, or one after expiry, changes nothing and returns False)."""
    from ..credentials import attempts

    if decision not in ("approve", "deny") or card_request_status(challenge) != "pending":
        return False
    status = "approved" if decision == "approve" else "denied"
    if not attempts.transition(challenge, {"status": CARD_PENDING}, status=status,
                               answered_at=_clock().now()):
        return False
    _update_data(challenge, card_serial=card_serial)
    return True


def _presented_client_id(oauth_request: Any) -> str:
    from authlib.oauth2.rfc6749.util import extract_basic_authorization

    try:
        basic_id, _ = extract_basic_authorization(oauth_request.headers)
    except (ValueError, UnicodeDecodeError):
        basic_id = None
    return str(basic_id or oauth_request.form.get("client_id", ""))[:200]


# ----------------------------------------------------------------------------- grant
class CibaGrant(grants.BaseGrant, grants.TokenEndpointMixin):
    """``grant_type=urn:openid:params:grant-type:ciba`` at the token endpoint (CIBA §10, §11)."""

    GRANT_TYPE = GRANT_TYPE
    TOKEN_ENDPOINT_AUTH_METHODS = CONFIDENTIAL_METHODS

    challenge: ChallengeRow | None = None

    def validate_token_request(self) -> None:
        client = self.authenticate_token_endpoint_client()
        if not client.check_grant_type(self.GRANT_TYPE):
            raise UnauthorizedClientError("The client is not allowed to use CIBA.")
        datalist = self.request.payload.datalist
        if len(datalist.get("auth_req_id", [])) > 1:
            raise InvalidRequestError("Duplicated parameter: auth_req_id")
        auth_req_id = self.request.form.get("auth_req_id")
        if not auth_req_id:
            raise InvalidRequestError("Missing parameter: auth_req_id")
        challenge = find_request(auth_req_id)
        if challenge is None or challenge.client_id != client.client_id:
            raise InvalidGrantError("Invalid auth_req_id")
        data = challenge.data or {}
        # Redeemed: marked in the data with the grant's insert (one transaction); should a
        # concurrent poll's data write have lost the mark, the grant's primary key still
        # refuses a second redemption (``_claim``).
        if data.get("redeemed_at"):
            raise InvalidGrantError("This auth_req_id was already used.")

        status = card_request_status(challenge) if _is_card(challenge) \
            else challenge_store.effective_status(challenge, _clock().now())
        if status == "expired" or _remaining(challenge) <= 0:
            raise ExpiredTokenError("The auth_req_id has expired: start a new request.")
        if status == "denied":
            raise TokenAccessDeniedError("The professional denied the request.")
        if status == "pending":
            self._throttle(challenge)
        if status != "approved":  # any other ending (withdrawn...) never yields tokens
            raise TokenAccessDeniedError("The request ended without approval.")
        professional = signed_in_professional(challenge.professional_id)  # one statement
        if professional is None or professional.means_blocked:
            raise TokenAccessDeniedError("This professional's means are blocked.")
        if is_ended(professional):
            raise TokenAccessDeniedError(ENDED_ERROR_DESCRIPTION)
        self.request.client = client
        self.challenge = challenge

    def _throttle(self, challenge: ChallengeRow) -> None:
        """Still pending: ``slow_down`` if polled faster than the interval, else pending."""
        data = challenge.data or {}
        now = _clock().timestamp()
        interval = int(data.get("interval") or DEFAULT_INTERVAL)
        last = data.get("last_poll")
        if isinstance(last, int | float) and now - last < interval:
            _with_data(challenge, last_poll=now, interval=interval + SLOW_DOWN_STEP)
            raise SlowDownError(f"Polling too fast: wait {interval + SLOW_DOWN_STEP} seconds "
                                "between requests.")
        _with_data(challenge, last_poll=now)
        raise AuthorizationPendingError(PENDING_DESCRIPTION)

    @staticmethod
    def _grant_id(challenge: ChallengeRow) -> str:
        """One grant per approval: a primary key derived from the challenge makes the
        auth_req_id single-use even against two simultaneous polls."""
        return str(uuid.uuid5(_GRANT_NS, challenge.id))

    def _claim(self, challenge: ChallengeRow, auth_time: int) -> store.GrantRow:
        """Insert the grant first (``oidc/store.py``'s Core INSERT, in a savepoint): a second
        redemption fails here on the primary key, before anything else is written. Its
        session is attached right after (``_ATTACH_SESSION``)."""
        data = challenge.data or {}
        auth_mode, acr, amr, _ = _means(challenge)
        grant = store.GrantRow(id=self._grant_id(challenge), client_id=challenge.client_id,
                               professional_id=challenge.professional_id, session_id="",
                               scope=data.get("scope", ""), nonce="", auth_time=auth_time,
                               acr=acr, amr=tuple(amr), auth_mode=auth_mode)
        try:
            with db.session.begin_nested():
                store.insert_grant(grant)
        except IntegrityError as exc:
            raise InvalidGrantError("This auth_req_id was already used.") from exc
        _with_data(challenge, redeemed_at=_clock().timestamp(), grant_id=grant.id)
        return grant

    @hooked
    def create_token_response(self) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        challenge = self.challenge
        assert challenge is not None
        professional = signed_in_professional(challenge.professional_id)  # read above
        answered = challenge.answered_at or _clock().now()
        auth_time = _real_timestamp(answered)
        grant = self._claim(challenge, auth_time)
        # No browser, so no cookie: the session row exists for sid/session_state, the session
        # lists and logout fan-out; its cookie value is random and handed to nobody.
        auth_mode, acr, amr, authenticator = _means(challenge)
        session, _unused_cookie = establish_session(
            professional_id=professional.id, auth_time=auth_time, acr=acr, amr=list(amr),
            auth_mode=auth_mode, authenticator=authenticator, previous=None)
        _ATTACH_SESSION.execute({"gid": grant.id, "sid": session.id})
        note_client(session, challenge.client_id)
        ctx = AuthContext(professional=professional, session_id=session.id,
                          auth_time=auth_time, acr=acr, amr=list(amr), auth_mode=auth_mode,
                          grant_id=grant.id, scope=grant.scope)
        record("login.success", subject=professional.national_id,
               client_id=challenge.client_id, authenticator=authenticator,
               auth_mode=auth_mode, acr=acr, sid=session.id, challenge_id=challenge.id)
        token = self.generate_token(user=ctx, scope=grant.scope, include_refresh_token=True)
        self.request.user = ctx
        self.save_token(token)
        return 200, token, self.TOKEN_RESPONSE_HEADER


_GRANT = Grant.__table__
_ATTACH_SESSION = Prepared(_GRANT.update().where(_GRANT.c.id == sa.bindparam("gid"))
                           .values(session_id=sa.bindparam("sid")))
"""The claimed grant gets its session (created after the claim: a refused second redemption
writes no session)."""


def _is_card(challenge: EcpsChallenge | ChallengeRow) -> bool:
    return (challenge.data or {}).get("channel") == "CARD"


def _means(challenge: EcpsChallenge | ChallengeRow) -> tuple[str, str, list[str], str]:
    """(authMode, acr, amr, authenticator) of the approval: the e-CPS, or the card (its
    acr: the strongest of ``acr_values`` a card reaches, else eidas1 as PSC's RPs expect)."""
    if not _is_card(challenge):
        return AUTH_MODE, ACR, list(AMR), AUTHENTICATOR
    from ..sessions.assurance import granted_acr, known_acr_values, means_level

    acr = granted_acr(known_acr_values(str((challenge.data or {}).get("acr_values", ""))),
                      means_level("CARD", CARD_AMR), ACR)
    return "CARD", acr, list(CARD_AMR), CARD_AUTHENTICATOR


# ----------------------------------------------------------------------------- discovery
def discovery_extension(doc: dict[str, Any], settings: Settings) -> None:
    doc["backchannel_authentication_endpoint"] = urls.absolute(settings.public_url, urls.CIBA)
    doc["backchannel_token_delivery_modes_supported"] = ["poll"]
    doc["backchannel_user_code_parameter_supported"] = False
    if GRANT_TYPE not in doc.setdefault("grant_types_supported", []):
        doc["grant_types_supported"].append(GRANT_TYPE)
