"""A bounded number of e-CPS waits per server process, so that waiting cannot starve the server.

The waits (the login page's status long-poll and event stream, the phone's ``/challenges``
long-poll and ``/challenges/stream``) hold a server thread each for up to 25 s or a minute.
Anyone can start a login (one ``GET /auth``), so without a bound some 64 idle requests held
every thread of ``psc-idp serve --workers 2`` and discovery, token and userinfo stopped
answering for everyone.

Each process keeps a budget of wait slots (``[waits]``): at most ``max_open`` waits held at
once (half of ``server.threads`` by default: the other half always serves everything else),
at most ``per_login`` per login or per e-CPS device, at most ``per_address`` login-page waits
per client address. Taking a slot never blocks. A wait that gets none is answered **at once**:

- when the process is full or the client's address has its share, a login page's wait
  (stream or long-poll) answers ``503`` (full) or ``429`` (the address) with ``Retry-After``
  before any database work (``early_refusal``: a flood of refused waits costs little more
  than routing); the page asks again after that many seconds;
- a long-poll refused after its login was read (its login or device has its share; the
  phone's, which are counted after the device token) answers with the current status (a
  short poll) and ``"retry_after": N``; the page and the phone ask again after N seconds;
- an event stream refused answers ``429`` or ``503`` with ``Retry-After``; the page falls
  back to the long-poll, the phone to its long-poll, and they try the stream again later.

So an attacker holding every slot delays a real login by a few seconds (its page and phone
poll every ``retry_after`` seconds) and stops nothing else. Phones are not counted per address
(mobile networks put many behind one address); they need an activated device, counted per
device. The waits hold no database connection while they sleep (they commit before each
wait), so the bound also keeps Flask's threaded server (``workers = 0``, a thread per
request) from running the pool dry. Measured in ``benchmarks/starvation.py``.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass
from typing import Any

from flask import Response, current_app, jsonify

log = logging.getLogger("psc_idp.waits")

_EXTENSION = "psc_idp_waits"
_create_lock = threading.Lock()
_LOG_EVERY = 60.0
"""Seconds between two warnings that waits were refused (one process)."""


@dataclass
class Permit:
    """A wait slot (``granted``), or why there is none (``reason``: ``busy``, the process is
    full; ``login``, ``device`` or ``address``, that one has its share)."""

    granted: bool
    reason: str = ""
    retry_after: int = 0
    _budget: WaitBudget | None = None
    _key: str = ""
    _address: str | None = None

    @property
    def status(self) -> int:
        """The HTTP status of a refused stream: 503 when the process is full, else 429."""
        return 503 if self.reason == "busy" else 429

    def release(self) -> None:
        """Give the slot back (idempotent; nothing for a refusal)."""
        budget, self._budget = self._budget, None
        if budget is not None:
            budget._release(self._key, self._address)


NO_WAIT = Permit(False, reason="no_wait")
"""For a request that does not wait (``wait=0``): nothing to take, nothing to give back."""


class WaitBudget:
    """The wait slots of one app in one process (thread-safe, never blocks)."""

    def __init__(self, max_open: int, per_address: int, per_key: int, retry_after: int):
        self.max_open = max_open
        self.per_address = per_address
        self.per_key = per_key
        self.retry_after = retry_after
        self.pid = os.getpid()
        self._lock = threading.Lock()
        self._open = 0
        self._keys: dict[str, int] = {}
        self._addresses: dict[str, int] = {}
        self._refused = 0
        self._last_log = 0.0

    def try_acquire(self, key: str, address: str | None = None) -> Permit:
        """A slot for a wait on ``key`` (``login:<uid>``, ``device:<id>``) from ``address``
        (None: not counted per address), or a refusal, at once."""
        with self._lock:
            if self._keys.get(key, 0) >= self.per_key:
                reason = key.partition(":")[0] or "login"
            elif address is not None and self._addresses.get(address, 0) >= self.per_address:
                reason = "address"
            elif self._open >= self.max_open:
                reason = "busy"
            else:
                self._open += 1
                self._keys[key] = self._keys.get(key, 0) + 1
                if address is not None:
                    self._addresses[address] = self._addresses.get(address, 0) + 1
                return Permit(True, _budget=self, _key=key, _address=address)
            self._refused += 1
            warn = time.monotonic() - self._last_log >= _LOG_EVERY
            if warn:
                self._last_log = time.monotonic()
                refused, self._refused, open_now = self._refused, 0, self._open
        if warn:
            log.warning("waits refused (%d since the last warning, last: %s); %d of %d held "
                        "in this process ([waits] in the configuration)", refused, reason,
                        open_now, self.max_open)
        return Permit(False, reason=reason, retry_after=self.retry_after)

    def precheck(self, address: str | None) -> Permit | None:
        """The refusal a wait from ``address`` would get now because the process is full or
        the address has its share (None: it may try). No slot is taken: for answering a
        flood before any database work; ``try_acquire`` decides."""
        with self._lock:
            if address is not None and self._addresses.get(address, 0) >= self.per_address:
                reason = "address"
            elif self._open >= self.max_open:
                reason = "busy"
            else:
                return None
            self._refused += 1
        return Permit(False, reason=reason, retry_after=self.retry_after)

    def _release(self, key: str, address: str | None) -> None:
        with self._lock:
            self._open -= 1
            _decrement(self._keys, key)
            if address is not None:
                _decrement(self._addresses, address)

    def open_waits(self) -> int:
        return self._open


def _decrement(counts: dict[str, int], key: str) -> None:
    left = counts.get(key, 0) - 1
    if left > 0:
        counts[key] = left
    else:
        counts.pop(key, None)


def budget() -> WaitBudget:
    """This app's budget in this process (a forked gunicorn worker starts with its own)."""
    extensions: dict[str, Any] = current_app.extensions
    current = extensions.get(_EXTENSION)
    if current is None or current.pid != os.getpid():
        with _create_lock:
            current = extensions.get(_EXTENSION)
            if current is None or current.pid != os.getpid():
                settings = extensions["psc_idp"].settings
                max_open, per_address, per_login = settings.waits.resolved(
                    settings.server.threads)
                current = WaitBudget(max_open, per_address, per_login,
                                     settings.waits.retry_after)
                extensions[_EXTENSION] = current
    return current


def try_wait(key: str, address: str | None = None) -> Permit:
    """``budget().try_acquire``: a slot to hold this request while it waits, or a refusal."""
    return budget().try_acquire(key, address)


def early_refusal(address: str | None) -> Response | None:
    """429/503 at once, before any database work, when a wait from ``address`` cannot get
    a slot now (the process is full, or the address has its share); else None."""
    permit = budget().precheck(address)
    return refused(permit) if permit is not None else None


_DESCRIPTIONS = {
    "busy": "Le serveur attend déjà le nombre maximal de réponses : réessayez dans "
            "{n} s, ou interrogez /status (ou /challenges) sans attendre.",
    "login": "Cette connexion a déjà le nombre maximal d'attentes ouvertes : réessayez dans "
             "{n} s.",
    "device": "Cet appareil a déjà le nombre maximal d'attentes ouvertes : réessayez dans "
              "{n} s.",
    "address": "Trop d'attentes ouvertes depuis cette adresse : réessayez dans {n} s.",
}


def refused(permit: Permit) -> Response:
    """The quick answer to a stream that got no slot: 429 or 503, ``Retry-After``, JSON."""
    response = jsonify({
        "error": "temporarily_unavailable" if permit.status == 503 else "too_many_waits",
        "error_description": _DESCRIPTIONS.get(permit.reason, _DESCRIPTIONS["busy"]).format(
            n=permit.retry_after),
        "retry_after": permit.retry_after})
    response.status_code = permit.status
    return degraded(response, permit)


def degraded(response: Response, permit: Permit) -> Response:
    """Mark an answer given without waiting: ``Retry-After`` (seconds) and no caching."""
    response.headers["Retry-After"] = str(permit.retry_after)
    response.headers["Cache-Control"] = "no-store"
    return response
