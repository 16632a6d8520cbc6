"""Server-Sent Events for the waiting parts of e-CPS: the phone's pending logins and the login
page's status. One helper, ``event_stream``, so both streams end the same way.

A stream asks ``check()`` at once, then each time one of its ``topics`` is announced
(``wakeups.py``: a challenge was created, answered or withdrawn) and at the latest every
``Wakeups.poll_interval()`` seconds or when ``check`` asked to look again (``recheck_in``: a
challenge expires). It commits in between, so rows written by other processes become visible.
It sends what ``check`` returns as events, and ends when ``check`` says so, after
``max_duration`` seconds (the client reconnects: EventSource does so by itself, after the
``retry`` delay sent first), or when the client goes away (the next write fails; heartbeat
comments every ``heartbeat`` seconds make that happen soon, and keep proxies from closing an
idle connection). An error inside the stream is logged and ends it with an ``error`` event:
the 200 headers are already sent, so it can never become a 500.

Each open stream holds one server thread: ``psc-idp serve --workers N`` runs gunicorn's
``gthread`` workers (``server.threads`` per process) for that reason; see docs/architecture.md.
So the views open a stream only with one of the process's wait slots (``waits.py``: bounded per
process, per login or device, per address), given back by ``response.call_on_close`` when the
stream ends; without a slot they answer 429/503 at once. No database connection is held while a
stream sleeps: it commits (the connection goes back to the pool) before each wait.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from flask import Response, current_app, stream_with_context

from .db import db
from .wakeups import Subscription, Wakeups

log = logging.getLogger("psc_idp.sse")

MEDIA_TYPE = "text/event-stream"
RETRY_MS = 2000
"""Sent first: how long EventSource waits before reconnecting after the stream ends."""

_open_streams = 0
_lock = threading.Condition()
_closing = threading.Event()
_subscriptions: set[Subscription] = set()
"""The open streams' subscriptions, poked by ``close_all`` so they end now, not at their next
look."""


def open_streams() -> int:
    """Event streams open in this process (a client gone is noticed at the next write)."""
    return _open_streams


def wait_until_closed(timeout: float) -> bool:
    """Block until no stream is open in this process (tests, before closing the database)."""
    with _lock:
        return _lock.wait_for(lambda: _open_streams == 0, timeout=timeout)


def close_all(timeout: float) -> bool:
    """End every open stream of this process at its next check (they send ``end`` with
    ``{"reason": "closing"}``), wait for them, then accept streams again. For an orderly stop
    (the tests stop their servers with it)."""
    _closing.set()
    _poke_all()
    try:
        return wait_until_closed(timeout)
    finally:
        _closing.clear()


def close_all_now() -> None:
    """End every open stream now, and refuse to wait on (the process stops)."""
    _closing.set()
    _poke_all()


def _poke_all() -> None:
    with _lock:
        streams = list(_subscriptions)
    for subscription in streams:
        subscription.poke()


def _count(delta: int, subscription: Subscription) -> None:
    global _open_streams
    with _lock:
        _open_streams += delta
        if delta > 0:
            _subscriptions.add(subscription)
        else:
            _subscriptions.discard(subscription)
        _lock.notify_all()


@dataclass
class Check:
    """What one look at the state gives: events to send, and whether the stream is over."""

    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    done: bool = False
    recheck_in: float | None = None
    """Look again after at most this many seconds even if nothing is announced (an expiry)."""


def format_event(name: str, data: dict[str, Any]) -> str:
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return f"event: {name}\ndata: {body}\n\n"


def event_stream(check: Callable[[], Check], *, max_duration: float, heartbeat: float,
                 topics: tuple[str, ...] = ()) -> Response:
    """A ``text/event-stream`` response driven by ``check`` (run inside the request context),
    looked at again whenever one of ``topics`` is announced."""
    hub: Wakeups = current_app.extensions["psc_idp"].wakeups

    def generate() -> Iterator[str]:
        started = time.monotonic()
        deadline = started + max(max_duration, 0.0)
        next_beat = started + heartbeat
        subscription = hub.subscribe(*topics)  # before the first look: nothing is missed
        _count(+1, subscription)
        try:
            yield f"retry: {RETRY_MS}\n\n"
            while True:
                result = check()
                for name, data in result.events:
                    yield format_event(name, data)
                db.session.commit()  # end the snapshot: the next check sees new rows
                if result.done:
                    return
                if _closing.is_set():
                    yield format_event("end", {"reason": "closing"})
                    return
                now = time.monotonic()
                if now >= deadline:
                    yield format_event("end", {"reason": "max_duration"})
                    return
                if now >= next_beat:
                    yield ": heartbeat\n\n"
                    next_beat = now + heartbeat
                limits = [hub.poll_interval(), deadline - now, next_beat - now]
                if result.recheck_in is not None:
                    limits.append(result.recheck_in)
                subscription.wait(min(limits))
        except GeneratorExit:  # the client went away: the server closes the generator
            raise
        except Exception:  # the headers are sent: end the stream, never a half-written 500
            log.exception("event stream failed")
            db.session.rollback()
            yield format_event("error", {"error": "server_error"})
        finally:
            db.session.close()  # the connection goes back to the pool before we say "closed"
            subscription.close()
            _count(-1, subscription)

    response = Response(stream_with_context(generate()), mimetype=MEDIA_TYPE)
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Accel-Buffering"] = "no"  # nginx: do not buffer the stream
    return response
