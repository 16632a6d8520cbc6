"""Waits are woken by announcements (``psc_idp/wakeups.py``), not by polling: delivered at
commit and never on rollback, heard by another instance through PostgreSQL's NOTIFY, and
heard again after the listener lost its connection. The e-CPS waits (the login's status
long-poll, the phone's long-poll and event stream, the clock moved by the admin API) are
checked with the safety poll pushed to a minute and waits of 20 s: a wait that was not woken
lasts its 20 s, one that was answers in milliseconds; the tests tell the two apart with a wide
margin (under 15 s), not a speed target.
"""

from __future__ import annotations

import threading
import time
import uuid

import psycopg
import pytest
import requests
from sqlalchemy.engine import make_url

from clients.ecps_app.phone import AutoResponder, EcpsPhone
from psc_idp import wakeups
from psc_idp.app import create_app
from psc_idp.db import db
from psc_idp.wakeups import Wakeups, announce
from tests.conftest import PG_ADMIN_URL
from tests.ecps.test_push_login import GP, PIN, ecps_login, move_clock

pytestmark = pytest.mark.usefixtures("keys_dir")


def _topic() -> str:
    return "test." + uuid.uuid4().hex


def _until(predicate, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


# ----------------------------------------------------------------------------- the hub alone
def test_a_subscription_is_woken_by_its_topics_only():
    hub = Wakeups("sqlite://")
    mine, other = _topic(), _topic()
    with hub.subscribe(mine) as subscription, hub.subscribe(other) as bystander:
        hub.deliver([mine])
        assert subscription.wait(5) is True
        assert bystander.wait(0) is False
        # delivered between two waits: kept for the next one, never lost
        hub.deliver([mine])
        assert subscription.wait(0) is True
        assert subscription.wait(0) is False
        hub.wake_all()
        assert subscription.wait(0) is True and bystander.wait(0) is True
    hub.deliver([mine])  # closed: nobody left to wake
    assert subscription.wait(0) is False
    assert hub._subscriptions == {}


def test_sqlite_waits_poll_often_since_other_processes_cannot_be_heard():
    hub = Wakeups("sqlite:///x.db")
    assert not hub.is_postgresql and not hub.hears_other_processes()
    assert hub.poll_interval() == wakeups.SHORT_POLL
    with hub.subscribe(_topic()):
        assert hub._listener is None  # no thread: SQLite has no NOTIFY


# ----------------------------------------------------------------------------- with a database
def test_announcements_are_delivered_at_commit_and_never_on_rollback(make_app):
    app = make_app(demo=False)
    topic = _topic()
    hub = app.extensions["psc_idp"].wakeups
    with app.app_context(), hub.subscribe(topic) as subscription:
        # on PostgreSQL, through NOTIFY once the listener hears; else in this process
        assert _until(lambda: hub.hears_other_processes() == hub.is_postgresql)
        subscription.wait(0)  # the listener's "look again" when it (re)connects
        announce(topic)
        announce(topic)  # once per transaction
        assert subscription.wait(0) is False  # not before the commit
        db.session.commit()
        assert subscription.wait(5) is True
        assert subscription.wait(0.3) is False  # delivered once

        announce(topic)
        db.session.rollback()
        assert subscription.wait(0.5) is False


def test_another_instance_is_woken_through_the_database(make_app, backend):
    first = make_app(demo=False)
    settings = first.extensions["psc_idp"].settings
    second = create_app(mode="test", database_url=settings.database_url,
                        keys_dir=settings.keys_dir, instance_dir=settings.instance_dir,
                        secret_key=settings.secret_key, log_level="WARNING")
    hub = second.extensions["psc_idp"].wakeups
    topic = _topic()
    try:
        with hub.subscribe(topic) as subscription:
            if backend[0] == "sqlite":
                # no NOTIFY: the other instance only looks every SHORT_POLL seconds
                assert not hub.hears_other_processes()
                assert hub.poll_interval() == wakeups.SHORT_POLL
                return
            assert _until(hub.hears_other_processes), "the listener did not start"
            assert hub.poll_interval() == wakeups.SAFETY_POLL
            with first.app_context():
                announce(topic)
                db.session.commit()
            assert subscription.wait(10) is True
    finally:
        hub.close()
        with second.app_context():
            db.engine.dispose()


def test_the_listener_hears_again_after_losing_its_connection():
    hub = Wakeups(PG_ADMIN_URL)
    topic = _topic()
    conninfo = make_url(PG_ADMIN_URL).set(drivername="postgresql").render_as_string(
        hide_password=False)
    try:
        with hub.subscribe(topic) as subscription, psycopg.connect(conninfo,
                                                                   autocommit=True) as conn:
            assert _until(hub.hears_other_processes)
            listener_pids = [row[0] for row in conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE application_name = 'psc-idp wakeups'"
                " AND query LIKE 'LISTEN%' AND pid <> pg_backend_pid()")]
            assert listener_pids
            # ours among them (parallel test processes may listen too): end them all
            for pid in listener_pids:
                conn.execute("SELECT pg_terminate_backend(%s)", (pid,))
            assert subscription.wait(10) is True  # deaf for a while: everyone looks again
            assert _until(hub.hears_other_processes), "the listener did not come back"
            subscription.wait(0)
            conn.execute("SELECT pg_notify(%s, %s)", (wakeups.CHANNEL, topic))
            assert subscription.wait(10) is True
    finally:
        hub.close()
    assert not hub.hears_other_processes()


# ----------------------------------------------------------------------------- the e-CPS waits
@pytest.fixture
def phone(live, tmp_path) -> EcpsPhone:
    phone = EcpsPhone(live.base_url, tmp_path / "phone", GP)
    phone.activate(PIN)
    return phone


WOKEN = 15.0
"""Seconds: a 20 s wait that answers sooner was woken."""


@pytest.fixture
def no_safety_poll(monkeypatch):
    """A wait that nothing wakes lasts its whole 20 s (and then answers "pending")."""
    monkeypatch.setattr(wakeups, "SHORT_POLL", 60.0)
    monkeypatch.setattr(wakeups, "SAFETY_POLL", 60.0)


def test_the_phone_and_the_waiting_page_are_woken(live, phone, no_safety_poll):
    login = ecps_login(live)
    seen: dict[str, list] = {}
    # the phone's long-poll is waiting before the push is sent
    def long_poll() -> None:
        began = time.monotonic()
        seen["long-poll"] = [phone.pending(wait=20), time.monotonic() - began]

    def status() -> None:
        seen["status"] = list(login.status(wait=20))

    watcher = threading.Thread(target=long_poll)
    watcher.start()
    time.sleep(0.5)  # the phone's long-poll is waiting
    login.push()
    watcher.join(25)
    pending, waited = seen["long-poll"]
    assert len(pending) == 1 and waited < WOKEN, seen  # woken by the push
    # Then the page waits, and the phone answers through its event stream (one after the
    # other: a phone that approved before its long-poll looked would find nothing pending).
    page = threading.Thread(target=status)
    page.start()
    time.sleep(0.5)  # the page is waiting
    with AutoResponder(phone, "approve", pin=PIN, transport="stream") as responder:
        page.join(25)  # woken by the stream-driven approval
        [outcome] = responder.wait_for(1, answered=True)
        assert outcome.result["status"] == "approved", outcome
    body, elapsed = seen["status"]
    assert body["status"] == "success" and elapsed < WOKEN, (body, elapsed)
    assert login.finish().status_code == 302


def test_moving_the_clock_wakes_a_waiting_page(live, phone, no_safety_poll):
    login = ecps_login(live)
    login.push()
    threading.Timer(0.5, move_clock, (live, 600)).start()
    body, elapsed = login.status(wait=20)
    assert body["status"] == "failure" and body["challenge"] == "expired", body
    assert elapsed < WOKEN, elapsed


def test_a_revoked_device_ends_its_event_stream(live, phone, no_safety_poll):
    device_id = phone.local_state()["device_id"]
    with requests.get(live.base_url + "/api/mobile/v1/challenges/stream", stream=True,
                      timeout=30, headers={"Authorization": "Bearer " +
                                           phone._load()["device_token"]}) as stream:
        lines = stream.iter_lines(decode_unicode=True)
        assert _next_event(lines)[0] == "challenges"
        threading.Timer(0.3, phone.revoke, (device_id,)).start()
        assert _next_event(lines) == ("end", '{"reason":"device_revoked"}')


def _next_event(lines) -> tuple[str, str]:
    name = data = ""
    for line in lines:
        if line.startswith("event: "):
            name = line[7:]
        elif line.startswith("data: "):
            data = line[6:]
        elif line == "" and name:
            return name, data
    raise AssertionError("the stream ended without an event")
