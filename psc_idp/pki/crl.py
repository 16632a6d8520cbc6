"""CRLs of the emulated IGC-Santé, built from the register on request.

Why on request and short-lived: the register (database) is the truth and a lost card must be
refused quickly by relying services that check the CRL too, so a CRL is at most a few seconds
old when served and says so (``nextUpdate`` five minutes ahead). Building one is a SELECT and
one signature; the last one per authority is kept while the revoked set and the second are
unchanged, so a burst of fetches signs once.
"""

from __future__ import annotations

import datetime as dt
import threading

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from .igc_sante import IgcSante
from .register import revoked_of

NEXT_UPDATE = dt.timedelta(minutes=5)
ROOT = "root"
_lock = threading.Lock()
_memo: dict[tuple[str, bytes], tuple[tuple, int, bytes]] = {}


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def build_crl(igc: IgcSante, authority: str, now: dt.datetime | None = None) -> bytes:
    """The DER CRL of ``authority`` (``personnes``, ``organisations``, or ``root``: the root's
    CRL of issuing CAs, always empty, so ``openssl verify -crl_check_all`` finds one per CA);
    PkiError if unknown."""
    ca = igc.root() if authority == ROOT else igc.authority(authority)
    exact = _aware(now or dt.datetime.now(dt.UTC))
    moment = exact.replace(microsecond=0)
    rows = [] if authority == ROOT else revoked_of(authority)
    content = tuple((r.serial, r.revoked_at, r.revocation_reason) for r in rows)
    second = int(moment.timestamp())
    key = (authority, ca.certificate.fingerprint(hashes.SHA256()))
    with _lock:
        known = _memo.get(key)
        if known and known[0] == content and known[1] == second:
            return known[2]
    builder = (x509.CertificateRevocationListBuilder()
               .issuer_name(ca.certificate.subject)
               .last_update(moment).next_update(moment + NEXT_UPDATE)
               # milliseconds: grows with time, differs when the content changes within a second
               .add_extension(x509.CRLNumber(int(exact.timestamp() * 1000)), critical=False)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                   ca.key.public_key()), critical=False))
    for row in rows:
        entry = (x509.RevokedCertificateBuilder()
                 .serial_number(int(row.serial, 16))
                 .revocation_date(_aware(row.revoked_at)))
        reason = _reason(row.revocation_reason)
        if reason is not None and reason != x509.ReasonFlags.unspecified:
            entry = entry.add_extension(x509.CRLReason(reason), critical=False)
        builder = builder.add_revoked_certificate(entry.build())
    der = builder.sign(ca.key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)
    with _lock:
        _memo[key] = (content, second, der)
    return der


def _reason(name: str | None) -> x509.ReasonFlags | None:
    try:
        return x509.ReasonFlags[name] if name else None
    except KeyError:
        return None
