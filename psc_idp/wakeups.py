"""Wake the requests that wait on the database (an e-CPS waiting page, a phone's event stream
or long-poll) when what they wait on changes, instead of having each of them poll.

A writer calls ``announce(topic)`` inside the transaction that changes the state. The topic
is delivered when that transaction commits, never before and never on rollback:

- on PostgreSQL, to every process: ``pg_notify`` in the same transaction (PostgreSQL sends it
  at commit), heard by one ``LISTEN`` thread per process. Two provider instances on one
  database wake each other (the DESIGN's "state lives in the database");
- else (SQLite, or the listener not connected) to the waiters of this process, at once
  (SQLAlchemy's ``after_commit``).

A waiter subscribes *before* it looks at the state, then waits on its subscription between
looks, so an announcement made between a look and the wait is never missed. Waits still end
after ``poll_interval()`` seconds: the safety net if a notification is lost (a listener that
is reconnecting wakes everyone when it is back), and the only way SQLite hears other
processes (SQLite has no NOTIFY: gunicorn workers on SQLite see each other within 0.25 s).

Caches (``oidc/client_cache.py``) use the same deliveries: ``on_topic(prefix, callback)`` calls
``callback(topic)`` for every announced topic starting with ``prefix`` — at once in the
committing process (even when the listener will hear it too: a change is seen by the next
request of the process that made it), and in every other process when the listener hears it —
and ``on_hearing_change(callback)`` tells when the listener connects or loses its connection
(a cache drops everything then: what changed while deaf was never heard). ``announce_in_flush``
announces from a mapper event (``after_update``…), on the flush's own connection.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from sqlalchemy import event, text
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.orm import Session

log = logging.getLogger("psc_idp.wakeups")

CHANNEL = "psc_idp_wakeup"
"""The PostgreSQL NOTIFY channel; the payload is one topic."""
SHORT_POLL = 0.25
"""Seconds between looks when other processes cannot be heard (SQLite, listener down)."""
SAFETY_POLL = 5.0
"""Seconds between looks when every writer is heard (PostgreSQL with the listener up)."""
T = TypeVar("T")
_SESSION_KEY = "psc_idp_wakeups"
_MAX_TOPIC = 200


class Subscription:
    """Interest in some topics; ``wait`` returns early once one of them is announced."""

    def __init__(self, hub: Wakeups, topics: tuple[str, ...]):
        self.hub = hub
        self.topics = topics
        self._event = threading.Event()

    def wait(self, timeout: float) -> bool:
        """Block up to ``timeout`` seconds; True if woken by an announcement (look again)."""
        woken = self._event.wait(max(timeout, 0.0))
        self._event.clear()
        return woken

    def poke(self) -> None:
        self._event.set()

    def close(self) -> None:
        self.hub._remove(self)

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Wakeups:
    """The waiters of one app in this process, and its PostgreSQL listener (if any)."""

    def __init__(self, database_url: str | URL):
        url = make_url(database_url)
        self.is_postgresql = url.get_backend_name() == "postgresql"
        self._conninfo = (url.set(drivername="postgresql").render_as_string(hide_password=False)
                          if self.is_postgresql else "")
        self._pid = 0
        self._topic_callbacks: tuple[tuple[str, Callable[[str], None]], ...] = ()
        self._hearing_callbacks: tuple[Callable[[bool], None], ...] = ()
        self._reset()

    def _reset(self) -> None:
        """Fresh state for this process (a forked gunicorn worker inherits none of its
        parent's threads, and maybe a lock held at the fork)."""
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._subscriptions: dict[str, set[Subscription]] = {}
        self._hearing = threading.Event()
        self._stop = threading.Event()
        self._listener: threading.Thread | None = None

    # ------------------------------------------------------------------ waiters
    def subscribe(self, *topics: str) -> Subscription:
        self._ensure_process()
        subscription = Subscription(self, tuple(t[:_MAX_TOPIC] for t in topics if t))
        with self._lock:
            for topic in subscription.topics:
                self._subscriptions.setdefault(topic, set()).add(subscription)
        return subscription

    def _remove(self, subscription: Subscription) -> None:
        with self._lock:
            for topic in subscription.topics:
                waiting = self._subscriptions.get(topic)
                if waiting is not None:
                    waiting.discard(subscription)
                    if not waiting:
                        del self._subscriptions[topic]

    def long_poll(self, topics: Iterable[str], look: Callable[[], T],
                  ready: Callable[[T], bool], seconds: float,
                  recheck_in: Callable[[T], float | None] = lambda _: None) -> T:
        """``look()`` until ``ready`` says so or ``seconds`` pass, looking again whenever one
        of ``topics`` is announced (or after ``recheck_in(result)`` seconds, or the safety
        interval). Subscribed before the first look; commits between looks, so the next one
        sees what other transactions committed. Returns the last look."""
        from .db import db

        deadline = time.monotonic() + max(seconds, 0.0)
        with self.subscribe(*topics) as subscription:
            while True:
                result = look()
                now = time.monotonic()
                if ready(result) or now >= deadline:
                    return result
                db.session.commit()  # end the snapshot
                limits = [self.poll_interval(), deadline - now]
                recheck = recheck_in(result)
                if recheck is not None:
                    limits.append(recheck)
                subscription.wait(min(limits))

    def poll_interval(self) -> float:
        """How long a waiter may sleep between two looks at the database."""
        return SAFETY_POLL if self._hearing.is_set() else SHORT_POLL

    def hears_other_processes(self) -> bool:
        return self._hearing.is_set()

    # ------------------------------------------------------------------ in-process callbacks
    def on_topic(self, prefix: str, callback: Callable[[str], None]) -> None:
        """Call ``callback(topic)`` for every delivered topic that starts with ``prefix``
        (from the committing thread, or the listener's: keep it short and thread-safe).
        Registrations survive a fork (they belong to the app, not to the process)."""
        self._topic_callbacks = (*self._topic_callbacks, (prefix, callback))

    def on_hearing_change(self, callback: Callable[[bool], None]) -> None:
        """Call ``callback(hearing)`` whenever the listener connects (True) or loses its
        connection (False)."""
        self._hearing_callbacks = (*self._hearing_callbacks, callback)

    def ensure_listening(self) -> None:
        """Start this process's listener if it is not running (PostgreSQL; a no-op else).
        Waiters start it by subscribing; a cache calls this, as it never subscribes."""
        self._ensure_process()

    def _run_callbacks(self, topics: Iterable[str]) -> None:
        callbacks = self._topic_callbacks
        if not callbacks:
            return
        for topic in topics:
            for prefix, callback in callbacks:
                if topic.startswith(prefix):
                    try:
                        callback(topic)
                    except Exception:  # a cache's bug must not break a commit or the listener
                        log.exception("wake-up callback failed for topic %r", topic)

    def _hearing_changed(self, hearing: bool) -> None:
        for callback in self._hearing_callbacks:
            try:
                callback(hearing)
            except Exception:
                log.exception("wake-up hearing callback failed")

    # ------------------------------------------------------------------ deliveries
    def deliver(self, topics: Iterable[str]) -> None:
        topics = tuple(topics)
        with self._lock:
            woken = [s for topic in topics for s in self._subscriptions.get(topic, ())]
        for subscription in woken:
            subscription.poke()
        self._run_callbacks(topics)

    def committed_here(self, topic: str) -> None:
        """A transaction of this process that announced ``topic`` committed: callbacks run at
        once; waiters are woken here unless the listener will deliver it (once, not twice)."""
        if self.hears_other_processes():
            self._run_callbacks((topic,))
        else:
            self.deliver((topic,))

    def wake_all(self) -> None:
        """Every waiter looks again (the clock moved; the listener missed some time)."""
        with self._lock:
            woken = [s for waiting in self._subscriptions.values() for s in waiting]
        for subscription in woken:
            subscription.poke()

    # ------------------------------------------------------------------ the listener
    def _ensure_process(self) -> None:
        if self._pid != os.getpid():
            self._reset()
        if self.is_postgresql and self._listener is None and not self._stop.is_set():
            with self._lock:
                if self._listener is None:
                    self._listener = threading.Thread(target=self._listen, daemon=True,
                                                      name="psc-idp-wakeups")
                    self._listener.start()

    def _listen(self) -> None:
        import psycopg

        backoff = 0.5
        while not self._stop.is_set():
            try:
                # TCP keepalives: a connection cut without a reset (a network partition) is
                # noticed within ~25 s, not hours later (caches trust this connection).
                with psycopg.connect(self._conninfo, autocommit=True,
                                     application_name="psc-idp wakeups", keepalives=1,
                                     keepalives_idle=10, keepalives_interval=5,
                                     keepalives_count=3) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self._hearing.set()
                    self._hearing_changed(True)  # caches forget what they kept while deaf
                    self.wake_all()  # what was announced while deaf is looked at now
                    backoff = 0.5
                    while not self._stop.is_set():  # notifies() ends after 1 s of quiet
                        for notification in conn.notifies(timeout=1.0):
                            self.deliver((notification.payload,))
            except Exception as exc:  # psycopg.Error, OSError: the database went away
                if not self._stop.is_set():
                    log.warning("wake-up listener lost its connection (%s); waiters poll "
                                "every %.2f s until it is back", exc, SHORT_POLL)
            finally:
                was_hearing = self._hearing.is_set()
                self._hearing.clear()
                if was_hearing:
                    self._hearing_changed(False)
                self.wake_all()
            self._stop.wait(backoff)
            backoff = min(backoff * 2, 10.0)

    def close(self, timeout: float = 5.0) -> None:
        """Stop the listener (tests, before their database is dropped)."""
        self._stop.set()
        listener = self._listener
        if listener is not None and listener.is_alive() and self._pid == os.getpid():
            listener.join(timeout)
        self._listener = None
        self.wake_all()


# ----------------------------------------------------------------------------- writers
def announce(topic: str) -> None:
    """Wake the waiters of ``topic`` once the current transaction commits."""
    from flask import current_app

    from .db import db

    hub: Wakeups = current_app.extensions["psc_idp"].wakeups
    topic = topic[:_MAX_TOPIC]
    session = db.session()
    pending = session.info.setdefault(_SESSION_KEY, {})
    if topic in pending:
        return
    pending[topic] = hub
    if hub.is_postgresql:  # sent by PostgreSQL at commit, to every listening process
        with session.no_autoflush:  # pending changes go in the commit's one flush
            session.execute(text("SELECT pg_notify(:channel, :topic)"),
                            {"channel": CHANNEL, "topic": topic})


def announce_in_flush(session: Session, connection: Connection, topic: str) -> None:
    """``announce`` from inside a flush (a mapper event: ``session.execute`` is not allowed
    there): ``pg_notify`` on the flush's own connection, so it is sent at that transaction's
    commit. Not deduplicated (a savepoint rolled back may have taken an earlier one with it);
    PostgreSQL sends one notification per distinct payload per transaction anyway."""
    from flask import current_app, has_app_context

    topic = topic[:_MAX_TOPIC]
    if has_app_context():
        provider = current_app.extensions.get("psc_idp")
        hub = getattr(provider, "wakeups", None)
        if hub is not None:
            session.info.setdefault(_SESSION_KEY, {})[topic] = hub
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_notify(:channel, :topic)"),
                           {"channel": CHANNEL, "topic": topic})


@event.listens_for(Session, "after_commit")
def _deliver_committed(session: Session) -> None:
    pending: dict[str, Any] = session.info.pop(_SESSION_KEY, None) or {}
    for topic, hub in pending.items():
        hub.committed_here(topic)


@event.listens_for(Session, "after_rollback")
def _forget_rolled_back(session: Session) -> None:
    session.info.pop(_SESSION_KEY, None)
