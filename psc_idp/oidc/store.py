"""The token side's data access: codes, grants and issued tokens through SQLAlchemy Core.

Every statement is a ``Prepared`` (``psc_idp/prepared.py``: compiled once, run on the driver's
cursor) on the request's connection (``db.session.connection()``), so a token or
userinfo request stays ONE transaction with the ORM parts that remain (the session's
keep-alive, rate-limit counters) and the audit row; the view commits it. Rows come back as
frozen dataclasses with the models' attribute names, never as ORM instances (no identity map,
no unit of work, no attribute events on the hot path).

The security properties live in single statements whose row count decides:

- ``claim_code``: ``UPDATE … WHERE code_digest = :c AND used_at IS NULL``; of two concurrent
  redemptions of one code exactly one sees a row count of 1.
- ``claim_refresh``: the same for a rotated refresh token (strict profile).
- ``revoke_grant``: ``UPDATE … WHERE id = :g AND revoked_at IS NULL`` (a replayed code, a
  reused refresh token, a client's revocation); revoking the grant revokes every token of it,
  since liveness (``token_and_grant``) reads the token and its grant together.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from ..db import db, utcnow
from ..directory import store as directory
from ..directory.store import ProfessionalView
from ..prepared import Prepared, request_connection
from .models import AuthorizationCode, Grant, IssuedToken

_CODE, _GRANT, _TOKEN = AuthorizationCode.__table__, Grant.__table__, IssuedToken.__table__


@dataclass(frozen=True, slots=True)
class CodeRow:
    """An authorization code as stored, with Authlib's ``AuthorizationCodeMixin`` methods."""

    code_digest: str
    client_id: str
    redirect_uri: str
    scope: str
    nonce: str
    code_challenge: str
    code_challenge_method: str
    professional_id: int
    session_id: str
    auth_time: int
    acr: str
    amr: tuple[str, ...]
    auth_mode: str
    expires_at: datetime
    used_at: datetime | None
    grant_id: str | None

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str:
        return self.nonce

    def get_auth_time(self) -> int:
        return self.auth_time

    def get_acr(self) -> str:
        return self.acr

    def get_amr(self) -> list[str]:
        return list(self.amr)

    def is_expired(self) -> bool:
        return utcnow() >= self.expires_at


@dataclass(frozen=True, slots=True)
class GrantRow:
    id: str
    client_id: str
    professional_id: int
    session_id: str
    scope: str
    nonce: str
    auth_time: int
    acr: str
    amr: tuple[str, ...]
    auth_mode: str
    revoked_at: datetime | None = None
    revoked_reason: str = ""


@dataclass(frozen=True, slots=True)
class TokenRow:
    jti: str
    grant_id: str
    kind: str
    expires_at: datetime
    used_at: datetime | None
    revoked_at: datetime | None


def _names(cls: type) -> list[str]:
    return list(cls.__dataclass_fields__)


_CODE_FIELDS, _GRANT_FIELDS, _TOKEN_FIELDS = _names(CodeRow), _names(GrantRow), _names(TokenRow)

_SELECT_CODE = Prepared(
    sa.select(*(_CODE.c[n] for n in _CODE_FIELDS), *directory.PERSON_COLUMNS)
    .select_from(directory.joined_person(_CODE, _CODE.c.professional_id))
    .where(_CODE.c.code_digest == sa.bindparam("digest")))
"""The code with its professional (the token response's claims) in one statement."""
_CLAIM_CODE = Prepared(
    _CODE.update()
    .where(_CODE.c.code_digest == sa.bindparam("digest"), _CODE.c.used_at.is_(None))
    .values(used_at=sa.bindparam("now"), grant_id=sa.bindparam("gid")))
_INSERT_CODE = Prepared(_CODE.insert())
_INSERT_GRANT = Prepared(_GRANT.insert())
_INSERT_TOKEN = Prepared(_TOKEN.insert())
_TOKEN_AND_GRANT = Prepared(
    sa.select(*(_TOKEN.c[n].label("t_" + n) for n in _TOKEN_FIELDS),
              *(_GRANT.c[n].label("g_" + n) for n in _GRANT_FIELDS), *directory.PERSON_COLUMNS)
    .select_from(directory.joined_person(
        _TOKEN.join(_GRANT, _GRANT.c.id == _TOKEN.c.grant_id), _GRANT.c.professional_id))
    .where(_TOKEN.c.jti == sa.bindparam("jti")))
"""A token, its grant and the grant's professional (refresh and userinfo need all three)."""
_REVOKE_GRANT = Prepared(
    _GRANT.update()
    .where(_GRANT.c.id == sa.bindparam("gid"), _GRANT.c.revoked_at.is_(None))
    .values(revoked_at=sa.bindparam("now"), revoked_reason=sa.bindparam("reason")))
_REVOKE_TOKEN = Prepared(
    _TOKEN.update()
    .where(_TOKEN.c.jti == sa.bindparam("b_jti"), _TOKEN.c.revoked_at.is_(None))
    .values(revoked_at=sa.bindparam("now")))
_CLAIM_REFRESH = Prepared(
    _TOKEN.update()
    .where(_TOKEN.c.jti == sa.bindparam("b_jti"), _TOKEN.c.used_at.is_(None))
    .values(used_at=sa.bindparam("now")))


def _conn_for_insert() -> sa.Connection:
    """The connection, with pending ORM rows flushed first: a row inserted here may point to
    one the ORM still holds (CIBA adds its grant through the session)."""
    if db.session.new:
        db.session.flush()
    return request_connection()


def insert_code(values: dict[str, Any]) -> None:
    """A new authorization code (``values``: the columns, digest included)."""
    _INSERT_CODE.execute(dict(values, created_at=utcnow(), used_at=None, grant_id=None),
                         _conn_for_insert())


def find_code(code_digest: str) -> CodeRow | None:
    """The stored code (used or not: the caller tells a replay from an unknown code)."""
    found = find_code_and_person(code_digest)
    return None if found is None else found[0]


def find_code_and_person(code_digest: str) -> tuple[CodeRow, ProfessionalView | None] | None:
    """The stored code and its professional (None if gone), in one statement."""
    rows = _SELECT_CODE.execute({"digest": code_digest}).all()
    if not rows:
        return None
    mapping: Any = rows[0]._mapping
    values = {n: mapping[n] for n in _CODE_FIELDS}
    values["amr"] = tuple(values["amr"] or ())
    return CodeRow(**values), directory.person_from_rows(rows)


def claim_code(code_digest: str, grant_id: str | None) -> bool:
    """Mark the code used by ``grant_id`` (None: redeemed without tokens, as the RPPS+ portal
    does); True only for the one redemption that did."""
    result = _CLAIM_CODE.execute({"digest": code_digest, "now": utcnow(),
                                           "gid": grant_id})
    return result.rowcount == 1


def insert_grant(grant: GrantRow) -> None:
    values = {n: getattr(grant, n) for n in _GRANT_FIELDS}
    values.update(amr=list(grant.amr), created_at=utcnow())
    _INSERT_GRANT.execute(values, _conn_for_insert())


def grant_from_code(code: CodeRow, grant_id: str) -> GrantRow:
    return GrantRow(id=grant_id, client_id=code.client_id,
                    professional_id=code.professional_id, session_id=code.session_id,
                    scope=code.scope, nonce=code.nonce, auth_time=code.auth_time, acr=code.acr,
                    amr=code.amr, auth_mode=code.auth_mode)


def insert_tokens(grant_id: str, records: Iterable[tuple[str, str, datetime]]) -> None:
    """The ``(kind, jti, expires_at)`` of one token response, in one executemany."""
    now = utcnow()
    rows = [{"jti": jti, "grant_id": grant_id, "kind": kind, "issued_at": now,
             "expires_at": expires_at, "used_at": None, "revoked_at": None}
            for kind, jti, expires_at in records]
    if rows:
        _INSERT_TOKEN.execute(rows, _conn_for_insert())


def token_and_grant(jti: str) -> tuple[TokenRow, GrantRow] | None:
    """A token's row and its grant, revoked or not, in one statement."""
    found = token_grant_and_person(jti)
    return None if found is None else found[:2]


def token_grant_and_person(jti: str
                           ) -> tuple[TokenRow, GrantRow, ProfessionalView | None] | None:
    """The same with the grant's professional (None if gone), still one statement."""
    if not jti or len(jti) > 36:
        return None
    rows = _TOKEN_AND_GRANT.execute({"jti": jti}).all()
    if not rows:
        return None
    m: Any = rows[0]._mapping
    token = TokenRow(**{n: m["t_" + n] for n in _TOKEN_FIELDS})
    grant = {n: m["g_" + n] for n in _GRANT_FIELDS}
    grant["amr"] = tuple(grant["amr"] or ())
    return token, GrantRow(**grant), directory.person_from_rows(rows)


def live_token(jti: str) -> tuple[TokenRow, GrantRow, ProfessionalView | None] | None:
    """The token, its grant and professional, if neither token nor grant is revoked."""
    found = token_grant_and_person(jti)
    if found is None or found[0].revoked_at is not None or found[1].revoked_at is not None:
        return None
    return found


def revoke_grant(grant_id: str | None, reason: str) -> bool:
    """Revoke a grant (and so all its tokens); False if absent or already revoked (the first
    reason is kept)."""
    if not grant_id:
        return False
    result = _REVOKE_GRANT.execute({"gid": grant_id, "now": utcnow(),
                                             "reason": reason})
    return result.rowcount == 1


def revoke_token(jti: str) -> None:
    _REVOKE_TOKEN.execute({"b_jti": jti, "now": utcnow()})


def claim_refresh(jti: str) -> bool:
    """Spend a refresh token (strict rotation); True only for the one request that did."""
    return _CLAIM_REFRESH.execute({"b_jti": jti, "now": utcnow()}).rowcount == 1
