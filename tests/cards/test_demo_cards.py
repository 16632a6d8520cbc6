"""``issue_demo_cards``: the demo's cards (PIN 1234, PUK 12345678), idempotent, one per demo
persona kind (CPS, the staff's CPE/CPA/CDE and the students' CPF present in the directory)."""

from __future__ import annotations

import json

from psc_idp.credentials import card_chip
from psc_idp.credentials.cards import declare_lost, issue_demo_cards, list_cards
from psc_idp.db import db
from psc_idp.directory.models import Professional
from tests.cards.cardkit import CPE_STAFF, GP, STUDENT, add_holders


def test_demo_cards_are_issued_once_and_work(make_app, tmp_path):
    app = make_app()
    add_holders(app)
    with app.app_context():
        first = issue_demo_cards(tmp_path / "cards")
        staff = [p.national_id for p in db.session.scalars(db.select(Professional))
                 if "/" in p.national_id]
    by_holder = {i.card.national_id: i for i in first}
    assert by_holder[GP].card.card_type == "CPS" and by_holder[GP].folder.name == "cps-leroy"
    assert by_holder[STUDENT].card.card_type == "CPF"
    assert by_holder[CPE_STAFF].card.card_type == "CPE"
    assert by_holder[CPE_STAFF].card.structure_technical_id
    assert set(staff) <= set(by_holder)  # every staff identity of the directory has its card
    for issued in first:
        assert (issued.pin, issued.puk) == ("1234", "12345678")
        chip = card_chip.Chip.open(issued.folder)
        assert chip.info()["serial"] == issued.card.serial
    card_chip.Chip.open(by_holder[GP].folder).verify_pin("1234")

    with app.app_context():
        again = issue_demo_cards(tmp_path / "cards")
        assert sorted(i.card.serial for i in again) == sorted(i.card.serial for i in first)
        assert len(list_cards()) == len(first)
        # a demo card declared lost is reissued in its folder at the next init
        declare_lost(by_holder[GP].card.serial)
        third = {i.card.national_id: i for i in issue_demo_cards(tmp_path / "cards")}
    assert third[GP].card.serial != by_holder[GP].card.serial
    meta = json.loads((tmp_path / "cards" / "cps-leroy" / "card.json").read_text())
    assert meta["serial"] == third[GP].card.serial


def test_demo_cards_after_a_database_reset(make_app, tmp_path):
    """The folders outlive the database (a fresh init): stale cards are reissued."""
    app = make_app()
    with app.app_context():
        old = {i.card.national_id: i.card.serial for i in issue_demo_cards(tmp_path / "c")}
    app = make_app()  # wiped and reloaded
    with app.app_context():
        new = {i.card.national_id: i.card.serial for i in issue_demo_cards(tmp_path / "c")}
        assert {c.serial for c in list_cards()} == set(new.values())
    assert set(new) == set(old) and not set(new.values()) & set(old.values())
