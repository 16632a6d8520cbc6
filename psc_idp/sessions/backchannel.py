"""Back-Channel Logout 1.0: sign a ``logout_token`` per RP and POST it, retrying with backoff.

Deliveries live in the ``logout_delivery`` table (queued by ``logout.end_everywhere``), so any
instance may send or retry them and every outcome is on record. A row is *claimed* with a
conditional UPDATE before it is tried: two workers never POST the same attempt.

Each RP is tried in its own thread with a short timeout: a slow or dead RP delays nobody
else. After a failure the row waits ``backoff × 2^(attempts-1)`` seconds; after
``backchannel_attempts`` failures it is marked failed. Inside a server, ``dispatch`` starts a
per-process daemon thread that sends what is due and sleeps until the next retry; the CLI
calls ``deliver_until_done`` instead and waits.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import requests
from flask import Flask, current_app
from sqlalchemy import or_, update

from .. import outbound
from ..audit import record
from ..db import db, utcnow
from ..pki.outgoing import verify_setting
from .models import LogoutDelivery

log = logging.getLogger(__name__)

EVENT = "http://schemas.openid.net/event/backchannel-logout"
LOGOUT_JWT_TYP = "logout+jwt"  # noqa: S105 (a media type, not a secret)
"""Explicit typing recommended by Back-Channel Logout 1.0 §2.4 (RFC 8725 §3.11)."""
TOKEN_LIFETIME = 120
MAX_PARALLEL = 8
IDLE_EXIT = 30.0
"""Longest sleep of the dispatcher thread between two looks at the queue."""


def logout_token(*, client_id: str, subject: str, session_id: str) -> str:
    """The signed logout token: ``iss, aud, iat, exp, jti, sub, sid, events`` and no nonce.

    ``typ: Logout`` is Keycloak's own claim in its logout tokens (kept for PSC's RPs).
    """
    provider = current_app.extensions["psc_idp"]
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": provider.settings.issuer, "aud": client_id, "iat": now, "exp": now + TOKEN_LIFETIME,
        "jti": str(uuid.uuid4()), "sub": subject, "sid": session_id,
        "events": {EVENT: {}}, "typ": "Logout",
    }
    return provider.keys.sign(claims, typ=LOGOUT_JWT_TYP)


def _claim_due(limit: int = 50, *, session_id: str | None = None) -> list[LogoutDelivery]:
    """Claim the pending rows that are due, so no other worker tries them meanwhile."""
    settings = current_app.extensions["psc_idp"].settings.session
    now = utcnow()
    query = db.select(LogoutDelivery.id).where(
        LogoutDelivery.status == "pending", LogoutDelivery.next_attempt_at <= now,
        or_(LogoutDelivery.claimed_until.is_(None), LogoutDelivery.claimed_until < now))
    if session_id is not None:
        query = query.where(LogoutDelivery.session_id == session_id)
    claimed: list[LogoutDelivery] = []
    hold = now + timedelta(seconds=settings.backchannel_timeout + 10)
    for delivery_id in db.session.scalars(query.limit(limit)).all():
        won = db.session.execute(
            update(LogoutDelivery)
            .where(LogoutDelivery.id == delivery_id, LogoutDelivery.status == "pending",
                   or_(LogoutDelivery.claimed_until.is_(None),
                       LogoutDelivery.claimed_until < now))
            .values(claimed_until=hold)).rowcount
        if won == 1:
            claimed.append(db.session.get(LogoutDelivery, delivery_id))
    db.session.commit()
    return claimed


def _post(uri: str, token: str, timeout: float) -> str:
    """POST the token (§2.5); '' on success (HTTP 200 or 204), else why it failed."""
    try:
        response = outbound.post(current_app.extensions["psc_idp"].settings, uri,
                                 data={"logout_token": token}, timeout=timeout,
                                 verify=verify_setting(),
                                 headers={"Cache-Control": "no-store",
                                          "User-Agent": "psc-idp back-channel logout"})
    except requests.RequestException as exc:
        return f"{type(exc).__name__}: {exc}"[:300]
    if response.status_code in (200, 204):
        return ""
    return f"HTTP {response.status_code}"


def _attempt(app: Flask, delivery_id: str) -> None:
    with app.app_context():
        delivery = db.session.get(LogoutDelivery, delivery_id)
        if delivery is None or delivery.status != "pending":
            return
        settings = app.extensions["psc_idp"].settings.session
        token = logout_token(client_id=delivery.client_id, subject=delivery.subject,
                             session_id=delivery.session_id)
        db.session.commit()  # no transaction held open while the RP answers
        error = _post(delivery.uri, token, settings.backchannel_timeout)
        delivery.attempts += 1
        delivery.claimed_until = None
        details = {"sid": delivery.session_id, "uri": delivery.uri, "attempt": delivery.attempts}
        if not error:
            delivery.status, delivery.finished_at, delivery.last_error = "delivered", utcnow(), ""
            record("logout.backchannel_delivered", client_id=delivery.client_id, **details)
        elif delivery.attempts >= settings.backchannel_attempts:
            delivery.status, delivery.finished_at, delivery.last_error = "failed", utcnow(), error
            record("logout.backchannel_failed", "failure", client_id=delivery.client_id,
                   error=error, **details)
        else:
            wait = settings.backchannel_backoff * 2 ** (delivery.attempts - 1)
            delivery.next_attempt_at = utcnow() + timedelta(seconds=wait)
            delivery.last_error = error
            record("logout.backchannel_retry", "failure", client_id=delivery.client_id,
                   error=error, retry_in=wait, **details)
        db.session.commit()


def deliver_due(app: Flask, *, session_id: str | None = None) -> int:
    """Try every due delivery once, each RP in its own thread; returns how many were tried."""
    with app.app_context():
        claimed = [d.id for d in _claim_due(session_id=session_id)]
        db.session.remove()
    if not claimed:
        return 0
    with ThreadPoolExecutor(max_workers=min(MAX_PARALLEL, len(claimed))) as pool:
        for future in [pool.submit(_attempt, app, delivery_id) for delivery_id in claimed]:
            try:
                future.result()
            except Exception:  # one RP's trouble must not stop the others
                log.exception("back-channel logout delivery crashed")
    return len(claimed)


def _seconds_to_next(app: Flask, session_id: str | None = None) -> float | None:
    """Seconds until the next pending delivery is due (0 if one is due now), None if none."""
    with app.app_context():
        query = db.select(db.func.min(LogoutDelivery.next_attempt_at)).where(
            LogoutDelivery.status == "pending")
        if session_id is not None:
            query = query.where(LogoutDelivery.session_id == session_id)
        soonest = db.session.scalar(query)
        db.session.remove()
    if soonest is None:
        return None
    return max(0.0, (soonest - utcnow()).total_seconds())


def deliver_until_done(app: Flask, session_id: str, deadline_seconds: float = 120.0) -> None:
    """For the CLI: send the session's deliveries, retries included, before returning."""
    deadline = time.monotonic() + deadline_seconds
    while time.monotonic() < deadline:
        deliver_due(app, session_id=session_id)
        wait = _seconds_to_next(app, session_id)
        if wait is None:
            return
        time.sleep(min(max(wait, 0.05), max(0.0, deadline - time.monotonic())))


class _Dispatcher:
    """One daemon thread per process and app, woken after each logout; it sleeps until the
    next retry is due and ends when nothing is pending (the next logout starts it again)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._events: dict[int, threading.Event] = {}
        self._threads: dict[int, threading.Thread] = {}
        self._stopping = False

    def wake(self, app: Flask) -> None:
        with self._lock:
            self._stopping = False
            self._events.setdefault(id(app), threading.Event()).set()
            thread = self._threads.get(id(app))
            if thread is None or not thread.is_alive():
                thread = threading.Thread(target=self._run, args=(app,), daemon=True,
                                          name="psc-idp-backchannel-logout")
                self._threads[id(app)] = thread
                thread.start()

    def _run(self, app: Flask) -> None:
        with self._lock:
            event = self._events.setdefault(id(app), threading.Event())
        while True:
            event.clear()
            try:
                deliver_due(app)
                wait = _seconds_to_next(app)
            except Exception:  # the database went away: try again later, never die loudly
                log.exception("back-channel logout dispatcher")
                wait = 5.0
            with self._lock:
                if self._stopping or (wait is None and not event.is_set()):
                    self._threads.pop(id(app), None)  # nothing pending (or told to stop)
                    return
            if wait is not None:
                event.wait(timeout=min(wait, IDLE_EXIT))

    def stop_all(self, timeout: float = 10.0) -> None:
        """End every dispatcher thread (what is pending stays queued for the next wake)."""
        with self._lock:
            self._stopping = True
            threads = list(self._threads.values())
            for event in self._events.values():
                event.set()
        for thread in threads:
            thread.join(timeout=timeout)


_dispatcher = _Dispatcher()


def stop_dispatchers() -> None:
    """For a clean shutdown (and tests): stop the background deliveries of this process."""
    _dispatcher.stop_all()


def dispatch(outcome: Any = None, app: Flask | None = None) -> None:
    """After the logout is committed: send the queued tokens now, in the background.
    ``outcome`` (a ``LogoutOutcome``, or None after any logout) with nothing queued: no-op."""
    if outcome is not None and not outcome.deliveries:
        return
    _dispatcher.wake(app or current_app._get_current_object())  # type: ignore[attr-defined]


def dispatch_if_queued() -> None:
    """After a commit that may have ended a session as a side effect (another professional
    signing in on the same browser): send what was queued."""
    from flask import g

    if g.pop("psc_idp_logout_queued", False):
        dispatch()
