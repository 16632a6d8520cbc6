"""Signing keys: generated on first start in ``keys_dir``, parsed once, published as a JWKS.

Parsing a PEM key costs ~40 ms and an RS256 signature ~0.5 ms, so the key objects are loaded
once per process and kept here; nothing parses a key per request. The public key set that
verifies our own tokens (and the published JWKS) is built once per *key-set version*, not per
``verify`` (importing it cost 0.22 of verify's 0.33 ms).

The key set lives in the keys folder, not in the database, so the folder is its truth across
processes: every use compares the ``keyset.json`` file's identity (inode, modification time,
size: one ``stat``, ~1 µs) with the version loaded, and a change made by ``keys rotate`` or
``keys prune`` in any process (another gunicorn worker, another instance on the same folder,
the CLI) is loaded at the next use, with no restart (docs/caching.md). A folder caught
half-written keeps the version loaded until it reads whole.

Each key has a certificate from the local TEST authority (``pki/``), ``signing-<kid>.crt``,
published as ``x5c`` / ``x5t`` / ``x5t#S256`` as Keycloak's JWKS does (some RP libraries read
the key from ``x5c``). It is made when missing (key folders from before keep loading), when the
authority changed, or a month before it expires; a folder that cannot be written publishes the
key without ``x5c`` rather than refusing to start.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from ..pki.authority import (
    SERVICES_CA,
    TOKEN_SIGNING,
    LocalPki,
    PkiError,
    issue,
    issued_by,
    name,
    write_pem,
)

log = logging.getLogger(__name__)
KEYSET_FILE = "keyset.json"
CERT_DAYS = 1095
RENEW_BEFORE_DAYS = 30
REALM = "esante-wallet"
"""Keycloak's realm certificate is self-signed with CN=<realm name>; ours keeps that CN."""
SECRET_FILE = "flask-secret.key"  # noqa: S105 (a file name)
ALG = "RS256"


class KeyStoreError(RuntimeError):
    """The keys folder is unreadable or its content is broken."""


@dataclass(frozen=True)
class SigningKey:
    kid: str
    key: RSAKey
    created_at: int
    active: bool
    chain: tuple[bytes, ...] = ()
    """DER certificates: this key's, then its issuing CA. Empty: none could be made."""

    def public_jwk(self) -> dict[str, Any]:
        data = self.key.as_dict(private=False)
        jwk = {"kid": self.kid, "kty": "RSA", "alg": ALG, "use": "sig",
               "n": data["n"], "e": data["e"]}
        if self.chain:
            leaf = self.chain[0]
            jwk["x5c"] = [base64.b64encode(der).decode() for der in self.chain]  # not url-safe
            jwk["x5t"] = _b64url(hashlib.sha1(leaf).digest())  # noqa: S324 - RFC 7517's x5t
            jwk["x5t#S256"] = _b64url(hashlib.sha256(leaf).digest())
        return jwk


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass(frozen=True)
class KeySetVersion:
    """One version of the key set, with what is derived from it, built once."""

    stamp: tuple[int, int, int]
    """``keyset.json``'s (inode, mtime in ns, size) when read; (0, 0, 0): not from a file."""
    keys: tuple[SigningKey, ...]
    current: SigningKey
    jwks: dict[str, Any]
    public: KeySet


def _version(stamp: tuple[int, int, int], keys: list[SigningKey], folder: Path) -> KeySetVersion:
    if not any(k.active for k in keys):
        raise KeyStoreError(f"no active signing key in {folder}")
    jwks = {"keys": [k.public_jwk() for k in keys]}
    return KeySetVersion(stamp, tuple(keys),
                         max((k for k in keys if k.active), key=lambda k: k.created_at),
                         jwks, KeySet.import_key_set(jwks))


def _stamp(folder: Path) -> tuple[int, int, int]:
    try:
        st = os.stat(folder / KEYSET_FILE)
    except OSError:
        return (0, 0, 0)
    return (st.st_ino, st.st_mtime_ns, st.st_size)


class KeyStore:
    """The provider's RSA signing keys; the newest active one signs."""

    def __init__(self, folder: Path, keys: list[SigningKey],
                 stamp: tuple[int, int, int] = (0, 0, 0)):
        self.folder = folder
        self._version = _version(stamp, keys, folder)
        self._reload_lock = threading.Lock()
        self.reloads = 0
        """How many times another process's change was loaded (tests, logs)."""

    # ---------------------------------------------------------------- loading / generating
    @classmethod
    def load_or_create(cls, folder: str | Path) -> KeyStore:
        path = Path(folder)
        with _lock:
            path.mkdir(parents=True, exist_ok=True)
            index = path / KEYSET_FILE
            if not index.exists():
                _write_index(path, [_generate_key_file(path)])
            stamp = _stamp(path)
            return cls(path, _read_keys(path), stamp)

    def rotate(self) -> SigningKey:
        """Add a new active key; older keys stay published until pruned."""
        with _lock:
            entries = _read_index(self.folder)
            for entry in entries:
                entry["active"] = False
            entries.append(_generate_key_file(self.folder))
            _write_index(self.folder, entries)
            self._version = _version(_stamp(self.folder), _read_keys(self.folder), self.folder)
        return self.current

    def prune(self) -> list[str]:
        """Drop every inactive key (their tokens then stop verifying)."""
        with _lock:
            entries = _read_index(self.folder)
            removed = [e["kid"] for e in entries if not e["active"]]
            for kid in removed:
                (self.folder / f"signing-{kid}.pem").unlink(missing_ok=True)
                (self.folder / f"signing-{kid}.crt").unlink(missing_ok=True)
            _write_index(self.folder, [e for e in entries if e["active"]])
            self._version = _version(_stamp(self.folder), _read_keys(self.folder), self.folder)
        return removed

    # ---------------------------------------------------------------- versions
    def fresh(self) -> KeySetVersion:
        """The key set as the folder holds it now: the loaded version while ``keyset.json``
        is the file it was read from, else the folder read again (once, by one thread)."""
        version = self._version
        if version.stamp == (0, 0, 0) or _stamp(self.folder) == version.stamp:
            return version
        with self._reload_lock:
            version = self._version
            stamp = _stamp(self.folder)
            if stamp == version.stamp or stamp == (0, 0, 0):
                return version
            try:
                with _lock:
                    keys = _read_keys(self.folder)
                    stamp_after = _stamp(self.folder)
                if stamp_after != stamp:  # changed while read: read it at the next use
                    return version
                self._version = _version(stamp, keys, self.folder)
            except KeyStoreError as exc:  # e.g. a prune between its deletions and its index
                log.warning("key set in %s changed but cannot be read yet (%s); keeping the "
                            "loaded one", self.folder, exc)
                return version
            self.reloads += 1
            log.info("key set reloaded from %s: active key %s", self.folder,
                     self._version.current.kid)
            return self._version

    # ---------------------------------------------------------------- use
    @property
    def current(self) -> SigningKey:
        return self.fresh().current

    @property
    def keys(self) -> list[SigningKey]:
        return list(self.fresh().keys)

    def jwks(self) -> dict[str, Any]:
        """The published JWKS (one dict per version: callers must not change it)."""
        return self.fresh().jwks

    def public_key_set(self) -> KeySet:
        """Our public keys, imported once per version (read-only: shared by threads)."""
        return self.fresh().public

    def sign(self, claims: dict[str, Any], typ: str = "JWT") -> str:
        key = self.fresh().current
        header = {"alg": ALG, "typ": typ, "kid": key.kid}
        return jwt.encode(header, claims, key.key, algorithms=[ALG])

    def verify(self, token: str) -> dict[str, Any]:
        """Verify a JWT we signed (any published key); raises joserfc errors when invalid."""
        decoded = jwt.decode(token, self.fresh().public, algorithms=[ALG])
        return dict(decoded.claims)


_lock = threading.Lock()


def _generate_key_file(folder: Path) -> dict[str, Any]:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    kid = RSAKey.import_key(pem).thumbprint()
    target = folder / f"signing-{kid}.pem"
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    return {"kid": kid, "alg": ALG, "created_at": int(time.time()), "active": True}


def _read_index(folder: Path) -> list[dict[str, Any]]:
    path = folder / KEYSET_FILE
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise KeyStoreError(f"{path} is unreadable: {exc}") from exc
    entries = data.get("keys") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise KeyStoreError(f"{path}: expected an object with a 'keys' list")
    for entry in entries:
        if not (isinstance(entry, dict) and isinstance(entry.get("kid"), str)
                and entry["kid"].replace("-", "").replace("_", "").isalnum()
                and isinstance(entry.get("created_at", 0), int | float)
                and isinstance(entry.get("active", True), bool)):
            raise KeyStoreError(f"{path}: malformed key entry {entry!r}")
    return entries


def _write_index(folder: Path, entries: list[dict[str, Any]]) -> None:
    tmp = folder / (KEYSET_FILE + ".tmp")
    tmp.write_text(json.dumps({"keys": entries}, indent=2))
    tmp.replace(folder / KEYSET_FILE)


def _read_keys(folder: Path) -> list[SigningKey]:
    keys = []
    for entry in _read_index(folder):
        pem_path = folder / f"signing-{entry['kid']}.pem"
        try:
            key = RSAKey.import_key(pem_path.read_bytes())
        except (OSError, ValueError) as exc:
            raise KeyStoreError(f"cannot load {pem_path}: {exc}") from exc
        keys.append(SigningKey(entry["kid"], key, int(entry.get("created_at", 0)),
                               bool(entry.get("active", True)),
                               _certificate_chain(folder, entry["kid"], key)))
    return keys


def _certificate_chain(folder: Path, kid: str, key: RSAKey) -> tuple[bytes, ...]:
    """The key's certificate (made or renewed if needed) and its issuing CA, in DER."""
    import datetime as dt

    path = folder / f"signing-{kid}.crt"
    public = key.get_op_key("verify")
    try:
        issuer = LocalPki.in_keys_dir(folder).issuing_ca(SERVICES_CA)
        certificate = x509.load_pem_x509_certificate(path.read_bytes()) \
            if path.exists() else None
        soon = dt.datetime.now(dt.UTC) + dt.timedelta(days=RENEW_BEFORE_DAYS)
        if (certificate is None or certificate.public_key() != public
                or not issued_by(certificate, issuer.certificate)
                or certificate.not_valid_after_utc < soon):
            certificate = issue(issuer, name(REALM), public, lifetime_days=CERT_DAYS,
                                usage=TOKEN_SIGNING)
            write_pem(path, [certificate])
    except (OSError, ValueError, PkiError) as exc:
        log.warning("signing key %s published without x5c: %s", kid, exc)
        return ()
    return tuple(c.public_bytes(serialization.Encoding.DER)
                 for c in (certificate, issuer.certificate))


def load_or_create_secret(folder: str | Path) -> str:
    """The Flask secret (cookies, CSRF): generated once, kept beside the keys, mode 0600."""
    path = Path(folder) / SECRET_FILE
    with _lock:
        if not path.exists():
            Path(folder).mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_urlsafe(48))
        return path.read_text().strip()
