"""``psc_idp.prepared``: a statement run on the driver's cursor reads and writes exactly what
SQLAlchemy's ``Connection.execute`` would, on both backends, inside the request's transaction."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from psc_idp.audit import AuditEvent
from psc_idp.db import db, utcnow
from psc_idp.oidc.models import Interaction
from psc_idp.prepared import Prepared

from .conftest import counted

_T = Interaction.__table__
_INSERT = Prepared(_T.insert())
_SELECT = Prepared(sa.select(*_T.c).where(_T.c.uid == sa.bindparam("u")))
_LABELLED = Prepared(sa.select(_T.c.uid.label("x_uid"), _T.c.data.label("x_data"),
                               _T.c.expires_at.label("x_expires"))
                     .where(_T.c.uid == sa.bindparam("u")))
_UPDATE = Prepared(_T.update().where(_T.c.uid == sa.bindparam("u"),
                                     _T.c.state == sa.bindparam("was"))
                   .values(state=sa.bindparam("now_state")))
_IN_LIST = Prepared(sa.select(_T.c.uid).where(_T.c.uid.in_(sa.bindparam("uids", expanding=True)))
                    .order_by(_T.c.uid))
_AUDIT = Prepared(AuditEvent.__table__.insert())
"""``audit_event.details`` has a Python-side default: left out, SQLAlchemy runs it."""


def _row(uid: str, **changes: object) -> dict[str, object]:
    at = datetime(2026, 12, 7, 1, 2, 3, 456789)
    values: dict[str, object] = {
        "uid": uid, "client_id": "psc-demo-rp", "params": {"scope": "openid", "n": [1, 2]},
        "csrf_token": "c", "browser_binding": "b", "state": "pending", "authenticator": "",
        "data": {"é": "ü", "nested": {"k": None}}, "created_at": at,
        "expires_at": at + timedelta(minutes=5)}
    values.update(changes)
    return values


def test_rows_read_back_as_sqlalchemy_reads_them(make_app):
    app = make_app()
    with app.app_context():
        _INSERT.execute(_row("p-1"))
        db.session.commit()
        ours = _SELECT.execute({"u": "p-1"}).first()
        theirs = db.session.execute(sa.select(*_T.c).where(_T.c.uid == "p-1")).first()
        assert ours._mapping == dict(theirs._mapping)
        assert isinstance(ours.created_at, datetime) and ours.created_at.microsecond == 456789
        assert ours.data == {"é": "ü", "nested": {"k": None}}
        labelled = _LABELLED.execute({"u": "p-1"}).first()
        assert (labelled.x_uid, labelled.x_data["é"]) == ("p-1", "ü")
        assert labelled.x_expires == datetime(2026, 12, 7, 1, 7, 3, 456789)
        assert _SELECT.execute({"u": "absent"}).first() is None
        assert _SELECT.execute({"u": "absent"}).all() == []


def test_row_count_decides_a_guarded_update(make_app):
    app = make_app()
    with app.app_context():
        _INSERT.execute(_row("p-2"))
        assert _UPDATE.execute({"u": "p-2", "was": "pending", "now_state": "done"}).rowcount == 1
        assert _UPDATE.execute({"u": "p-2", "was": "pending", "now_state": "done"}).rowcount == 0
        db.session.commit()
        assert _SELECT.execute({"u": "p-2"}).first().state == "done"


def test_writes_belong_to_the_request_transaction(make_app):
    app = make_app()
    with app.app_context():
        _INSERT.execute([_row("p-3"), _row("p-4")])  # executemany
        db.session.rollback()
        assert _SELECT.execute({"u": "p-3"}).first() is None
        _INSERT.execute(_row("p-5"))
        db.session.commit()
        assert _SELECT.execute({"u": "p-5"}).first() is not None


def test_driver_errors_are_sqlalchemy_errors(make_app):
    app = make_app()
    with app.app_context():
        _INSERT.execute(_row("p-6"))
        db.session.commit()
        with pytest.raises(sa.exc.IntegrityError):
            _INSERT.execute(_row("p-6"))
        db.session.rollback()
        assert _SELECT.execute({"u": "p-6"}).first().uid == "p-6"


def test_listeners_hear_every_statement(make_app):
    app = make_app()
    with counted(app) as statements, app.app_context():
        _INSERT.execute(_row("p-7"))
        _SELECT.execute({"u": "p-7"})
        db.session.commit()
    assert [s.split()[0] for s in statements] == ["INSERT", "SELECT"]


def test_what_the_fast_path_cannot_do_goes_through_sqlalchemy(make_app):
    app = make_app()
    with app.app_context():
        _INSERT.execute([_row("p-8"), _row("p-9")])
        assert [r.uid for r in _IN_LIST.execute({"uids": ["p-9", "p-8", "zz"]})] == \
            ["p-8", "p-9"]
        _AUDIT.execute({"at": utcnow(), "event": "login.success", "outcome": "success",
                        "subject": "", "client_id": "", "request_id": "", "ip": ""})
        db.session.commit()
        details = db.session.scalar(sa.select(AuditEvent.details).order_by(
            AuditEvent.id.desc()).limit(1))
        assert details == {}


def test_the_connection_is_remembered_per_transaction(make_app):
    from psc_idp.prepared import request_connection

    app = make_app()
    with app.app_context():
        first = request_connection()
        assert request_connection() is first is db.session.connection()
        _INSERT.execute(_row("p-10"))
        db.session.rollback()  # a new transaction asks the session again
        assert _SELECT.execute({"u": "p-10"}).first() is None
        assert request_connection() is db.session.connection()
        _INSERT.execute(_row("p-11"))
        db.session.commit()
        assert _SELECT.execute({"u": "p-11"}).first() is not None
        with pytest.raises(sa.exc.IntegrityError):
            _INSERT.execute(_row("p-11"))
        db.session.rollback()
        assert _SELECT.execute({"u": "p-11"}).first().uid == "p-11"


def test_a_savepoint_is_emitted_and_rolled_back(make_app):
    app = make_app()
    with app.app_context():
        _INSERT.execute(_row("p-12"))
        with pytest.raises(sa.exc.IntegrityError), db.session.begin_nested():
            _INSERT.execute(_row("p-12"))  # fails inside the savepoint only
        _INSERT.execute(_row("p-13"))  # the outer transaction goes on
        db.session.commit()
        assert {r.uid for r in _IN_LIST.execute({"uids": ["p-12", "p-13"]})} == {"p-12", "p-13"}
