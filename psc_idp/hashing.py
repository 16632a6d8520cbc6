"""How psc-idp keeps secrets it must check but never read back.

- **Client secrets**: argon2id (``ARGON2ID``), OWASP's recommended minimum (19 MiB, 2 passes,
  1 lane: about 25 ms of CPU here, where argon2-cffi's default took about 210 ms). A client
  secret may be long and random or a word a person chose: a slow hash is what protects the
  second kind if the database leaks. ``oidc/secrets.py`` remembers verified secrets per process.
- **Short codes and PINs** (activation codes, 6 digits; e-CPS PINs, 4 to 8 digits): a *keyed*
  hash, HMAC-SHA-256 with a key kept beside the signing keys (``keys_dir/at-rest.key``, made
  once, mode 0600), never in the database (``KeyedHash``). These secrets have 10^4 to 10^8
  values: whatever its cost, a hash of one is reversed by trying them all (a 4-digit PIN under
  argon2id takes 10^4 × 25 ms ≈ 4 minutes of one CPU core, less on a GPU), so a slow hash only
  delays a database thief by minutes. Without the key, an HMAC cannot be computed at all: a
  leaked database (a backup, a replica, an injection) reveals nothing. What limits online
  guessing is the attempt counters (``credentials/attempts.py``), not the hash. This is how
  payment PINs are checked (a PIN verification value computed under a key the HSM keeps).
  The cost: whoever steals the key *and* the database reverses every PIN in milliseconds, where
  argon2id would have cost them minutes per PIN; that thief also holds the token signing keys
  kept in the same folder. Every value is bound to its row (an activation's id, a device's id)
  and its purpose, so equal codes or PINs give unrelated digests.

PIN hashes made before (argon2id ``$argon2…``) still verify, and are replaced by the keyed
hash at the next right PIN (``verify_pin`` says when).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import threading
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

ARGON2ID = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)

AT_REST_KEY_FILE = "at-rest.key"
KEYED_PREFIX = "k1$"
"""Marks a keyed digest (and the key's version: a new key would be ``k2$``): 46 characters."""
_lock = threading.Lock()
_keys: dict[str, bytes] = {}


def load_or_create_key(folder: str | Path) -> bytes:
    """The at-rest key of ``folder`` (32 random bytes, hex in ``at-rest.key``, mode 0600):
    made once, atomically (two processes starting together end up with the same key)."""
    folder = Path(folder).resolve()
    with _lock:
        if str(folder) in _keys:
            return _keys[str(folder)]
        path = folder / AT_REST_KEY_FILE
        if not path.exists():
            folder.mkdir(parents=True, exist_ok=True)
            temporary = folder / f".{AT_REST_KEY_FILE}.{secrets.token_hex(8)}"
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_hex(32) + "\n")
            try:
                os.link(temporary, path)  # fails if another process made it first
            except FileExistsError:
                pass
            finally:
                temporary.unlink()
        key = bytes.fromhex(path.read_text().strip())
        if len(key) < 32:
            raise ValueError(f"{path}: the at-rest key must hold at least 32 bytes (hex)")
        _keys[str(folder)] = key
        return key


class KeyedHash:
    """HMAC-SHA-256 under a key kept outside the database, one sub-key per purpose."""

    def __init__(self, key: bytes):
        self._subkeys: dict[str, bytes] = {}
        self._key = key

    def _subkey(self, purpose: str) -> bytes:
        if purpose not in self._subkeys:
            self._subkeys[purpose] = hmac.new(self._key, b"psc-idp/" + purpose.encode(),
                                              hashlib.sha256).digest()
        return self._subkeys[purpose]

    def digest(self, purpose: str, *parts: str) -> str:
        """``k1$`` + base64url(HMAC(sub-key, parts joined by U+001F)): 46 characters."""
        mac = hmac.new(self._subkey(purpose), "\x1f".join(parts).encode(), hashlib.sha256)
        return KEYED_PREFIX + base64.urlsafe_b64encode(mac.digest()).rstrip(b"=").decode()

    def matches(self, stored: str, purpose: str, *parts: str) -> bool:
        return hmac.compare_digest(stored.encode(), self.digest(purpose, *parts).encode())


def keyed_hash(keys_dir: str | Path) -> KeyedHash:
    return KeyedHash(load_or_create_key(keys_dir))


# ----------------------------------------------------------------------------- PINs
PIN_PURPOSE = "ecps-pin"


def hash_pin(keyed: KeyedHash, device_id: str, pin: str) -> str:
    return keyed.digest(PIN_PURPOSE, device_id, pin)


def verify_pin(keyed: KeyedHash, stored: str, device_id: str, pin: str) -> tuple[bool, bool]:
    """(right, rehash): ``rehash`` when a right PIN is still kept the old way (argon2id)."""
    if stored.startswith(KEYED_PREFIX):
        return keyed.matches(stored, PIN_PURPOSE, device_id, pin), False
    try:
        ARGON2ID.verify(stored, pin)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False, False
    return True, True
