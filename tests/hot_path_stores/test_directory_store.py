"""``directory.store``: a professional in plain objects, in one or two statements, giving the
same claims as the ORM models did."""

from __future__ import annotations

import dataclasses

import pytest
from sqlalchemy import select

from psc_idp.claims import SHAPES, build_userinfo, other_ids
from psc_idp.db import db
from psc_idp.directory import store
from psc_idp.directory.lookup import get_professional, login_refusal
from psc_idp.directory.models import Professional

from .conftest import counted

TWO_SITUATIONS = "810099900028"


def _id_of(app, national_id: str) -> int:
    with app.app_context():
        return db.session.scalar(select(Professional.id).filter_by(national_id=national_id))


def test_whole_professional_in_two_statements(make_app):
    app = make_app()
    pid = _id_of(app, TWO_SITUATIONS)
    with counted(app) as statements, app.app_context():
        person = store.whole_professional(pid)
    assert len(statements) <= 2
    assert person is not None and person.national_id == TWO_SITUATIONS
    assert len(person.practices) >= 1
    assert sum(len(p.activities) for p in person.practices) >= 2  # the two situations
    with pytest.raises(dataclasses.FrozenInstanceError):
        person.national_id = "x"  # type: ignore[misc]


def test_professional_with_identifiers_in_one_statement(make_app):
    app = make_app()
    pid = _id_of(app, TWO_SITUATIONS)
    with counted(app) as statements, app.app_context():
        person = store.professional(pid)
    assert len(statements) == 1
    assert person is not None and person.practices is None  # not loaded, and says so
    with app.app_context():
        assert other_ids(person) == other_ids(get_professional(pid))


def test_unknown_professional_is_none(make_app):
    app = make_app()
    with app.app_context():
        assert store.professional(-1) is None
        assert store.whole_professional(-1) is None


def test_same_userinfo_and_refusal_as_the_models_for_every_demo_person(make_app):
    """The plain objects carry what claims/ reads: every demo person's userinfo, in both
    shapes, is the one the ORM objects give, and so is ``login_refusal``."""
    app = make_app()
    with app.app_context():
        ids = db.session.scalars(select(Professional.id)).all()
        assert len(ids) > 5
        for pid in ids:
            orm = get_professional(pid, whole=True)
            plain = store.whole_professional(pid)
            assert login_refusal(plain) == login_refusal(orm)
            for shape in SHAPES:
                expected = build_userinfo(orm, sub="s", auth_mode="CARD",
                                          scopes={"openid", "scope_all"}, shape=shape)
                assert build_userinfo(plain, sub="s", auth_mode="CARD",
                                      scopes={"openid", "scope_all"}, shape=shape) == expected
