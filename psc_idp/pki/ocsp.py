"""An OCSP responder (RFC 6960) for the emulated IGC-Santé, answering from the register.

Why: IGC-Santé runs OCSP responders beside its CRLs and some relying services check one or
the other; ``cryptography``'s ``x509.ocsp`` makes it a few lines. Responses are signed by the
issuing CA itself (RFC 6960 §4.2.2.2 allows it), so no responder certificate is needed.
"""

from __future__ import annotations

import datetime as dt

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp
from sqlalchemy import select

from ..db import db
from .igc_sante import AUTHORITIES, IgcSante
from .models import IssuedCertificate
from .register import serial_hex

NEXT_UPDATE = dt.timedelta(minutes=5)


def _key_hash(certificate: x509.Certificate, algorithm: hashes.HashAlgorithm) -> bytes:
    spki = certificate.public_key().public_bytes(serialization.Encoding.DER,
                                                 serialization.PublicFormat.SubjectPublicKeyInfo)
    # RFC 6960: the hash of the subjectPublicKey BIT STRING's value, not of the whole SPKI
    digest = hashes.Hash(algorithm)
    digest.update(_subject_public_key(spki))
    return digest.finalize()


def _subject_public_key(spki: bytes) -> bytes:
    """The subjectPublicKey BIT STRING's content (without its unused-bits byte)."""
    def read(data: bytes, at: int) -> tuple[int, int, int]:  # tag, start, end
        tag, length = data[at], data[at + 1]
        at += 2
        if length & 0x80:
            count = length & 0x7F
            length = int.from_bytes(data[at:at + count], "big")
            at += count
        return tag, at, at + length

    _, start, _ = read(spki, 0)              # SubjectPublicKeyInfo SEQUENCE
    _, _, algorithm_end = read(spki, start)  # AlgorithmIdentifier
    _, bits, bits_end = read(spki, algorithm_end)
    return spki[bits + 1:bits_end]


def respond(igc: IgcSante, request_der: bytes, now: dt.datetime | None = None) -> bytes:
    """A DER OCSP response: MALFORMED_REQUEST, UNAUTHORIZED (not one of our CAs) or a signed
    good / revoked / unknown answer."""
    try:
        request = ocsp.load_der_ocsp_request(request_der)
        algorithm = request.hash_algorithm
        key_hash, serial = request.issuer_key_hash, request.serial_number
    except (ValueError, TypeError, x509.UnsupportedGeneralNameType):
        return ocsp.OCSPResponseBuilder.build_unsuccessful(
            ocsp.OCSPResponseStatus.MALFORMED_REQUEST).public_bytes(serialization.Encoding.DER)
    for name in AUTHORITIES:
        ca = igc.authority(name)
        if _key_hash(ca.certificate, algorithm) == key_hash:
            break
    else:
        return ocsp.OCSPResponseBuilder.build_unsuccessful(
            ocsp.OCSPResponseStatus.UNAUTHORIZED).public_bytes(serialization.Encoding.DER)
    moment = (now or dt.datetime.now(dt.UTC)).replace(microsecond=0)
    row = db.session.execute(select(IssuedCertificate).where(
        IssuedCertificate.serial == serial_hex(serial),
        IssuedCertificate.authority == name)).scalar_one_or_none()
    status, revoked_at, reason = ocsp.OCSPCertStatus.UNKNOWN, None, None
    if row is not None:
        status = ocsp.OCSPCertStatus.GOOD
        if row.revoked_at is not None:
            status = ocsp.OCSPCertStatus.REVOKED
            revoked_at = row.revoked_at.replace(tzinfo=dt.UTC)
            reason = x509.ReasonFlags.__members__.get(row.revocation_reason or "")
    builder = ocsp.OCSPResponseBuilder().add_response_by_hash(
        issuer_name_hash=request.issuer_name_hash, issuer_key_hash=key_hash,
        serial_number=serial, algorithm=algorithm, cert_status=status,
        this_update=moment, next_update=moment + NEXT_UPDATE,
        revocation_time=revoked_at, revocation_reason=reason,
    ).responder_id(ocsp.OCSPResponderEncoding.HASH, ca.certificate)
    for extension in request.extensions:
        if isinstance(extension.value, x509.OCSPNonce):
            builder = builder.add_extension(extension.value, critical=False)
    return builder.sign(ca.key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)
