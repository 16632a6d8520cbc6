"""The local certificate authority: a TEST root and issuing CAs, generated once in keys_dir/pki.

Why: relying parties that insist on https (mod_auth_openidc, the PHP PSC provider, Synapse's
Secure cookies) must reach psc-idp over TLS with no terminator of their own, and PSC's JWKS
carries certificates (``x5c``). Both need certificates a relying service can trust by
importing one file, the root. The authority is plainly named as a test one so nobody mistakes
it for IGC-Santé; the two-level shape (a root that only signs issuing CAs, issuing CAs that
sign end entities) is IGC-Santé's, so emulated card and organisation CAs can be added later
with ``issuing_ca(name, …)`` and ``issue(…)`` without changing what exists.

Files (private keys mode 0600, under keys_dir which git ignores)::

    pki/root-ca.crt  pki/root-ca.key          the trust anchor ("psc-idp TEST root")
    pki/<name>-ca.crt  pki/<name>-ca.key      an issuing CA (``services``: TLS, token signing)

Generation takes a file lock: several processes starting on one keys_dir (gunicorn, tests)
all end up with the same authority.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ..filelock import exclusive

PKI_DIR = "pki"
ORGANISATION = "psc-idp TEST local authority (not IGC-Santé)"
ROOT_NAME = "psc-idp TEST root CA"
SERVICES_CA = "services"
"""The issuing CA of psc-idp's own certificates: TLS server and token-signing keys."""

ROOT_DAYS = 3650
ISSUING_DAYS = 1825
SERVER_DAYS = 397
"""A TLS server certificate: the CA/Browser Forum's maximum, so browsers accept it too."""

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey


class PkiError(RuntimeError):
    """The authority's files are unreadable or do not belong together."""


@dataclass(frozen=True)
class Authority:
    """A CA: its certificate, its private key and where the certificate lives."""

    name: str
    certificate: x509.Certificate
    key: PrivateKey
    cert_path: Path


@dataclass(frozen=True)
class Usage:
    """What an issued certificate may do (key usages and extended key usages)."""

    digital_signature: bool = True
    key_encipherment: bool = False
    content_commitment: bool = False
    ekus: tuple[x509.ObjectIdentifier, ...] = ()


TLS_SERVER = Usage(digital_signature=True, key_encipherment=True,
                   ekus=(ExtendedKeyUsageOID.SERVER_AUTH,))
TOKEN_SIGNING = Usage(digital_signature=True)


def new_key(kind: str = "ec") -> PrivateKey:
    """P-256 by default (fast, accepted by OpenSSL, Java, Node, curl); ``rsa`` for RSA-2048."""
    if kind == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return ec.generate_private_key(ec.SECP256R1())


def name(common_name: str, organisation: str = ORGANISATION) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "FR"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def subject_alt_names(hosts: Iterable[str]) -> list[x509.GeneralName]:
    """DNS names and IP addresses, deduplicated, in the given order."""
    out: list[x509.GeneralName] = []
    for host in dict.fromkeys(h.strip().strip("[]") for h in hosts if h.strip()):
        try:
            out.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            out.append(x509.DNSName(host.lower()))
    return out


def issue(issuer: Authority | None, subject: x509.Name, public_key: PublicKey, *,
          lifetime_days: int, usage: Usage = TOKEN_SIGNING, sans: Iterable[str] = (),
          is_ca: bool = False, path_length: int | None = None,
          signing_key: PrivateKey | None = None,
          not_before: dt.datetime | None = None, not_after: dt.datetime | None = None,
          extensions: Iterable[tuple[x509.ExtensionType, bool]] = ()) -> x509.Certificate:
    """One certificate. ``issuer`` None: self-signed with ``signing_key`` (the root).

    The validity never outlives the issuer's (a chain that expires in the middle is refused),
    and starts an hour back so a slightly late clock elsewhere accepts it at once.
    ``not_before``/``not_after`` (aware datetimes) replace that window when given (a card's
    three years, a test's expired or not-yet-valid certificate); ``extensions`` are added as
    (value, critical) pairs (policies, CRL distribution points...)."""
    now = dt.datetime.now(dt.UTC)
    start = not_before if not_before is not None else now - dt.timedelta(hours=1)
    if not_after is None:
        not_after = now + dt.timedelta(days=lifetime_days)
    if issuer is not None:
        not_after = min(not_after, issuer.certificate.not_valid_after_utc)
    key = signing_key if issuer is None else issuer.key
    if key is None:
        raise PkiError("a self-signed certificate needs its signing_key")
    issuer_name = subject if issuer is None else issuer.certificate.subject
    builder = (x509.CertificateBuilder()
               .subject_name(subject).issuer_name(issuer_name).public_key(public_key)
               .serial_number(x509.random_serial_number())
               .not_valid_before(start).not_valid_after(not_after)
               .add_extension(x509.BasicConstraints(ca=is_ca, path_length=path_length),
                              critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key),
                              critical=False))
    if issuer is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()),
            critical=False)
    builder = builder.add_extension(x509.KeyUsage(
        digital_signature=usage.digital_signature or is_ca,
        content_commitment=usage.content_commitment,
        key_encipherment=usage.key_encipherment and isinstance(public_key, rsa.RSAPublicKey),
        data_encipherment=False, key_agreement=False, key_cert_sign=is_ca, crl_sign=is_ca,
        encipher_only=False, decipher_only=False), critical=True)
    if usage.ekus:
        builder = builder.add_extension(x509.ExtendedKeyUsage(list(usage.ekus)), critical=False)
    names = subject_alt_names(sans)
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical=critical)
    return builder.sign(key, hashes.SHA256())


class LocalPki:
    """The authority's folder: the root, then issuing CAs made on first use."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)

    @classmethod
    def in_keys_dir(cls, keys_dir: str | Path) -> LocalPki:
        return cls(Path(keys_dir) / PKI_DIR)

    @property
    def root_cert_path(self) -> Path:
        return self.folder / "root-ca.crt"

    def ensure(self) -> LocalPki:
        """Generate the root and the services CA when missing (idempotent)."""
        self.issuing_ca(SERVICES_CA)
        return self

    def root(self) -> Authority:
        with self.locked():
            return self._load_or_make("root-ca", lambda key: issue(
                None, name(ROOT_NAME), key.public_key(), lifetime_days=ROOT_DAYS,
                is_ca=True, path_length=1, signing_key=key))

    def issuing_ca(self, ca_name: str, common_name: str = "", *,
                   subject: x509.Name | None = None) -> Authority:
        """An issuing CA signed by the root (``services`` by default; the emulated IGC-Santé's
        ``personnes`` and ``organisations`` give their own ``subject``, used when the CA is
        first made)."""
        if not ca_name.isalnum():
            raise PkiError(f"CA name must be alphanumeric, not {ca_name!r}")
        root = self.root()
        subject = subject or name(common_name or f"psc-idp TEST {ca_name} CA")
        with self.locked():
            return self._load_or_make(f"{ca_name}-ca", lambda key: issue(
                root, subject, key.public_key(), lifetime_days=ISSUING_DAYS, is_ca=True,
                path_length=0), parent=root)

    def chain(self, ca_name: str = SERVICES_CA) -> list[x509.Certificate]:
        """The issuing CA then the root: what follows an end-entity certificate."""
        return [self.issuing_ca(ca_name).certificate, self.root().certificate]

    def describe(self) -> dict[str, str]:
        root = self.root()
        services = self.issuing_ca(SERVICES_CA)
        return {"root_ca": str(root.cert_path.resolve()),
                "root_ca_subject": root.certificate.subject.rfc4514_string(),
                "root_ca_sha256": root.certificate.fingerprint(hashes.SHA256()).hex(),
                "services_ca": str(services.cert_path.resolve())}

    # ------------------------------------------------------------------ files
    @contextmanager
    def locked(self) -> Iterator[None]:
        """A process-wide and cross-process lock on the folder (re-entrant per call site:
        callers take it around one load-or-make only)."""
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        with exclusive(self.folder / ".lock"):
            yield

    def _load_or_make(self, stem: str, make: Callable[[PrivateKey], x509.Certificate],
                      parent: Authority | None = None
                      ) -> Authority:
        cert_path, key_path = self.folder / f"{stem}.crt", self.folder / f"{stem}.key"
        if cert_path.exists() and key_path.exists():
            authority = Authority(stem, read_certificate(cert_path), read_key(key_path),
                                  cert_path)
            if parent is None or issued_by(authority.certificate, parent.certificate):
                return authority
            # the root was regenerated (its folder emptied by hand): re-issue under it
        key = new_key()
        certificate = make(key)
        write_key(key_path, key)
        write_pem(cert_path, [certificate])
        return Authority(stem, certificate, key, cert_path)


def issued_by(certificate: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        certificate.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, x509.InvalidSignature):
        return False
    return True


def read_certificate(path: Path) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise PkiError(f"cannot read the certificate {path}: {exc}") from exc


def read_key(path: Path) -> PrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise PkiError(f"cannot read the private key {path}: {exc}") from exc
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise PkiError(f"{path}: only RSA and EC keys are supported")
    return key


def write_key(path: Path, key: PrivateKey) -> None:
    """Mode 0600 from creation (never readable by others, even for an instant)."""
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    tmp.replace(path)


def write_pem(path: Path, certificates: list[x509.Certificate]) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_bytes(b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certificates))
    tmp.replace(path)
