"""The registered clients, kept in each process so a login does not read its client 4–8 times.

A login asks for its client at every step (authorize, login, token, userinfo…); each ORM read
cost ~0.5 ms of CPU. ``ClientCache`` keeps one ``ClientView`` per client id: a frozen copy of
the row (tuples for lists, the JWKS as JSON text handed out as a fresh dict), with the
``Client`` model's own Authlib methods, so it can be shared by every thread without an ORM
session. Nothing is written through it: the admin code changes ``Client`` rows with the ORM.

Invalidation (docs/caching.md):

- every ORM insert, update or delete of a ``Client`` (``client add/update/remove``, secret
  changes, the RPPS+ portal's self-registration, a test's direct change) announces
  ``client:<id>`` in the same transaction (mapper events below, ``wakeups.announce_in_flush``);
  an ORM bulk UPDATE/DELETE on the model announces ``clients`` (everything). A Core statement
  on ``oidc_client`` must call ``announce_change`` itself;
- the process that commits drops the entry at once (``after_commit``); every other process
  (PostgreSQL) when its listener hears the NOTIFY;
- PostgreSQL with the listener down or not yet connected: the cache is bypassed (every request
  reads the row), and it is emptied when the listener connects or disconnects (what was
  announced while deaf was never heard). Entries also expire after ``SAFETY_TTL`` seconds: a
  change made by hand in SQL is seen within that time;
- SQLite (no NOTIFY): entries live ``SQLITE_TTL`` seconds, so a change made by another process
  (the CLI, another gunicorn worker) is seen within that time; this process's own changes at
  once.

A fill that started before an invalidation is not stored (a generation counter): a row read
just before a change committed cannot outlive the change's announcement. Unknown client ids are
not cached (a flood of invented ids costs a SELECT each, as before, and no memory); known ones
are bounded by ``MAX_ENTRIES``. A session that holds its own uncommitted change of a client
sees that change, never the cache's copy (and its reads are not stored).
"""

from __future__ import annotations

import json
import os
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from authlib.oauth2.rfc6749 import ClientMixin
from sqlalchemy import event
from sqlalchemy.orm import Session, object_session
from sqlalchemy.orm.util import identity_key

from ..wakeups import Wakeups, announce_in_flush
from .models import Client

TOPIC_PREFIX = "client"
"""``client:<id>`` drops one client; ``clients`` drops them all."""
ALL = "clients"
SQLITE_TTL = 1.0
"""Seconds a client is kept on SQLite, where other processes' changes cannot be heard."""
SAFETY_TTL = 60.0
"""Seconds a client is kept on PostgreSQL with the listener up (changes are heard at once;
this bounds what a change made outside psc-idp, by hand in SQL, can be missed)."""
MAX_ENTRIES = 5_000
_EXTENSION = "psc_idp.client_cache"


@dataclass(frozen=True, slots=True)
class ClientView(ClientMixin):
    """A registered client as read at one moment: the ``Client`` columns and the model's own
    methods (the same code decides redirect URIs, scopes, secrets and methods)."""

    client_id: str
    name: str
    client_secret_hash: str
    token_endpoint_auth_method: str
    redirect_uris: tuple[str, ...]
    post_logout_redirect_uris: tuple[str, ...]
    grant_types: tuple[str, ...]
    scope: str
    jwks_uri: str
    jwks_json: str
    userinfo_signed_response_alg: str
    test_autologin: bool
    backchannel_logout_uri: str
    backchannel_logout_session_required: bool
    frontchannel_logout_uri: str
    consent_required: bool
    fidelity_profile: str
    userinfo_shape: str
    tls_client_auth_subject_dn: str
    tls_client_auth_san: str
    tls_client_certificate_bound_access_tokens: bool
    created_at: datetime | None = field(default=None)

    @property
    def jwks(self) -> dict[str, Any] | None:
        """A fresh copy each time: a caller may change what it gets."""
        return json.loads(self.jwks_json) if self.jwks_json else None

    # the model's Authlib ClientMixin methods and properties, shared rather than copied
    get_client_id = Client.get_client_id
    get_default_redirect_uri = Client.get_default_redirect_uri
    get_allowed_scope = Client.get_allowed_scope
    check_redirect_uri = Client.check_redirect_uri
    check_client_secret = Client.check_client_secret
    check_endpoint_auth_method = Client.check_endpoint_auth_method
    check_response_type = Client.check_response_type
    check_grant_type = Client.check_grant_type
    authenticates_by_certificate = Client.__dict__["authenticates_by_certificate"]
    is_public = Client.__dict__["is_public"]

    @classmethod
    def from_row(cls, row: Any) -> ClientView:
        """From a ``Client`` instance or a row of ``oidc_client`` (same attribute names)."""
        jwks = row.jwks
        return cls(
            client_id=row.client_id, name=row.name or "",
            client_secret_hash=row.client_secret_hash or "",
            token_endpoint_auth_method=row.token_endpoint_auth_method,
            redirect_uris=tuple(row.redirect_uris or ()),
            post_logout_redirect_uris=tuple(row.post_logout_redirect_uris or ()),
            grant_types=tuple(row.grant_types or ()), scope=row.scope or "",
            jwks_uri=row.jwks_uri or "", jwks_json=json.dumps(jwks) if jwks else "",
            userinfo_signed_response_alg=row.userinfo_signed_response_alg or "",
            test_autologin=bool(row.test_autologin),
            backchannel_logout_uri=row.backchannel_logout_uri or "",
            backchannel_logout_session_required=bool(row.backchannel_logout_session_required),
            frontchannel_logout_uri=row.frontchannel_logout_uri or "",
            consent_required=bool(row.consent_required),
            fidelity_profile=row.fidelity_profile or "", userinfo_shape=row.userinfo_shape or "",
            tls_client_auth_subject_dn=row.tls_client_auth_subject_dn or "",
            tls_client_auth_san=row.tls_client_auth_san or "",
            tls_client_certificate_bound_access_tokens=bool(
                row.tls_client_certificate_bound_access_tokens),
            created_at=row.created_at)


_COLUMNS = [name for name in (f.name for f in fields(ClientView)) if name != "jwks_json"]
_TABLE = Client.__table__
_SELECT = sa.select(*[_TABLE.c[name] for name in _COLUMNS] + [_TABLE.c.jwks]) \
    .where(_TABLE.c.client_id == sa.bindparam("client_id"))


def read_client(session: Session, client_id: str) -> ClientView | None:
    """One client from the database, on the session's connection (its transaction)."""
    row = session.connection().execute(_SELECT, {"client_id": client_id}).first()
    return ClientView.from_row(row) if row is not None else None


class ClientCache:
    """One app's clients in this process (see the module's docstring for the rules)."""

    def __init__(self, hub: Wakeups, *, max_entries: int = MAX_ENTRIES):
        self.hub = hub
        self.ttl = SAFETY_TTL if hub.is_postgresql else SQLITE_TTL
        self.max_entries = max_entries
        self._entries: dict[str, tuple[ClientView, float]] = {}
        self._generation = 0
        self._lock = threading.Lock()
        hub.on_topic(TOPIC_PREFIX, self._heard)
        hub.on_hearing_change(lambda _hearing: self.clear())
        _caches.add(self)

    def _after_fork(self) -> None:
        """A forked worker: a fresh lock (the parent's may have been held at the fork) and
        nothing the parent read (the worker hears nothing until its own listener connects)."""
        self._lock = threading.Lock()
        self._entries = {}
        self._generation += 1

    # ---------------------------------------------------------------- reading
    def serving(self) -> bool:
        """Whether entries may be served now: always on SQLite (bounded by its TTL); on
        PostgreSQL only while the listener hears the other processes."""
        if not self.hub.is_postgresql:
            return True
        self.hub.ensure_listening()
        return self.hub.hears_other_processes()

    def get(self, client_id: str, load: Callable[[str], ClientView | None]
            ) -> ClientView | None:
        if not self.serving():
            return load(client_id)
        now = time.monotonic()
        entry = self._entries.get(client_id)
        if entry is not None and now - entry[1] < self.ttl:
            return entry[0]
        generation = self._generation
        view = load(client_id)
        if view is not None:
            with self._lock:
                if self._generation == generation:  # no change announced since the read
                    if len(self._entries) >= self.max_entries:
                        self._entries.clear()
                    self._entries[client_id] = (view, now)
        return view

    # ---------------------------------------------------------------- invalidation
    def forget(self, client_id: str) -> None:
        with self._lock:
            self._generation += 1
            self._entries.pop(client_id, None)

    def clear(self) -> None:
        with self._lock:
            self._generation += 1
            self._entries.clear()

    def _heard(self, topic: str) -> None:
        if topic.startswith(TOPIC_PREFIX + ":"):
            self.forget(topic[len(TOPIC_PREFIX) + 1:])
        elif topic == ALL:
            self.clear()

    def __len__(self) -> int:
        return len(self._entries)


_caches: weakref.WeakSet[ClientCache] = weakref.WeakSet()


def _forked() -> None:
    for cache in list(_caches):
        cache._after_fork()


os.register_at_fork(after_in_child=_forked)


def install(app: Any) -> ClientCache:
    """The app's cache, created once (``oidc.server``)."""
    cache = app.extensions.get(_EXTENSION)
    if cache is None:
        cache = ClientCache(app.extensions["psc_idp"].wakeups)
        app.extensions[_EXTENSION] = cache
    return cache


def cache_of(app: Any) -> ClientCache | None:
    return app.extensions.get(_EXTENSION)


def own_version(session: Session, client_id: str) -> tuple[bool, ClientView | None]:
    """``(True, its version)`` if this session holds its own uncommitted change of
    ``client_id`` (its version: None if it deleted the client); ``(False, None)`` else, and
    the cache may serve."""
    changed = session.info.get(_DIRTY_KEY)
    flushed = bool(changed) and (client_id in changed or "*" in changed)
    instance = session.identity_map.get(identity_key(Client, client_id)) \
        if len(session.identity_map) else None
    if instance is not None:
        if instance in session.deleted or sa.inspect(instance).deleted:
            return True, None
        state = sa.inspect(instance)
        if flushed or state.pending or state.modified:
            return True, ClientView.from_row(instance)
        return False, None
    if flushed:
        return True, read_client(session, client_id)
    return False, None


# ----------------------------------------------------------------------------- announcements
_DIRTY_KEY = "psc_idp_clients_changed"
"""Client ids this session's transaction changed (flushed, not yet committed)."""


def announce_change(client_id: str | None = None) -> None:
    """For a Core statement on ``oidc_client`` (the ORM's changes announce themselves): drop
    ``client_id`` (or every client) in every process once this transaction commits."""
    from ..db import db
    from ..wakeups import announce

    db.session.info.setdefault(_DIRTY_KEY, set()).add(client_id or "*")
    announce(f"{TOPIC_PREFIX}:{client_id}" if client_id else ALL)


def _changed(_mapper: Any, connection: sa.Connection, target: Client) -> None:
    session = object_session(target)
    if session is None:
        return
    session.info.setdefault(_DIRTY_KEY, set()).add(target.client_id)
    announce_in_flush(session, connection, f"{TOPIC_PREFIX}:{target.client_id}")


for _event in ("after_insert", "after_update", "after_delete"):
    event.listen(Client, _event, _changed)


@event.listens_for(Session, "after_bulk_update")
@event.listens_for(Session, "after_bulk_delete")
def _bulk_changed(context: Any) -> None:
    mapper = getattr(context, "mapper", None)
    if mapper is not None and mapper.class_ is Client:
        session = context.session
        session.info.setdefault(_DIRTY_KEY, set()).add("*")
        announce_in_flush(session, session.connection(), ALL)


@event.listens_for(Session, "after_commit")
@event.listens_for(Session, "after_rollback")
def _transaction_ended(session: Session) -> None:
    session.info.pop(_DIRTY_KEY, None)
