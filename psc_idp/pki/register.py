"""The emulated IGC-Santé's register: every issued certificate, and its revocation.

Why in the database: a lost card must be refused on the very next login, whichever process
or instance serves it, and the CRL (and OCSP) of every instance must list it. Nothing here
commits: the rows belong to the caller's transaction (the card issued with its certificates,
the revocation with the card's status), so both land or neither does.
"""

from __future__ import annotations

from datetime import UTC, datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from sqlalchemy import select, update

from ..db import db, utcnow
from .models import IssuedCertificate

KINDS = ("card_auth", "card_sign", "software_client", "software_server")



def serial_hex(certificate: x509.Certificate | int) -> str:
    """Lowercase hex without leading zeros: the register's key."""
    number = certificate if isinstance(certificate, int) else certificate.serial_number
    return format(number, "x")


def _naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def register_certificate(certificate: x509.Certificate, *, authority: str, kind: str,
                         card_serial: str | None = None, client_id: str | None = None
                         ) -> IssuedCertificate:
    """Add the certificate to the register (in the caller's transaction)."""
    if kind not in KINDS:
        raise ValueError(f"unknown certificate kind {kind!r}")
    row = IssuedCertificate(
        serial=serial_hex(certificate), authority=authority, kind=kind,
        subject=certificate.subject.rfc4514_string()[:512],
        sha256=certificate.fingerprint(hashes.SHA256()).hex(),
        not_before=_naive(certificate.not_valid_before_utc),
        not_after=_naive(certificate.not_valid_after_utc),
        card_serial=card_serial, client_id=client_id)
    db.session.add(row)
    db.session.flush()
    return row


def revoke_certificate(serial: str, reason: x509.ReasonFlags,
                       at: datetime | None = None) -> bool:
    """Revoke by serial (hex). True only for the call that revoked it: one conditional UPDATE,
    so two concurrent revocations cannot both claim it (nor overwrite the first reason)."""
    key = serial.strip().lower().removeprefix("0x").lstrip("0") or "0"
    result = db.session.execute(
        update(IssuedCertificate)
        .where(IssuedCertificate.serial == key, IssuedCertificate.revoked_at.is_(None))
        .values(revoked_at=_naive(at) if at else utcnow(), revocation_reason=reason.name)
        .execution_options(synchronize_session=False))
    return (result.rowcount or 0) == 1


def find_registered(certificate: x509.Certificate) -> IssuedCertificate | None:
    """The register's row for exactly this certificate (same serial and same bytes): a
    certificate from elsewhere that reuses a serial is not ours."""
    return db.session.execute(
        select(IssuedCertificate).where(
            IssuedCertificate.serial == serial_hex(certificate),
            IssuedCertificate.sha256 == certificate.fingerprint(hashes.SHA256()).hex())
    ).scalar_one_or_none()


def revoked_of(authority: str) -> list[IssuedCertificate]:
    """The authority's revoked certificates that have not expired yet (a CRL need not list
    certificates past their validity: RFC 5280 §3.3)."""
    return list(db.session.execute(
        select(IssuedCertificate).where(
            IssuedCertificate.authority == authority,
            IssuedCertificate.revoked_at.is_not(None),
            IssuedCertificate.not_after > utcnow())
        .order_by(IssuedCertificate.revoked_at)).scalars())
