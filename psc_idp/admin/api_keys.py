"""Credentials of the directory admin API: ``Authorization: Bearer <key_id>.<secret>``.

The key is shown once, at creation; the database keeps its SHA-256 digest only (the secret is
256 random bits: a slow hash would add nothing). Checking compares digests in constant time.
A revoked key stops working at once. docs/admin-api.md.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from ..audit import EVENTS, record
from ..db import db, utcnow
from ..secret_compare import same_secret
from .models import AdminApiKey

EVENTS.update({
    "admin.api_key_created": "a directory admin API key was created (shown once)",
    "admin.api_key_revoked": "a directory admin API key was revoked",
    "admin.api_key_refused": "a directory admin API request was refused: no, unknown, wrong or "
                             "revoked key",
})

KEY_ID_PREFIX = "dak_"
""""directory admin key": recognisable in logs and secret scanners."""
LABEL_MAX = 200


class ApiKeyError(ValueError):
    """A refused key operation (French message, one line)."""


@dataclass(frozen=True)
class NewKey:
    key_id: str
    key: str
    """``<key_id>.<secret>``: what a client sends after ``Bearer``; shown once."""
    label: str


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def create_key(label: str) -> NewKey:
    """A new key (added to the session, audited; the caller commits)."""
    label = (label or "").strip()
    if not label or len(label) > LABEL_MAX:
        raise ApiKeyError(f"un libellé de 1 à {LABEL_MAX} caractères est requis")
    key_id = KEY_ID_PREFIX + secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    db.session.add(AdminApiKey(key_id=key_id, secret_sha256=_digest(secret), label=label))
    record("admin.api_key_created", subject="", key_id=key_id, label=label)
    return NewKey(key_id=key_id, key=f"{key_id}.{secret}", label=label)


def key_json(row: AdminApiKey) -> dict[str, Any]:
    return {"key_id": row.key_id, "label": row.label,
            "created_at": row.created_at.isoformat() + "Z",
            "revoked_at": row.revoked_at.isoformat() + "Z" if row.revoked_at else None}


def list_keys() -> list[AdminApiKey]:
    return list(db.session.scalars(sa.select(AdminApiKey).order_by(AdminApiKey.id)))


def revoke_key(key_id: str) -> AdminApiKey:
    """Revoke a key: one compare-and-set, so two revocations audit one change."""
    row = db.session.scalar(sa.select(AdminApiKey).filter_by(key_id=key_id))
    if row is None:
        raise ApiKeyError(f"clé d'API inconnue : « {key_id} »")
    done = db.session.execute(
        sa.update(AdminApiKey).where(AdminApiKey.id == row.id, AdminApiKey.revoked_at.is_(None))
        .values(revoked_at=utcnow())).rowcount == 1
    if not done:
        raise ApiKeyError(f"clé d'API déjà révoquée : « {key_id} »")
    record("admin.api_key_revoked", key_id=key_id)
    db.session.refresh(row)
    return row


def any_active_key() -> bool:
    """At least one unrevoked key exists (the API's policy depends on it)."""
    return db.session.scalar(sa.select(AdminApiKey.id).where(AdminApiKey.revoked_at.is_(None))
                             .limit(1)) is not None


@dataclass(frozen=True)
class Verdict:
    key: AdminApiKey | None
    reason: str
    """"" when accepted; else missing, malformed, unknown, wrong_secret or revoked."""


def check_authorization(header: str | None) -> Verdict:
    """Check an ``Authorization`` header against the stored keys."""
    if not header:
        return Verdict(None, "missing")
    scheme, _, credentials = header.partition(" ")
    key_id, dot, secret = credentials.strip().partition(".")
    if scheme.lower() != "bearer" or not dot or not key_id or not secret \
            or len(key_id) > 32 or len(secret) > 200:
        return Verdict(None, "malformed")
    row = db.session.scalar(sa.select(AdminApiKey).filter_by(key_id=key_id))
    # The digest is compared even for an unknown key id, so timing tells nothing about ids.
    expected = row.secret_sha256 if row is not None else "0" * 64
    matches = same_secret(_digest(secret), expected)
    if row is None:
        return Verdict(None, "unknown")
    if not matches:
        return Verdict(None, "wrong_secret")
    if row.revoked_at is not None:
        return Verdict(None, "revoked")
    return Verdict(row, "")
