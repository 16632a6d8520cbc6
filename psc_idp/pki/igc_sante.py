"""The emulated IGC-Santé: issuing CAs for persons (CPx cards) and organisations (software
certificates) under the local TEST root, and the certificates they issue.

Why emulate it: card login and RFC 8705 client authentication need certificates shaped like
IGC-Santé's (who the holder is, what the key may do, where the CRL is) so relying services
test the same parsing and checks as against the real PKI, without ANS test cards. The names
copy IGC-Santé's ("AC IGC-SANTE FORT PERSONNES", "AC IGC-SANTE ELEMENTAIRE ORGANISATIONS")
but every CA says PSC-IDP TEST and belongs to the local TEST organisation, so nobody can
take them for the real IGC-Santé. One root for everything: relying services trust one file.

Profiles, sources and what is unverified: docs/pki.md.
"""

from __future__ import annotations

import datetime as dt
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from .authority import (
    ORGANISATION,
    Authority,
    LocalPki,
    PkiError,
    PublicKey,
    Usage,
    issue,
)

PERSONNES = "personnes"
ORGANISATIONS = "organisations"
AUTHORITIES = (PERSONNES, ORGANISATIONS)

CA_COMMON_NAMES = {
    PERSONNES: "PSC-IDP TEST AC IGC-SANTE FORT PERSONNES",
    ORGANISATIONS: "PSC-IDP TEST AC IGC-SANTE ELEMENTAIRE ORGANISATIONS",
}
CA_UNIT = "IGC-SANTE EMULEE PSC-IDP TEST"
"""IGC-Santé's CAs carry ``OU=IGC-SANTE`` (``OU=IGC-SANTE TEST`` for ANS's test range)."""

# Certificate policies. IGC-Santé's are under ANS's arc 1.2.250.1.71; their exact values are
# not verified here, and inventing numbers in ANS's arc could collide with real ones, so the
# emulation uses a UUID arc of its own (ITU-T X.667, 2.25.<uuid>): unique, plainly not ANS's.
POLICY_ARC = "2.25.172189389118557827577485870697440980917"
CARD_AUTH_POLICY = x509.ObjectIdentifier(POLICY_ARC + ".1.1")
CARD_SIGN_POLICY = x509.ObjectIdentifier(POLICY_ARC + ".1.2")
SOFTWARE_POLICY = x509.ObjectIdentifier(POLICY_ARC + ".2.1")
CARD_TYPE_OID = x509.ObjectIdentifier(POLICY_ARC + ".3.1")
"""Non-critical extension: the card type (CPS, CPF, CPE, CPA, CDE), a UTF8String."""
CARD_SERIAL_OID = x509.ObjectIdentifier(POLICY_ARC + ".3.2")
"""Non-critical extension: the card's serial number, a UTF8String."""

CARD_AUTH = Usage(digital_signature=True, ekus=(ExtendedKeyUsageOID.CLIENT_AUTH,))
CARD_SIGN = Usage(digital_signature=False, content_commitment=True)
SOFTWARE_CLIENT = Usage(digital_signature=True, key_encipherment=True,
                        ekus=(ExtendedKeyUsageOID.CLIENT_AUTH,))
SOFTWARE_CLIENT_SERVER = Usage(digital_signature=True, key_encipherment=True,
                               ekus=(ExtendedKeyUsageOID.CLIENT_AUTH,
                                     ExtendedKeyUsageOID.SERVER_AUTH))


@dataclass(frozen=True)
class CardHolder:
    """Who a card names: the national id (``8``+RPPS, ``3``+FINESS``/``+card id...), the
    civil names, and for staff cards the structure."""

    national_id: str
    family_name: str
    given_name: str
    profession_label: str = ""
    structure_id: str = ""
    structure_name: str = ""


@dataclass(frozen=True)
class CardCertificates:
    """A card's two certificates and their chain (issuing CA then root)."""

    auth: x509.Certificate
    sign: x509.Certificate
    chain: list[x509.Certificate]


def ca_subject(authority: str) -> x509.Name:
    return x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "FR"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANISATION),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, CA_UNIT),
        x509.NameAttribute(NameOID.COMMON_NAME, CA_COMMON_NAMES[authority]),
    ])


def card_subject(holder: CardHolder) -> x509.Name:
    """IGC-Santé's layout for a person on a card, e.g. a CPS
    ``CN=810002813839+SN=DUPONT+GN=JEAN,title=Médecin,C=FR`` and a staff card
    ``CN=30B0168811/CPET00001+SN=…+GN=…,OU=<structure id>,O=<structure name>,C=FR``
    (RFC 4514 order: last RDN first). docs/pki.md gives the sources."""
    rdns = [x509.RelativeDistinguishedName([x509.NameAttribute(NameOID.COUNTRY_NAME, "FR")])]
    for oid, value in ((NameOID.ORGANIZATION_NAME, holder.structure_name),
                       (NameOID.ORGANIZATIONAL_UNIT_NAME, holder.structure_id),
                       (NameOID.TITLE, holder.profession_label)):
        if value:
            rdns.append(x509.RelativeDistinguishedName([x509.NameAttribute(oid, value[:64])]))
    person = [x509.NameAttribute(NameOID.COMMON_NAME, holder.national_id)]
    if holder.family_name:
        person.append(x509.NameAttribute(NameOID.SURNAME, holder.family_name[:64]))
    if holder.given_name:
        person.append(x509.NameAttribute(NameOID.GIVEN_NAME, holder.given_name[:64]))
    rdns.append(x509.RelativeDistinguishedName(person))
    return x509.Name(rdns)


def _utf8(value: str) -> bytes:
    data = value.encode()
    if len(data) > 127:
        raise PkiError("card extension value too long")
    return bytes([0x0C, len(data)]) + data


def _read_utf8(data: bytes) -> str:
    if len(data) < 2 or data[0] != 0x0C or data[1] != len(data) - 2:
        raise ValueError("not a short UTF8String")
    return data[2:].decode()


def card_details(certificate: x509.Certificate) -> tuple[str, str] | None:
    """(card type, card serial) from a card certificate's extensions; None if absent."""
    try:
        kind = certificate.extensions.get_extension_for_oid(CARD_TYPE_OID).value
        serial = certificate.extensions.get_extension_for_oid(CARD_SERIAL_OID).value
        return (_read_utf8(kind.value), _read_utf8(serial.value))  # type: ignore[attr-defined]
    except (x509.ExtensionNotFound, ValueError, UnicodeDecodeError):
        return None


def national_id_of(certificate: x509.Certificate) -> str | None:
    """The holder's national id: the subject's common name (IGC-Santé puts it there)."""
    names = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else None


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


_memo_lock = threading.Lock()
_memo: dict[tuple[str, str], tuple[tuple, Authority]] = {}


def _stamp(*paths: Path) -> tuple | None:
    """Identity of files as they are now (inode, size, mtime): a CA regenerated by hand, or
    by another process, gives another stamp."""
    try:
        return tuple((st.st_ino, st.st_size, st.st_mtime_ns)
                     for st in (os.stat(p) for p in paths))
    except OSError:
        return None


def _remembered(folder: Path, stem: str, load: Callable[[], Authority]) -> Authority:
    """The CA as loaded last time while its files and the root's are unchanged: every login
    and every mTLS call asks for the CAs, and reading keys under the folder's file lock each
    time would serialise them across processes."""
    files = (folder / f"{stem}.crt", folder / f"{stem}.key", folder / "root-ca.crt")
    key = (str(folder), stem)
    stamp = _stamp(*files)
    with _memo_lock:
        known = _memo.get(key)
    if stamp is not None and known is not None and known[0] == stamp:
        return known[1]
    authority = load()
    fresh = _stamp(*files)
    if fresh is not None:
        with _memo_lock:
            _memo[key] = (fresh, authority)
    return authority


class IgcSante:
    """The two issuing CAs (made on first use, files in keys_dir/pki) and their profiles."""

    def __init__(self, pki: LocalPki, publication_base: str):
        self.pki = pki
        self.publication_base = publication_base.rstrip("/")

    @classmethod
    def from_settings(cls, settings: Any) -> IgcSante:
        return cls(LocalPki.in_keys_dir(settings.keys_dir),
                   str(settings.public_url).rstrip("/") + "/pki")

    # ------------------------------------------------------------------ authorities
    def authority(self, name: str) -> Authority:
        if name not in AUTHORITIES:
            raise PkiError(f"unknown IGC-Santé authority {name!r}")
        return _remembered(self.pki.folder, f"{name}-ca",
                           lambda: self.pki.issuing_ca(name, subject=ca_subject(name)))

    def personnes_ca(self) -> Authority:
        return self.authority(PERSONNES)

    def organisations_ca(self) -> Authority:
        return self.authority(ORGANISATIONS)

    def ensure(self) -> IgcSante:
        """Both CAs exist on disk (``psc-idp init``)."""
        for name in AUTHORITIES:
            self.authority(name)
        return self

    def root(self) -> Authority:
        return _remembered(self.pki.folder, "root-ca", self.pki.root)

    def trust_anchor(self) -> x509.Certificate:
        return self.root().certificate

    def client_ca_names(self) -> list[x509.Name]:
        """What the TLS CertificateRequest lists: browsers offer only certificates under these."""
        return [self.trust_anchor().subject, self.personnes_ca().certificate.subject,
                self.organisations_ca().certificate.subject]

    def chain(self, authority: str) -> list[x509.Certificate]:
        return [self.authority(authority).certificate, self.trust_anchor()]

    # ------------------------------------------------------------------ publication
    def crl_url(self, authority: str) -> str:
        return f"{self.publication_base}/crl/{authority}.crl"

    def ca_url(self, authority: str) -> str:
        return f"{self.publication_base}/ca/{authority}.crt"

    def ocsp_url(self) -> str:
        return f"{self.publication_base}/ocsp"

    def _publication(self, authority: str) -> list[tuple[x509.ExtensionType, bool]]:
        crl = x509.CRLDistributionPoints([x509.DistributionPoint(
            full_name=[x509.UniformResourceIdentifier(self.crl_url(authority))],
            relative_name=None, reasons=None, crl_issuer=None)])
        aia = x509.AuthorityInformationAccess([
            x509.AccessDescription(x509.AuthorityInformationAccessOID.CA_ISSUERS,
                                   x509.UniformResourceIdentifier(self.ca_url(authority))),
            x509.AccessDescription(x509.AuthorityInformationAccessOID.OCSP,
                                   x509.UniformResourceIdentifier(self.ocsp_url())),
        ])
        return [(crl, False), (aia, False)]

    def _policy(self, oid: x509.ObjectIdentifier) -> tuple[x509.ExtensionType, bool]:
        return (x509.CertificatePolicies([x509.PolicyInformation(oid, [self.publication_base])]),
                False)

    # ------------------------------------------------------------------ issuance
    def issue_card_certificates(self, holder: CardHolder, *, card_serial: str, card_type: str,
                                auth_public_key: PublicKey, sign_public_key: PublicKey,
                                not_after: dt.datetime, not_before: dt.datetime | None = None
                                ) -> CardCertificates:
        """The card's authentication (TLS client) and signature (non-repudiation) certificates,
        both naming the holder the same way and carrying the card's type and serial."""
        if not holder.national_id:
            raise PkiError("a card holder needs a national id")
        ca = self.personnes_ca()
        subject = card_subject(holder)
        card = [(x509.UnrecognizedExtension(CARD_TYPE_OID, _utf8(card_type)), False),
                (x509.UnrecognizedExtension(CARD_SERIAL_OID, _utf8(card_serial)), False)]
        start = _aware(not_before) if not_before else None
        end = _aware(not_after)
        common = [*self._publication(PERSONNES), *card]
        auth = issue(ca, subject, auth_public_key, lifetime_days=0, usage=CARD_AUTH,
                     not_before=start, not_after=end,
                     extensions=[self._policy(CARD_AUTH_POLICY), *common])
        sign = issue(ca, subject, sign_public_key, lifetime_days=0, usage=CARD_SIGN,
                     not_before=start, not_after=end,
                     extensions=[self._policy(CARD_SIGN_POLICY), *common])
        return CardCertificates(auth=auth, sign=sign, chain=self.chain(PERSONNES))

    def issue_software_certificate(self, *, client_id: str, organisation: str,
                                   public_key: PublicKey, lifetime_days: int = 1095,
                                   hosts: Sequence[str] = ()) -> x509.Certificate:
        """A structure's "certificat logiciel": ``CN=<client_id>,O=<organisation>,C=FR``,
        EKU clientAuth (and serverAuth with ``hosts``, which go in the subjectAltName)."""
        if not client_id:
            raise PkiError("a software certificate needs a client id")
        subject = x509.Name([
            x509.NameAttribute(NameOID.COUNTRY_NAME, "FR"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, (organisation or client_id)[:64]),
            x509.NameAttribute(NameOID.COMMON_NAME, client_id[:64]),
        ])
        usage = SOFTWARE_CLIENT_SERVER if hosts else SOFTWARE_CLIENT
        return issue(self.organisations_ca(), subject, public_key,
                     lifetime_days=lifetime_days, usage=usage, sans=hosts,
                     extensions=[self._policy(SOFTWARE_POLICY),
                                 *self._publication(ORGANISATIONS)])

    def describe(self) -> dict[str, Any]:
        """What ``psc-idp pki show`` adds: the CA files and the CRL URLs."""
        return {"personnes_ca": str(self.personnes_ca().cert_path.resolve()),
                "organisations_ca": str(self.organisations_ca().cert_path.resolve()),
                "crl_urls": {name: self.crl_url(name) for name in AUTHORITIES}}


def sha256_hex(certificate: x509.Certificate) -> str:
    return certificate.fingerprint(hashes.SHA256()).hex()
