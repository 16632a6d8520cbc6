"""Logout notifications from the provider: the back-channel logout token and its replay cache.

OpenID Connect Back-Channel Logout 1.0 §2.4–2.6: the provider POSTs a ``logout_token``, a JWT
it signed, to the RP's ``backchannel_logout_uri``. The signature is checked in ``app.py`` with the
provider's JWKS (asymmetric algorithms only); this module checks the claims.
"""

from __future__ import annotations

import math
import threading
import time
from typing import Any

BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"
LEEWAY = 120
"""Seconds of clock skew tolerated on ``iat`` and ``exp`` (as for ID tokens)."""
MAX_AGE = 15 * 60
"""A logout token issued (``iat``) longer ago than this is refused: the provider retries with
backoff, so a token may arrive some minutes after it was signed, but not hours."""
MAX_JTIS = 10_000


class LogoutTokenError(ValueError):
    """The logout token is invalid; the message goes to ``error_description``."""


def check_logout_claims(claims: dict[str, Any], issuer: str, client_id: str,
                        now: float | None = None) -> None:
    """Back-Channel Logout 1.0 §2.6 steps 3–7 (the signature is already verified)."""
    now = time.time() if now is None else now
    if claims.get("iss") != issuer:
        raise LogoutTokenError(f"iss {claims.get('iss')!r} is not the expected issuer")
    aud = claims.get("aud")
    audiences = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
    if client_id not in audiences:
        raise LogoutTokenError(f"aud {aud!r} does not contain this client ({client_id})")
    iat = claims.get("iat")
    if not _is_number(iat):
        raise LogoutTokenError("iat is missing or not a number")
    if iat > now + LEEWAY:
        raise LogoutTokenError("iat is in the future")
    if iat < now - MAX_AGE - LEEWAY:
        raise LogoutTokenError("iat is too old")
    if "exp" in claims:
        if not _is_number(claims["exp"]):
            raise LogoutTokenError("exp is not a number")
        if claims["exp"] < now - LEEWAY:
            raise LogoutTokenError("the logout token has expired (exp)")
    jti = claims.get("jti")
    if not isinstance(jti, str) or not jti:
        raise LogoutTokenError("jti is missing")
    events = claims.get("events")
    if not isinstance(events, dict) or BACKCHANNEL_EVENT not in events:
        raise LogoutTokenError(f"events does not contain {BACKCHANNEL_EVENT}")
    if not isinstance(events[BACKCHANNEL_EVENT], dict):
        raise LogoutTokenError(f"events[{BACKCHANNEL_EVENT}] is not a JSON object")
    sid, sub = claims.get("sid"), claims.get("sub")
    if sid is None and sub is None:
        raise LogoutTokenError("neither sid nor sub is present")
    for name, value in (("sid", sid), ("sub", sub)):
        if value is not None and (not isinstance(value, str) or not value):
            raise LogoutTokenError(f"{name} is not a non-empty string")
    if "nonce" in claims:
        raise LogoutTokenError("a logout token must not contain a nonce")


def _is_number(value: Any) -> bool:
    """A JSON number: not a boolean, not NaN or an infinity (Python's json reads "NaN")."""
    return (isinstance(value, int | float) and not isinstance(value, bool)
            and math.isfinite(value))


class JtiCache:
    """The ``jti`` of recently accepted logout tokens, to refuse a replay (§2.6 step 8, MAY)."""

    def __init__(self, limit: int = MAX_JTIS) -> None:
        self._seen: dict[tuple[str, str], float] = {}
        self._limit, self._lock = limit, threading.Lock()

    def add(self, issuer: str, jti: str, claims: dict[str, Any]) -> bool:
        """Remember ``jti``; False if it was already seen (a replay)."""
        now = time.time()
        keep_until = max(float(claims.get("iat", now)) + MAX_AGE,
                         float(claims.get("exp", 0))) + LEEWAY
        with self._lock:
            for key in [k for k, until in self._seen.items() if until < now]:
                del self._seen[key]
            if (issuer, jti) in self._seen:
                return False
            if len(self._seen) >= self._limit:  # a flood: forget the oldest first
                del self._seen[min(self._seen, key=self._seen.__getitem__)]
            self._seen[(issuer, jti)] = keep_until
        return True
