"""Verifying a presented client certificate chain (card or software certificate).

Why not trust the TLS stack: the mTLS listener accepts every client certificate in the
handshake (so a refusal can be a French page and an audit row, not a broken connection), so
psc-idp itself must check the path to the emulated root, the validity, the usage and the
revocation.

How: ``cryptography``'s ``x509.verification`` (PolicyBuilder / ClientVerifier, RFC 5280 path
building, signatures, validity, CA basic constraints and key usage) with one relaxation: its
web-PKI profile demands a subjectAltName on the leaf, which IGC-Santé card certificates do not
have (the holder is in the subject), so the leaf policy allows it absent. The usage checks the
web-PKI profile leaves out for client certificates (the leaf's keyUsage digitalSignature and an
explicit EKU clientAuth: a card's *signature* certificate must not open a session) are done
here, before, so each refusal gets its own reason.
"""

from __future__ import annotations

import datetime as dt
import logging

from cryptography import x509
from cryptography.x509 import verification
from cryptography.x509.oid import ExtendedKeyUsageOID

log = logging.getLogger(__name__)

MESSAGES_FR = {
    "unknown_authority": "Ce certificat n'a pas été délivré par une autorité de certification "
                         "reconnue (IGC-Santé).",
    "expired": "Le certificat de votre carte a expiré.",
    "not_yet_valid": "Le certificat de votre carte n'est pas encore valide.",
    "revoked": "Le certificat de votre carte a été révoqué (carte perdue, volée ou remplacée).",
    "wrong_usage": "Ce certificat ne permet pas l'authentification (ce n'est pas le certificat "
                   "d'authentification d'une carte ou d'un certificat logiciel).",
    "malformed": "Le certificat présenté est illisible ou mal formé.",
}


class ChainRefused(Exception):
    """A refused certificate: ``reason`` is a stable code, ``message_fr`` the sentence shown to
    the professional."""

    def __init__(self, reason: str, detail: str = ""):
        self.reason = reason if reason in MESSAGES_FR else "malformed"
        self.message_fr = MESSAGES_FR[self.reason]
        self.detail = detail
        super().__init__(f"{self.reason}: {detail}" if detail else self.reason)


def _aware(moment: dt.datetime | None) -> dt.datetime:
    if moment is None:
        return dt.datetime.now(dt.UTC)
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _check_window(certificate: x509.Certificate, at: dt.datetime) -> None:
    if at < certificate.not_valid_before_utc:
        raise ChainRefused("not_yet_valid", certificate.subject.rfc4514_string())
    if at > certificate.not_valid_after_utc:
        raise ChainRefused("expired", certificate.subject.rfc4514_string())


def _check_usage(leaf: x509.Certificate) -> None:
    """An end entity whose key may sign (digitalSignature) for TLS client authentication."""
    try:
        constraints = leaf.extensions.get_extension_for_class(x509.BasicConstraints).value
        if constraints.ca:
            raise ChainRefused("wrong_usage", "a CA certificate is not a client certificate")
    except x509.ExtensionNotFound:
        pass
    try:
        usage = leaf.extensions.get_extension_for_class(x509.KeyUsage).value
        if not usage.digital_signature:
            raise ChainRefused("wrong_usage", "keyUsage without digitalSignature")
    except x509.ExtensionNotFound:
        pass  # RFC 5280: no keyUsage extension, no restriction
    try:
        ekus = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        raise ChainRefused("wrong_usage", "no extendedKeyUsage clientAuth") from None
    if ExtendedKeyUsageOID.CLIENT_AUTH not in ekus:
        raise ChainRefused("wrong_usage", "extendedKeyUsage without clientAuth")


def _verifier(anchors: list[x509.Certificate], at: dt.datetime) -> verification.ClientVerifier:
    leaf_policy = verification.ExtensionPolicy.webpki_defaults_ee().may_be_present(
        x509.SubjectAlternativeName, verification.Criticality.AGNOSTIC, None)
    return (verification.PolicyBuilder()
            .store(verification.Store(anchors))
            .time(at)
            .max_chain_depth(4)
            .extension_policies(ca_policy=verification.ExtensionPolicy.webpki_defaults_ca(),
                                ee_policy=leaf_policy)
            .build_client_verifier())


def verify_client_chain(leaf: x509.Certificate, intermediates: list[x509.Certificate], *,
                        anchors: list[x509.Certificate], at: dt.datetime | None = None
                        ) -> list[x509.Certificate]:
    """The verified path leaf → … → anchor, or ChainRefused (reason, message_fr)."""
    moment = _aware(at)
    if not anchors:
        raise ChainRefused("unknown_authority", "no trust anchor configured")
    if not any(leaf.issuer == ca.subject for ca in [*intermediates, *anchors]):
        # A self-signed certificate or one from elsewhere: say so, whatever else is odd in it.
        raise ChainRefused("unknown_authority", f"issuer {leaf.issuer.rfc4514_string()}")
    try:
        _check_window(leaf, moment)
        _check_usage(leaf)
    except ChainRefused:
        raise
    except (ValueError, TypeError) as exc:  # duplicate or undecodable extensions
        raise ChainRefused("malformed", str(exc)) from exc
    try:
        verified = _verifier(anchors, moment).verify(leaf, list(intermediates))
    except verification.VerificationError as exc:
        raise _refusal(exc, intermediates, moment) from exc
    except (ValueError, TypeError) as exc:
        raise ChainRefused("malformed", str(exc)) from exc
    return list(verified.chain)


def _refusal(exc: Exception, intermediates: list[x509.Certificate],
             at: dt.datetime) -> ChainRefused:
    """Name what failed: an expired or not yet valid intermediate, else an unknown authority."""
    text = str(exc)
    if "not valid at validation time" in text:
        for certificate in intermediates:
            try:
                _check_window(certificate, at)
            except ChainRefused as refused:
                refused.detail = text
                return refused
        return ChainRefused("expired", text)
    if "invalid extension" in text:
        return ChainRefused("malformed", text)
    return ChainRefused("unknown_authority", text)


def check_not_revoked(leaf: x509.Certificate) -> None:
    """The register (database) is authoritative: a revoked certificate is refused at once, with
    no CRL to wait for. A certificate the register does not know is not refused here (an
    anchor the operator added may issue certificates psc-idp never saw)."""
    from .register import find_registered

    row = find_registered(leaf)
    if row is not None and row.revoked_at is not None:
        raise ChainRefused("revoked", f"serial {row.serial} revoked ({row.revocation_reason})")
