"""Abuse limits shared by every process and instance: what a stranger may start or try per
window, per professional, per client and per client address (``[rate_limits]``).

Built on the ``limits`` library: its rate-limit items (``"3/hour"``, ``"3 per hour; 10 per
day"``) and its fixed-window strategy, over one of two storages:

- the database (default): ``store.SqlStorage``, one atomic upsert per count, on SQLite and
  PostgreSQL; every instance on the database shares it. A count commits the request's
  session (as ``credentials/attempts.py`` does): callers count before writing anything;
- Redis (``rate_limits.storage = "redis://…"``, the optional ``psc-idp[redis]`` extra):
  ``limits``' own Redis storage (an INCR and EXPIRE in one Lua script). When Redis fails, the
  database counts instead for the next ``REDIS_PAUSE`` seconds (no request waits for a dead
  Redis each time), and the log says so once a minute.

What is limited, and how each refusal is answered (always with ``Retry-After`` and audited
``ratelimit.refused``; the numbers are settings):

- **e-CPS activations** (``POST /api/mobile/v1/activations``): per professional (contact
  codes only: each start sends an e-mail and an SMS) and per client address; 429 JSON with a
  French message (``mobile/api.py``).
- **Client secret failures** (token, introspection, revocation, CIBA): per (client, address),
  per address and per client, counted *before* the argon2id check and given back when the
  secret is right, so a spray is refused unchecked once its budget is spent
  (``guard_secret_check``); 429 ``slow_down``. A secret this process already verified is
  never counted nor refused (``oidc/secrets.py`` remembers it).
- **The token endpoint**: refused token requests per address (and, if set, all token
  requests per address); 429 ``slow_down`` (``oidc/views.py``).

Addresses are the client's address after ``[proxy]`` (X-Forwarded-For only from trusted
hops); IPv6 addresses count per /64, the block one subscriber usually holds.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote

from flask import current_app, has_request_context, request
from limits import RateLimitItem, parse_many
from limits.errors import StorageError
from limits.storage import Storage, storage_from_string
from limits.strategies import FixedWindowRateLimiter

from ..config import RateLimitSettings
from .store import RateLimitCounter, SqlStorage

__all__ = ["RateLimitCounter", "RateLimited", "RateLimits", "guard_secret_check", "limits",
           "source_address"]

log = logging.getLogger("psc_idp.ratelimit")
EXTENSION = "psc_idp.ratelimit"


class RateLimited(Exception):
    """A request refused by the limit ``name``; ask again in ``retry_after`` seconds."""

    def __init__(self, name: str, retry_after: int):
        super().__init__(f"{name}: retry after {retry_after} s")
        self.name = name
        self.retry_after = retry_after


REDIS_PAUSE = 15.0
"""Seconds the database counts alone after Redis failed, before Redis is tried again."""


@dataclass
class _Fallback:
    """The database storage standing in for Redis while Redis fails."""

    limiter: FixedWindowRateLimiter
    last_warning: float = 0.0
    redis_again: float = 0.0


class RateLimits:
    """The named limits of one app, over its storage."""

    def __init__(self, settings: RateLimitSettings, database: Storage):
        self.settings = settings
        self.items: dict[str, list[RateLimitItem]] = {}
        for name in RateLimitSettings.LIMITS:
            value = getattr(settings, name).strip()
            if value:
                self.items[name] = [_namespaced(item, name) for item in parse_many(value)]
        self.database = FixedWindowRateLimiter(database)
        self.redis: FixedWindowRateLimiter | None = None
        if settings.storage:
            self.redis = FixedWindowRateLimiter(storage_from_string(
                settings.storage, key_prefix=settings.key_prefix, wrap_exceptions=True,
                socket_timeout=1.0, socket_connect_timeout=1.0))
        self._fallback = _Fallback(self.database)
        self._lock = threading.Lock()

    def enabled(self, name: str) -> bool:
        return name in self.items

    # ------------------------------------------------------------------ storage calls
    def _run(self, call: Callable[[FixedWindowRateLimiter], object]) -> object:
        if self.redis is not None and time.monotonic() >= self._fallback.redis_again:
            try:
                return call(self.redis)
            except StorageError as exc:
                with self._lock:
                    now = time.monotonic()
                    self._fallback.redis_again = now + REDIS_PAUSE
                    if now - self._fallback.last_warning > 60:
                        self._fallback.last_warning = now
                        log.warning("rate-limit storage %s failed (%s): counting in the "
                                    "database instead", self.settings.storage.split("@")[-1],
                                    exc.storage_error)
        return call(self._fallback.limiter)

    def take(self, name: str, *identifiers: str) -> int | None:
        """Count one hit on every window of ``name``: None if all hold, else the seconds
        until the exceeded window ends (at least 1). A hit beyond the limit is counted too
        (it changes nothing: the window does not move)."""
        identifiers = _safe(identifiers)
        waits = []
        for item in self.items.get(name, []):
            if not self._run(lambda limiter, item=item: limiter.hit(item, *identifiers)):
                waits.append(self._retry_after(item, identifiers))
        return max(waits) if waits else None

    def blocked(self, name: str, *identifiers: str) -> int | None:
        """Like ``take`` without counting: None if one more hit would be allowed."""
        identifiers = _safe(identifiers)
        waits = [self._retry_after(item, identifiers) for item in self.items.get(name, [])
                 if not self._run(lambda limiter, item=item: limiter.test(item, *identifiers))]
        return max(waits) if waits else None

    def give_back(self, name: str, *identifiers: str) -> None:
        """Return the hit ``take`` counted (the attempt turned out right)."""
        identifiers = _safe(identifiers)
        for item in self.items.get(name, []):
            self._run(lambda limiter, item=item: limiter.hit(item, *identifiers, cost=-1))

    def used(self, name: str, *identifiers: str) -> int:
        """Hits counted in the current window of ``name``'s first limit."""
        items = self.items.get(name)
        if not items:
            return 0
        identifiers = _safe(identifiers)
        stats = self._run(lambda limiter: limiter.get_window_stats(items[0], *identifiers))
        return items[0].amount - stats.remaining  # type: ignore[attr-defined]

    def _retry_after(self, item: RateLimitItem, identifiers: tuple[str, ...]) -> int:
        stats = self._run(lambda limiter: limiter.get_window_stats(item, *identifiers))
        return max(1, math.ceil(stats.reset_time - time.time()))  # type: ignore[attr-defined]


def _safe(identifiers: tuple[str, ...]) -> tuple[str, ...]:
    """Identifiers quoted so that none can contain the key's separator ``/``."""
    return tuple(quote(str(i), safe="") for i in identifiers)


def _namespaced(item: RateLimitItem, name: str) -> RateLimitItem:
    """The item with the limit's name as its namespace: two limits never share a key."""
    return type(item)(item.amount, item.multiples, namespace=name)


def limits() -> RateLimits:
    """This app's limits, built at its first request that counts."""
    extensions = current_app.extensions
    found = extensions.get(EXTENSION)
    if found is None:
        settings = extensions["psc_idp"].settings.rate_limits
        found = extensions.setdefault(EXTENSION, RateLimits(settings, SqlStorage()))
    return found


def source_address() -> str:
    """The client's address as the limits count it: IPv4 as is, IPv6 by its /64."""
    address = (request.remote_addr or "") if has_request_context() else ""
    try:
        parsed = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return address[:64] or "unknown"
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.ip_network(f"{parsed}/64", strict=False))
    return str(parsed)


def refuse(limited: RateLimited, **details: object) -> None:
    """Audit a refusal (committed with the caller's work)."""
    from ..audit import record

    client_id = str(details.pop("client_id", "") or "")
    subject = str(details.pop("subject", "") or "")
    record("ratelimit.refused", "failure", subject=subject, client_id=client_id,
           limit=limited.name, retry_after=limited.retry_after, source=source_address(),
           **details)


# ----------------------------------------------------------------------------- client secrets
PER_ADDRESS = "client_auth_failures_per_address"
PER_CLIENT_ADDRESS = "client_auth_failures_per_client_address"
PER_CLIENT = "client_auth_failures_per_client"


def guard_secret_check(client_id: str, check: Callable[[], bool]) -> bool:
    """Run ``check`` (an argon2id verification) unless this source or client has spent its
    budget of wrong secrets; raise ``RateLimited`` (refused unchecked) otherwise.

    A source whose budget is already spent is refused after two reads, writing nothing but
    the refusal's audit row. Otherwise the attempt is counted *before* the check, in the
    address's, the (client, address)'s and the client's windows, so parallel guesses cannot
    all slip in before the first failure is counted; a right secret gives the three back.
    When only the client's budget is spent, an address with no wrong secret for this client
    in its window is still checked: the client's own servers keep getting tokens while
    strangers spray from elsewhere (each new address costs one check per window, then is
    refused unchecked)."""
    rl = limits()
    address = source_address()
    for name, identifiers in ((PER_ADDRESS, (address,)),
                              (PER_CLIENT_ADDRESS, (client_id, address))):
        wait = rl.blocked(name, *identifiers)
        if wait is not None:
            raise RateLimited(name, wait)
    taken: list[tuple[str, tuple[str, ...]]] = []

    def take(name: str, *identifiers: str) -> int | None:
        wait = rl.take(name, *identifiers)
        taken.append((name, identifiers))
        return wait

    wait = take(PER_ADDRESS, address)
    if wait is not None:
        raise RateLimited(PER_ADDRESS, wait)
    wait = take(PER_CLIENT_ADDRESS, client_id, address)
    if wait is not None:
        raise RateLimited(PER_CLIENT_ADDRESS, wait)
    wait = take(PER_CLIENT, client_id)
    if wait is not None:
        fresh = rl.enabled(PER_CLIENT_ADDRESS) and rl.used(PER_CLIENT_ADDRESS, client_id,
                                                           address) <= 1
        if not fresh:
            raise RateLimited(PER_CLIENT, wait)
    right = check()
    if right:
        for name, identifiers in taken:
            rl.give_back(name, *identifiers)
    return right


# ----------------------------------------------------------------------------- activations
ACTIVATION_MESSAGES = {
    "activation_per_professional": "Trop de demandes d'activation pour ce professionnel. "
                                   "Réessayez dans {minutes} min.",
    "activation_per_address": "Trop de demandes d'activation depuis cette adresse. Réessayez "
                              "dans {minutes} min.",
}
"""What the mobile API answers (429, French: the app shows it to the professional)."""


def activation_start(national_id: str, sends_codes: bool) -> None:
    """Count an activation start per client address, and per professional when it sends
    the contact codes (an e-mail and an SMS to them); raise ``RateLimited`` (audited) when
    one is spent. A refused start sends nothing and creates nothing."""
    rl = limits()
    checks = [("activation_per_address", (source_address(),))]
    if sends_codes:
        checks.append(("activation_per_professional", (national_id,)))
    for name, identifiers in checks:
        wait = rl.take(name, *identifiers)
        if wait is not None:
            limited = RateLimited(name, wait)
            refuse(limited, subject=national_id)
            raise limited
