"""The counter itself: a statement added on a request thread counts (through SQLAlchemy and,
on PostgreSQL, psycopg used directly); statements of other threads do not."""

from __future__ import annotations

import threading

import sqlalchemy as sa

from benchmarks.statements import Login, measure
from psc_idp.db import db


def test_an_added_statement_counts_and_other_threads_do_not(login: Login, backend):
    app = login.app
    added = {"on": False}
    stop = threading.Event()

    def background() -> None:  # a thread of the app's own (dispatcher, listener…): not counted
        with app.app_context():
            while not stop.is_set():
                db.session.execute(sa.text("SELECT 2"))
                db.session.commit()
                stop.wait(0.005)

    @app.before_request
    def one_more() -> None:
        if added["on"]:
            db.session.execute(sa.text("SELECT 1"))
            if backend[0] == "postgresql":  # psycopg directly, under SQLAlchemy's transaction
                raw = db.session.connection().connection.dbapi_connection
                raw.cursor().execute("SELECT 3")

    base = measure(login, "code_autologin")
    added["on"] = True
    thread = threading.Thread(target=background)
    thread.start()
    try:
        more = measure(login, "code_autologin")
    finally:
        stop.set()
        thread.join(timeout=5)
    requests = sum(e.requests for e in base.endpoints.values())
    per_request = 2 if backend[0] == "postgresql" else 1
    assert requests == 3
    assert more.statements == base.statements + per_request * requests, more.report()
    assert more.round_trips == base.round_trips + per_request * requests, more.report()
    counted = [s for e in more.endpoints.values() for s in e.statements]
    assert counted.count("SELECT 1") == requests and "SELECT 2" not in counted
    assert counted.count("SELECT 3") == (requests if backend[0] == "postgresql" else 0)
