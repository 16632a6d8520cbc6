"""The per-process client cache (``oidc/client_cache.py``): served without a SELECT, every
change seen at once by the process that made it and by another instance within a bounded
wait, no stale read while the listener is deaf, a stampede, bounded memory."""

from __future__ import annotations

import dataclasses
import threading
from typing import Any

import pytest
from flask import Flask, g

from psc_idp.admin.clients import remove_client, update_client
from psc_idp.db import db
from psc_idp.oidc.client_cache import ClientCache, ClientView, cache_of
from psc_idp.oidc.models import Client
from psc_idp.oidc.server import query_client

from .conftest import hearing, wait_until

DEMO = "psc-demo-rp"
DEMO_SECRET = "demo-rp-secret"  # noqa: S105 (the documented demo secret)


def lookup(app: Flask, client_id: str = DEMO) -> ClientView | None:
    """``query_client`` as one request does it (its own app context and session)."""
    with app.app_context():
        return query_client(client_id)


def change(app: Flask, client_id: str = DEMO, **changes: Any) -> None:
    with app.app_context():
        update_client(client_id, changes, app.extensions["psc_idp"].settings, source="test")
        db.session.commit()


def test_a_cached_client_is_served_without_a_select(make_app, statement_log):
    app = make_app()
    hearing(app)
    log = statement_log(app)
    first = lookup(app)
    assert first is not None and first.client_id == DEMO
    log.recording = True
    again = [lookup(app) for _ in range(5)]
    log.recording = False
    assert log.client_selects() == []
    assert all(view is first for view in again)  # the same frozen object, shared
    assert len(cache_of(app)) == 1


def test_the_view_behaves_as_the_model(make_app):
    app = make_app()
    view = lookup(app)
    with app.app_context():
        model = db.session.get(Client, DEMO)
        for uri in (*model.redirect_uris, "https://elsewhere.example/cb"):
            assert view.check_redirect_uri(uri) == model.check_redirect_uri(uri)
        assert view.get_default_redirect_uri() == model.get_default_redirect_uri()
        assert view.get_allowed_scope("openid scope_all nope") == \
            model.get_allowed_scope("openid scope_all nope")
        for method in ("client_secret_basic", "client_secret_post", "none", "private_key_jwt"):
            assert view.check_endpoint_auth_method(method, "token") == \
                model.check_endpoint_auth_method(method, "token")
        for grant in ("authorization_code", "refresh_token", "password"):
            assert view.check_grant_type(grant) == model.check_grant_type(grant)
        assert view.is_public is model.is_public is False
        assert view.authenticates_by_certificate is model.authenticates_by_certificate
        assert view.check_client_secret(DEMO_SECRET) and not view.check_client_secret("wrong")
        assert list(view.redirect_uris) == model.redirect_uris
    with pytest.raises(dataclasses.FrozenInstanceError):
        view.name = "changed"  # type: ignore[misc]


def test_the_jwks_is_a_copy(make_app):
    app = make_app()
    keys = {"keys": [{"kty": "oct", "k": "AAAA"}]}
    with app.app_context():
        db.session.get(Client, DEMO).jwks = keys
        db.session.commit()
    view = lookup(app)
    handed = view.jwks
    assert handed == keys
    handed["keys"].clear()
    assert view.jwks == keys


def test_update_remove_and_secret_change_are_seen_at_once_here(make_app, statement_log):
    app = make_app()
    hearing(app)
    assert lookup(app).name != "Renamed"
    change(app, name="Renamed", redirect_uris=["https://rp.example/new"])
    seen = lookup(app)
    assert seen.name == "Renamed" and seen.check_redirect_uri("https://rp.example/new")

    change(app, client_secret="a-new-secret")  # noqa: S106
    seen = lookup(app)
    assert seen.check_client_secret("a-new-secret") and not seen.check_client_secret(DEMO_SECRET)

    with app.app_context():  # a direct ORM change (as a test or a future admin page makes)
        db.session.get(Client, DEMO).consent_required = True
        db.session.commit()
    assert lookup(app).consent_required is True

    with app.app_context():
        assert remove_client(DEMO)
        db.session.commit()
    assert lookup(app) is None


def test_a_session_sees_its_own_uncommitted_change_and_shares_none(make_app):
    app = make_app()
    before = lookup(app)
    with app.app_context():
        db.session.get(Client, DEMO).name = "Pending"  # not flushed
        assert query_client(DEMO).name == "Pending"
        db.session.flush()
        g.pop("psc_clients")  # the request's memo: ask again, after the flush
        assert query_client(DEMO).name == "Pending"
        db.session.expunge_all()  # flushed and no longer in the session: read on its connection
        g.pop("psc_clients")
        assert query_client(DEMO).name == "Pending"
        assert len(cache_of(app)) <= 1 and cache_of(app)._entries.get(DEMO, (before,))[0] \
            is before
        db.session.rollback()
    assert lookup(app).name == before.name  # the rolled-back name was never shared
    with app.app_context():
        db.session.delete(db.session.get(Client, DEMO))
        assert query_client(DEMO) is None
        db.session.rollback()
    assert lookup(app) is not None


def test_another_instance_sees_a_cli_update_within_a_bounded_wait(make_app, other_instance,
                                                                 run_cli, keys_dir):
    """Two instances on one database; ``psc-idp client update`` (a third process, here
    in-process with its own app) renames the client: both drop their copy (PostgreSQL: the
    NOTIFY; SQLite: within the 1 s TTL)."""
    first = make_app()
    second = other_instance()
    hearing(first)
    hearing(second)
    assert lookup(first).name == lookup(second).name != "Via CLI"
    run_cli(keys_dir, "client", "update", DEMO, "--name", "Via CLI")
    for app in (first, second):
        assert wait_until(lambda app=app: lookup(app).name == "Via CLI", 5.0)


def test_removal_in_another_instance_is_seen(make_app, other_instance):
    first = make_app()
    second = other_instance()
    hearing(first)
    hearing(second)
    assert lookup(first) is not None
    with second.app_context():
        assert remove_client(DEMO)
        db.session.commit()
    assert lookup(second) is None  # at once where it was made
    assert wait_until(lambda: lookup(first) is None, 5.0)


def test_what_other_processes_change_is_not_served_stale(make_app, other_instance,
                                                         statement_log, backend):
    """PostgreSQL: the listener loses its connection and cannot get it back; changes made
    meanwhile by another instance (whose NOTIFY nobody here hears) are read at once, as the
    cache is bypassed; once the listener is back, nothing kept from before is served.
    SQLite (no listener): another process's change is seen within the 1 s TTL."""
    first = make_app()
    second = other_instance()
    if backend[0] == "sqlite":
        _sqlite_ttl(first, second)
        return
    import sqlalchemy as sa

    hearing(first)
    hub = first.extensions["psc_idp"].wakeups
    cache = cache_of(first)
    assert lookup(first).name != "While deaf"
    good_conninfo = hub._conninfo
    hub._conninfo = "postgresql://postgres@127.0.0.1:1/unreachable"  # reconnecting fails
    with second.app_context():
        db.session.execute(sa.text(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name = 'psc-idp wakeups' AND datname = current_database()"))
        db.session.commit()
    assert wait_until(lambda: not hub.hears_other_processes(), 5.0)
    assert not cache.serving() and len(cache) == 0
    change(second, name="While deaf")
    log = statement_log(first)
    log.recording = True
    assert lookup(first).name == "While deaf"
    assert lookup(first).name == "While deaf"
    log.recording = False
    assert len(log.client_selects()) == 2  # bypassed: read each time

    change(second, name="Still deaf")  # its NOTIFY is lost for the first instance
    hub._conninfo = good_conninfo
    assert wait_until(hub.hears_other_processes, 15.0)
    assert lookup(first).name == "Still deaf"
    log.statements.clear()
    log.recording = True
    assert lookup(first).name == "Still deaf"
    log.recording = False
    assert log.client_selects() == []  # served from the cache again


def _sqlite_ttl(first: Flask, second: Flask) -> None:
    cache = cache_of(first)
    assert cache.serving() and cache.ttl <= 1.0
    lookup(first)
    change(second, name="From elsewhere")
    assert wait_until(lambda: lookup(first).name == "From elsewhere", 3.0)


def test_a_stampede_of_first_calls(make_app, other_instance):
    """Parallel first calls of one client (each its own request) all get the client, and
    the cache ends with one entry; the same while another instance keeps changing it."""
    app = make_app()
    second = other_instance()
    hearing(app)
    threads, results, errors = 16, [], []
    barrier = threading.Barrier(threads + 1)

    def call() -> None:
        try:
            barrier.wait()
            for _ in range(5):
                results.append(lookup(app))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    workers = [threading.Thread(target=call) for _ in range(threads)]
    for worker in workers:
        worker.start()
    barrier.wait()
    change(second, name="During the stampede")
    for worker in workers:
        worker.join(30)
    assert not errors
    assert len(results) == threads * 5 and all(r is not None for r in results)
    assert {r.client_id for r in results} == {DEMO}
    assert len(cache_of(app)) <= 1
    assert wait_until(lambda: lookup(app).name == "During the stampede", 5.0)


def test_unknown_client_ids_take_no_memory(make_app):
    app = make_app()
    for n in range(300):
        assert lookup(app, f"invented-{n}") is None
    assert len(cache_of(app)) == 0


def test_bounded_and_a_fill_racing_a_change_is_not_kept():
    class Hub:
        is_postgresql = False

        def on_topic(self, prefix, callback):
            self.callback = callback

        def on_hearing_change(self, callback):
            pass

    hub = Hub()
    cache = ClientCache(hub, max_entries=3)  # type: ignore[arg-type]

    def view(client_id: str) -> ClientView:
        return ClientView(client_id, client_id, "", "none", (), (), (), "", "", "", "", False,
                          "", False, "", False, "", "", "", "", False)

    for n in range(10):
        cache.get(f"c{n}", view)
    assert len(cache) <= 3

    def racing(client_id: str) -> ClientView:
        hub.callback(f"client:{client_id}")  # the change is announced during the read
        return view(client_id)

    cache.clear()
    cache.get("raced", racing)
    assert len(cache) == 0
    cache.get("calm", view)
    hub.callback("clients")
    assert len(cache) == 0
