"""``db.read_only_request``: a read-only request's statements run without a transaction on
PostgreSQL (no BEGIN, no COMMIT), and the pooled connection is a normal one again after."""

from __future__ import annotations

import sqlalchemy as sa

from psc_idp.db import db, read_only_request

from .conftest import counted


def test_reads_run_in_autocommit_then_the_connection_is_reset(make_app, backend):
    app = make_app()
    with app.test_request_context(), counted(app) as statements:
        read_only_request()
        assert db.session.execute(sa.text("SELECT 41 + 1")).scalar() == 42
        raw = db.session.connection().connection.dbapi_connection
        if backend[0] == "postgresql":
            assert raw.autocommit is True
            assert raw.info.transaction_status == 0  # IDLE: no BEGIN was sent
        db.session.commit()
        db.session.remove()
    assert statements[-1] == "SELECT 41 + 1"
    with app.app_context():
        raw = db.session.connection().connection.dbapi_connection
        if backend[0] == "postgresql":
            assert raw.autocommit is False  # the pool's next user gets a transaction again
        db.session.remove()


def test_once_a_transaction_is_open_it_changes_nothing(make_app, backend):
    app = make_app()
    with app.test_request_context():
        db.session.execute(sa.text("SELECT 1"))
        read_only_request()  # too late: the request keeps its transaction
        raw = db.session.connection().connection.dbapi_connection
        if backend[0] == "postgresql":
            assert raw.autocommit is False
        db.session.remove()
