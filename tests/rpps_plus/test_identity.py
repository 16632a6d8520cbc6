"""The identity key and the paths the parallel tests (``test_identity_race.py``) reach only by
chance, made certain here by letting the look-up miss as a concurrent request would: the
filing index refuses the second waiting request, the validation that loses the creation
matches the person; a matched person adopts the key, a stale key is taken back, decided
requests leave the index; and the migration's backfill (SQLite and PostgreSQL)."""

from __future__ import annotations

import uuid
from datetime import date, datetime

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy import select
from sqlalchemy.orm import Session

from psc_idp.audit import AuditEvent
from psc_idp.db import db
from psc_idp.directory.models import Professional, Structure
from psc_idp.rpps_plus import service
from psc_idp.rpps_plus.identity import identity_key, key_of
from psc_idp.rpps_plus.models import RppsPlusRegistration
from psc_idp.schema import alembic_config
from tests.conftest import PG_ADMIN_URL
from tests.rpps_plus.helpers import (
    AUTHORITY_ID,
    EHPAD,
    IME,
    IME_MANAGER_ID,
    submit,
)

BORN = date(1992, 7, 21)


@pytest.fixture
def app(make_app):
    app = make_app()
    with app.app_context():
        yield app


def count(model: type, **where: str) -> int:
    return db.session.scalar(select(sa.func.count()).select_from(model).filter_by(**where))


def miss_once(monkeypatch: pytest.MonkeyPatch, name: str, empty: object) -> None:
    """``service.<name>`` answers ``empty`` the first time: the other request had not
    committed yet when this one looked."""
    real, calls = getattr(service, name), []

    def once(*args: object) -> object:
        calls.append(args)
        return empty if len(calls) == 1 else real(*args)

    monkeypatch.setattr(service, name, once)


@pytest.mark.one_backend
def test_the_key_folds_names_as_the_matching_rule_does():
    key = identity_key("Martin", "Élodie Anne", BORN, "97128")
    assert len(key) == 64
    assert identity_key(" martin ", "ELODIE", BORN, "97128") == key
    assert identity_key("D’Arc", "Jeanne", BORN, "88160") == identity_key("d'arc", "jeanne",
                                                                           BORN, "88160")
    for other in (identity_key("Martin", "Anne Élodie", BORN, "97128"),
                  identity_key("Martin", "Élodie", date(1992, 7, 22), "97128"),
                  identity_key("Martin", "Élodie", BORN, "97129"),
                  identity_key("Martine", "Élodie", BORN, "97128")):
        assert other != key
    assert identity_key("Martin", "", BORN, "97128") is None
    assert identity_key("Martin", "Élodie", None, "97128") is None


def test_the_filing_index_refuses_what_the_look_up_missed(app, monkeypatch):
    first = submit()
    assert first.identity_key == key_of(first) is not None
    miss_once(monkeypatch, "_pending_for_same_person", None)
    with pytest.raises(service.RppsPlusError) as refused:
        submit(IME, IME_MANAGER_ID, family_name="MARTIN", given_names="elodie")
    assert refused.value.code == "pending_elsewhere" and refused.value.status == 409
    assert "attend déjà la validation" in refused.value.message
    assert count(RppsPlusRegistration) == 1
    assert count(AuditEvent, event="rpps_plus.registration_submitted") == 1


def test_decided_requests_leave_the_filing_index(app):
    service.refuse(submit().uid, "Pièce illisible", decided_by="operator")
    again = submit()  # refused: the person may be filed again
    service.validate(again.uid, decided_by="operator")
    submit(IME, IME_MANAGER_ID)  # validated: another structure may file them
    assert sorted(db.session.scalars(select(RppsPlusRegistration.status))) == [
        "refused", "submitted", "validated"]


def test_the_validation_that_loses_the_creation_matches_the_person(app, monkeypatch):
    first = service.validate(submit().uid, decided_by="operator")
    second = submit(IME, IME_MANAGER_ID, role_code="GENR10")
    miss_once(monkeypatch, "_same_person_query", [])
    done = service.validate(second.uid, decided_by=AUTHORITY_ID, authority=AUTHORITY_ID)
    assert done.professional_id == first.professional_id
    assert count(Professional, source="rpps_plus") == 1
    person = db.session.get(Professional, done.professional_id)
    [practice] = person.practices
    assert sorted(a.structure.technical_id for a in practice.activities) == [EHPAD, IME]
    [event] = [e for e in db.session.scalars(select(AuditEvent).filter_by(
        event="rpps_plus.registration_validated")) if e.details["registration"] == done.uid]
    assert event.details["new_person"] is False


def test_a_matched_person_without_a_key_adopts_it(app):
    # Manon PETIT (demo persona, RPPS+ at the IME, no key) joins the EHPAD.
    registration = submit(family_name="Petit", given_names="Manon", birth_date="1995-11-11",
                          birth_place_code="59350")
    done = service.validate(registration.uid, decided_by="operator")
    person = db.session.get(Professional, done.professional_id)
    assert person.source == "" and person.identity_key == key_of(registration)
    db.session.expire_all()
    assert db.session.get(Professional, done.professional_id).identity_key == \
        key_of(registration)


def test_a_stale_key_is_taken_back(app):
    first = service.validate(submit().uid, decided_by="operator")
    person = db.session.get(Professional, first.professional_id)
    key = person.identity_key
    person.family_name = "DURAND"  # the civil status corrected since (an import)
    db.session.commit()
    second = service.validate(submit(IME, IME_MANAGER_ID).uid, decided_by="operator")
    assert second.professional_id != first.professional_id  # MARTIN is no longer DURAND
    db.session.expire_all()
    assert db.session.get(Professional, first.professional_id).identity_key is None
    assert db.session.get(Professional, second.professional_id).identity_key == key


# ------------------------------------------------------------------------ migration
PREVIOUS = "36756c8c259e"


@pytest.fixture
def empty_database(backend, tmp_path):
    """A database of its own (the migration goes back and forth on it)."""
    name, _ = backend
    if name == "sqlite":
        yield f"sqlite:///{tmp_path / 'migration.db'}"
        return
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    dbname = f"psc_idp_mig_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{dbname}"'))
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + dbname
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)'))
        admin.dispose()


def migrate(engine: sa.Engine, url: str, step: object, revision: str) -> None:
    cfg = alembic_config(url)
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        step(cfg, revision)


def test_the_migration_keys_the_waiting_requests_oldest_first(empty_database):
    engine = sa.create_engine(empty_database)
    try:
        migrate(engine, empty_database, command.upgrade, PREVIOUS)
        table = sa.table("rpps_plus_registration", *(sa.column(name) for name in (
            "uid", "structure_id", "manager_national_id", "status", "civility_code",
            "family_name", "given_names", "birth_place_code", "practice_family_name",
            "practice_given_name", "contact_email", "contact_mobile", "profession_code",
            "role_code", "decided_by", "refusal_reason")), sa.column("birth_date", sa.Date),
            sa.column("started_on", sa.Date), sa.column("created_at", sa.DateTime))
        with Session(engine) as session:
            structure = Structure(technical_id="FMIGRATION", name="Structure")
            session.add(structure)
            session.flush()
            rows = [("a", "submitted", "Martin", "Élodie Anne"),
                    ("b", "submitted", "MARTIN", "elodie"),  # the old race's duplicate
                    ("c", "validated", "Martin", "Élodie"),
                    ("d", "submitted", "Bernard", "Paul")]
            session.execute(table.insert(), [dict(
                uid=uid, structure_id=structure.id, manager_national_id="m", status=status,
                civility_code="MME", family_name=family, given_names=given, birth_date=BORN,
                birth_place_code="97128", practice_family_name="", practice_given_name="",
                contact_email="e@example.test", contact_mobile="+33612345678",
                profession_code="313", role_code="GENR11", started_on=date(2025, 1, 6),
                created_at=datetime(2025, 1, 1), decided_by="", refusal_reason="")
                for uid, status, family, given in rows])
            session.commit()
        migrate(engine, empty_database, command.upgrade, "head")
        with engine.connect() as conn:
            keys = dict(conn.execute(sa.text(
                "SELECT uid, identity_key FROM rpps_plus_registration")).all())
            assert keys == {"a": identity_key("Martin", "Élodie", BORN, "97128"), "b": None,
                            "c": None, "d": identity_key("Bernard", "Paul", BORN, "97128")}
            assert conn.execute(sa.text("SELECT identity_key FROM professional")).all() == []
        with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
            conn.execute(sa.text("UPDATE rpps_plus_registration SET identity_key = :k "
                                 "WHERE uid = 'b'"), {"k": keys["a"]})
        with engine.begin() as conn:  # a decided row is outside the index
            conn.execute(sa.text("UPDATE rpps_plus_registration SET identity_key = :k "
                                 "WHERE uid = 'c'"), {"k": keys["a"]})
        migrate(engine, empty_database, command.downgrade, PREVIOUS)
        migrate(engine, empty_database, command.upgrade, "head")
    finally:
        engine.dispose()
