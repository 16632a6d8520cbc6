"""Client secrets: argon2id at rest, with a per-process memo so a valid secret is not re-hashed
on every token request (argon2 costs tens of milliseconds by design).

The memo keys on the stored hash *and* a SHA-256 of the presented secret, so changing a client's
secret invalidates it, and nothing kept in memory reveals a secret.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from ..hashing import ARGON2ID

_hasher = ARGON2ID
_verified: set[tuple[str, str]] = set()
_lock = threading.Lock()
_MEMO_LIMIT = 10_000


def hash_secret(secret: str) -> str:
    return _hasher.hash(secret)


def remembered(stored_hash: str, presented: str | None) -> bool:
    """True if this process already verified ``presented`` against ``stored_hash``: the
    right secret, known without argon2 (nor any throttling: ``server.py``)."""
    if not stored_hash or not presented:
        return False
    return (stored_hash, hashlib.sha256(presented.encode()).hexdigest()) in _verified


_in_flight: dict[tuple[str, str], threading.Event] = {}
_FOLLOW_WAIT = 5.0


@contextmanager
def single_flight(stored_hash: str, presented: str) -> Iterator[bool]:
    """One verification at a time per (hash, secret) in this process: the first caller leads
    (yields True); callers presenting the same secret meanwhile wait for it (bounded) and yield
    False, then find the secret ``remembered`` if it was right. A client's burst of first token
    calls thus costs one argon2 check and one count against its failure budget, not one each
    (twelve at once would otherwise spend a budget of ten on a right secret)."""
    key = (stored_hash, hashlib.sha256(presented.encode()).hexdigest())
    with _lock:
        running = _in_flight.get(key)
        if running is None:
            running = _in_flight[key] = threading.Event()
            leader = True
        else:
            leader = False
    if not leader:
        running.wait(_FOLLOW_WAIT)
        yield False
        return
    try:
        yield True
    finally:
        with _lock:
            _in_flight.pop(key, None)
        running.set()


def verify(stored_hash: str, presented: str | None) -> bool:
    if not stored_hash or not presented:
        return False
    memo_key = (stored_hash, hashlib.sha256(presented.encode()).hexdigest())
    if memo_key in _verified:
        return True
    try:
        _hasher.verify(stored_hash, presented)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
    with _lock:
        if len(_verified) >= _MEMO_LIMIT:
            _verified.clear()
        _verified.add(memo_key)
    return True
