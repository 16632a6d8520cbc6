"""``private_key_jwt`` (RFC 7523 §2.2, OIDC Core §9): the client signs an assertion with its key.

The public key comes from the client's registered ``jwks`` or ``jwks_uri`` (fetched with short
timeouts and cached a few minutes). Each assertion ``jti`` is accepted once, and an assertion
lives ``MAX_ASSERTION_LIFETIME`` (5 min) at most: ``exp - iat``, or ``exp - now`` without ``iat``
(one valid for ten years was accepted, and replayable once its ``jti`` row was gone).
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import Any

import requests
from authlib.oauth2.rfc6749.errors import InvalidClientError
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion
from joserfc.jwk import KeySet
from sqlalchemy.exc import IntegrityError

from ..config import Settings
from ..db import db
from ..pki.outgoing import verify_setting
from . import urls
from .models import UsedAssertion

_JWKS_TTL = 300
MAX_ASSERTION_LIFETIME = 300
"""Seconds from ``iat`` (or from now, without ``iat``) to ``exp`` that an assertion may span."""
_jwks_cache: dict[str, tuple[float, KeySet]] = {}
_cache_lock = threading.Lock()


def fetch_jwks(uri: str) -> KeySet:
    now = time.monotonic()
    with _cache_lock:
        cached = _jwks_cache.get(uri)
        if cached and now - cached[0] < _JWKS_TTL:
            return cached[1]
    try:
        response = requests.get(uri, timeout=(3, 5), verify=verify_setting())  # [tls] CAs
        response.raise_for_status()
        key_set = KeySet.import_key_set(response.json())
    except (requests.RequestException, ValueError, KeyError, TypeError) as exc:
        raise InvalidClientError(description="The client's jwks_uri cannot be read.") from exc
    with _cache_lock:
        _jwks_cache[uri] = (now, key_set)
    return key_set


class PrivateKeyJwt(JWTBearerClientAssertion):
    CLIENT_AUTH_METHOD = "private_key_jwt"

    def __init__(self, settings: Settings):
        super().__init__(validate_jti=True, leeway=60)
        self.settings = settings

    def extract_assertion(self, assertion: str) -> tuple[Any, dict[str, Any]]:
        try:
            return super().extract_assertion(assertion)
        except RecursionError as exc:  # a header or payload of 20,000 nested arrays
            raise InvalidClientError(description="Invalid JWT assertion.") from exc

    def verify_claims(self, claims: Any) -> None:
        """Authlib's checks (iss = sub, aud, exp, iat not in the future, jti once), with the
        lifetime bound first, so that an over-long assertion does not even use up its jti."""
        exp, iat = claims.get("exp"), claims.get("iat")
        if isinstance(exp, int | float) and not isinstance(exp, bool):  # else Authlib refuses
            start = iat if _number(iat) else time.time()
            if not _number(exp) or exp - start > MAX_ASSERTION_LIFETIME:
                raise InvalidClientError(
                    description=f"The client assertion lives longer than "
                                f"{MAX_ASSERTION_LIFETIME} seconds (exp - iat).")
        super().verify_claims(claims)

    def get_audiences(self) -> list[str]:
        """The token endpoint URL or the issuer, as OIDC Core §9 and RFC 7523 allow."""
        issuer = self.settings.issuer
        return [issuer, urls.absolute(self.settings.public_url, urls.TOKEN),
                urls.absolute(self.settings.public_url, urls.INTROSPECT),
                urls.absolute(self.settings.public_url, urls.REVOKE),
                urls.absolute(self.settings.public_url, urls.CIBA)]

    def resolve_client_public_key(self, client: Any) -> KeySet:
        if client.jwks:
            try:
                return KeySet.import_key_set(client.jwks)
            except (ValueError, KeyError, TypeError) as exc:
                raise InvalidClientError(description="The client's jwks is invalid.") from exc
        if client.jwks_uri:
            return fetch_jwks(client.jwks_uri)
        raise InvalidClientError(description="The client has no registered keys.")

    def validate_jti(self, claims: dict[str, Any], jti: Any) -> bool:
        if not isinstance(jti, str) or not jti or len(jti) > 64:
            return False
        expires = datetime.fromtimestamp(int(claims["exp"]) + self.leeway, UTC).replace(tzinfo=None)
        try:
            with db.session.begin_nested():
                db.session.add(UsedAssertion(jti=jti, client_id=str(claims["sub"]),
                                             expires_at=expires))
        except IntegrityError:
            return False
        return True


def _number(value: Any) -> bool:
    """A JSON number (not a boolean; NaN and infinities are refused by Authlib's checks)."""
    return isinstance(value, int | float) and not isinstance(value, bool) \
        and value == value and abs(value) < 1e15
