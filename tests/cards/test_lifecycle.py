"""Card lifecycle on the issuer's side, with real certificates and the real database: issue
(each type and its rules), renewal keeping the codes, a lost card refused at once, replacement
with new codes, and the status changes holding under concurrency."""

from __future__ import annotations

import json
import os
import stat
import threading
from pathlib import Path

import pytest
from cryptography import x509

from psc_idp.audit import AuditEvent
from psc_idp.credentials import card_chip
from psc_idp.credentials.card_check import CardRefused, check_presented_card
from psc_idp.credentials.cards import (
    CardError,
    card_json,
    declare_lost,
    get_card,
    list_cards,
    renew_card,
    replace_card,
)
from psc_idp.db import db
from psc_idp.pki.models import IssuedCertificate
from tests.cards.cardkit import (
    CDE_STAFF,
    CPA_STAFF,
    CPE_STAFF,
    GP,
    HOSPITAL,
    PHARMACY,
    PIN,
    PUK,
    RPPS_PLUS,
    STUDENT,
    holders_app,  # noqa: F401 (the `app` fixture)
    issue,
    settings_of,
)


def _events(app, name):
    with app.app_context():
        return list(db.session.scalars(db.select(AuditEvent).filter_by(event=name)))


def _check(app, folder: Path):
    chip = card_chip.Chip.open(folder)
    with app.app_context():
        return check_presented_card(chip.certificate_chain(), settings_of(app))


def test_issue_writes_a_card_folder_and_a_card_row(app, tmp_path):
    issued = issue(app, tmp_path / "card")
    folder = tmp_path / "card"
    assert issued.folder == folder and issued.pin is None and issued.puk is None
    assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700
    for name in ("auth.key", "sign.key", "chip.json"):
        assert stat.S_IMODE(os.stat(folder / name).st_mode) == 0o600, name
    chip_text = (folder / "chip.json").read_text()
    assert PIN not in chip_text and PUK not in chip_text
    meta = json.loads((folder / "card.json").read_text())
    assert meta["serial"] == issued.card.serial and len(meta["serial"]) == 10
    assert meta["type"] == "CPS" and meta["national_id"] == GP
    assert meta["holder"]["family_name"] == "LEROY"
    # the keys are encrypted PKCS#8 and the certificates chain to the root
    assert b"ENCRYPTED PRIVATE KEY" in (folder / "auth.key").read_bytes()
    auth = x509.load_pem_x509_certificates((folder / "auth.crt").read_bytes())
    sign = x509.load_pem_x509_certificates((folder / "sign.crt").read_bytes())
    assert len(auth) == 3 and len(sign) == 3 and auth[0] != sign[0]
    assert auth[0].subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value == GP
    with app.app_context():
        card = get_card(issued.card.serial)
        assert card.status == "active" and card.folder == str(folder)
        lifetime = (card.not_after - card.not_before).days
        assert lifetime in (1094, 1095)  # 3 years (settings.cards.lifetime_days)
        rows = db.session.scalars(db.select(IssuedCertificate).filter_by(
            card_serial=card.serial)).all()
        assert sorted(r.kind for r in rows) == ["card_auth", "card_sign"]
        assert card_json(card)["status"] == "active"
    checked = _check(app, folder)
    assert checked.national_id == GP and checked.card_type == "CPS"
    [row] = _events(app, "card.issued")
    assert row.subject == GP and row.details["card_serial"] == issued.card.serial


def test_generated_codes_are_returned_once_and_work(app, tmp_path):
    from psc_idp.credentials.cards import issue_card

    with app.app_context():
        issued = issue_card(national_id=GP, out=tmp_path / "gen")
    assert len(issued.pin) == 4 and issued.pin.isdigit()
    assert len(issued.puk) == 8 and issued.puk.isdigit()
    chip = card_chip.Chip.open(tmp_path / "gen")
    chip.verify_pin(issued.pin)
    chip.unblock(issued.puk, "9876")
    chip.verify_pin("9876")


@pytest.mark.parametrize(("national_id", "card_type", "structure"), [
    (STUDENT, "CPF", None),
    (CPE_STAFF, "CPE", HOSPITAL),
    (CPA_STAFF, "CPA", PHARMACY),
    (CDE_STAFF, "CDE", HOSPITAL),
])
def test_each_card_type(app, tmp_path, national_id, card_type, structure):
    issued = issue(app, tmp_path / "c", national_id, card_type, structure)
    assert issued.card.card_type == card_type
    assert issued.card.structure_technical_id == (structure or "")
    checked = _check(app, tmp_path / "c")
    assert (checked.national_id, checked.card_type) == (national_id, card_type)
    assert checked.structure_technical_id == (structure or "")
    if structure:
        auth = card_chip.Chip.open(tmp_path / "c").certificate()
        units = auth.subject.get_attributes_for_oid(x509.NameOID.ORGANIZATIONAL_UNIT_NAME)
        assert [u.value for u in units] == [structure]


@pytest.mark.parametrize(("national_id", "card_type", "structure", "words"), [
    ("899999999999", "CPS", None, "annuaire"),
    (GP, "CPE", HOSPITAL, "personnel de structure"),
    (CPE_STAFF, "CPE", None, "--structure"),
    (CPE_STAFF, "CPS", None, "8+RPPS"),
    (CPE_STAFF, "CPE", "F0B9999999", "Aucune structure"),
    (CPE_STAFF, "CPE", PHARMACY, "pas d'activité dans la structure"),
    (GP, "CPF", None, "étudiants"),
    (STUDENT, "CPS", None, "CPF"),
    (RPPS_PLUS, "CPS", None, "RPPS+"),
    (GP, "XYZ", None, "Type de carte"),
])
def test_issue_rules(app, tmp_path, national_id, card_type, structure, words):
    with pytest.raises(CardError, match=words.replace("+", r"\+")):
        issue(app, tmp_path / "c", national_id, card_type, structure)
    assert not (tmp_path / "c").exists()
    [row] = _events(app, "card.operation_refused")
    assert row.outcome == "failure" and row.details["operation"] == "issue"
    with app.app_context():
        assert list_cards() == []


@pytest.mark.parametrize(("pin", "puk"), [("123", PUK), ("12a4", PUK), (PIN, "1234567"),
                                         (PIN, "1234567x")])
def test_code_formats(app, tmp_path, pin, puk):
    with pytest.raises(CardError, match="chiffres"):
        issue(app, tmp_path / "c", pin=pin, puk=puk)


def test_a_non_empty_folder_is_refused(app, tmp_path):
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "notes.txt").write_text("mine")
    with pytest.raises(CardError, match="pas vide"):
        issue(app, tmp_path / "c")
    assert (tmp_path / "c" / "notes.txt").read_text() == "mine"
    issue(app, tmp_path / "d")
    with pytest.raises(CardError, match="pas vide"):
        issue(app, tmp_path / "d")


def test_renewal_keeps_the_codes_in_a_new_folder(app, tmp_path):
    old = issue(app, tmp_path / "old")
    card_chip.Chip.open(tmp_path / "old").change_pin(PIN, "4321")
    with app.app_context():
        new = renew_card(old.card.serial, tmp_path / "new")
        assert new.pin is None and new.puk is None
        assert new.card.serial != old.card.serial
        previous = get_card(old.card.serial)
        assert previous.status == "replaced" and previous.replaced_by == new.card.serial
        reasons = {r.serial: r.revocation_reason for r in db.session.scalars(
            db.select(IssuedCertificate).filter_by(card_serial=old.card.serial))}
        assert set(reasons.values()) == {"superseded"}
    chip = card_chip.Chip.open(tmp_path / "new")
    assert chip.info()["serial"] == new.card.serial
    chip.verify_pin("4321")  # the old card's (changed) PIN opens the new card
    chip.unblock(PUK, "1111")  # and its PUK
    assert chip.certificate() != card_chip.Chip.open(tmp_path / "old").certificate()
    assert _check(app, tmp_path / "new").card_serial == new.card.serial
    with pytest.raises(CardRefused) as refused:
        _check(app, tmp_path / "old")
    assert refused.value.reason == "card_replaced"
    assert new.card.serial in refused.value.message_fr
    [row] = _events(app, "card.renewed")
    assert row.details["new_card_serial"] == new.card.serial


def test_renewal_in_place(app, tmp_path):
    old = issue(app, tmp_path / "card")
    chip = card_chip.Chip.open(tmp_path / "card")
    with pytest.raises(card_chip.WrongPin):
        chip.verify_pin("0000")
    with app.app_context():
        new = renew_card(old.card.serial)
    info = chip.info()
    assert info["serial"] == new.card.serial and info["pin_tries_left"] == 2  # counters kept
    chip.verify_pin(PIN)
    assert _check(app, tmp_path / "card").card_serial == new.card.serial


def test_renewal_needs_a_readable_chip(app, tmp_path):
    old = issue(app, tmp_path / "card")
    (tmp_path / "card" / "chip.json").unlink()
    with app.app_context(), pytest.raises(CardError, match="card replace"):
        renew_card(old.card.serial, tmp_path / "new")
    with app.app_context():
        assert get_card(old.card.serial).status == "active"
    assert not (tmp_path / "new").exists()


def test_a_lost_card_is_refused_at_once_and_its_replacement_works(app, tmp_path):
    old = issue(app, tmp_path / "old")
    assert _check(app, tmp_path / "old").card_serial == old.card.serial
    with app.app_context():
        lost = declare_lost(old.card.serial)
        assert lost.status == "revoked" and lost.revoked_at is not None
        rows = db.session.scalars(db.select(IssuedCertificate).filter_by(
            card_serial=old.card.serial)).all()
        assert {r.revocation_reason for r in rows} == {"key_compromise"}
        assert card_json(lost)["status"] == "revoked"
    with pytest.raises(CardRefused) as refused:
        _check(app, tmp_path / "old")
    assert refused.value.reason == "card_revoked"
    assert "perdue ou volée" in refused.value.message_fr
    with app.app_context():
        with pytest.raises(CardError, match="déjà été déclarée perdue"):
            declare_lost(old.card.serial)
        with pytest.raises(CardError):
            renew_card(old.card.serial)
        new = replace_card(old.card.serial, tmp_path / "new")
    assert new.pin and new.puk and new.card.serial != old.card.serial
    chip = card_chip.Chip.open(tmp_path / "new")
    with pytest.raises(card_chip.WrongPin):
        chip.verify_pin(PIN if new.pin != PIN else "0000")
    chip.verify_pin(new.pin)
    assert _check(app, tmp_path / "new").card_serial == new.card.serial
    with app.app_context():
        assert get_card(old.card.serial).replaced_by == new.card.serial
        with pytest.raises(CardError, match="remplacée"):
            replace_card(old.card.serial, tmp_path / "third")
    assert [e.details["card_serial"] for e in _events(app, "card.lost")] == [old.card.serial]
    assert len(_events(app, "card.replaced")) == 1


def test_replacing_an_active_card_revokes_it(app, tmp_path):
    old = issue(app, tmp_path / "old")
    with app.app_context():
        new = replace_card(old.card.serial, tmp_path / "new", pin="2468", puk="13579246")
        assert new.pin is None and new.puk is None  # chosen, not generated
        assert get_card(old.card.serial).status == "revoked"
    card_chip.Chip.open(tmp_path / "new").verify_pin("2468")
    with pytest.raises(CardRefused) as refused:
        _check(app, tmp_path / "old")
    assert refused.value.reason == "card_revoked"


def _race(app, actions):
    """Run the actions at once (one thread each, behind a barrier): name -> ok | refused."""
    outcomes: dict[str, str] = {}
    barrier = threading.Barrier(len(actions))

    def run(name, action):
        with app.app_context():
            barrier.wait()
            try:
                action()
                outcomes[name] = "ok"
            except CardError:
                outcomes[name] = "refused"
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=item) for item in actions.items()]
    for t in threads:
        t.start()
    for t in threads:
        t.join(90)
    return outcomes


def test_concurrent_lost_and_renew_cannot_both_win(app, tmp_path):
    """A renewal racing a declaration of loss: exactly one wins, and a lost card never comes
    back to life."""
    serial = issue(app, tmp_path / "card").card.serial
    outcomes = _race(app, {"lost": lambda: declare_lost(serial),
                           "renew": lambda: renew_card(serial, tmp_path / "renewed")})
    assert sorted(outcomes.values()) == ["ok", "refused"], outcomes
    with app.app_context():
        card = get_card(serial)
        if outcomes["lost"] == "ok":
            assert card.status == "revoked" and card.replaced_by == ""
            assert [c.serial for c in list_cards(GP)] == [serial]
            assert not (tmp_path / "renewed").exists()
        else:
            assert card.status == "replaced" and card.replaced_by
            assert len(list_cards(GP)) == 2


@pytest.mark.parametrize("operation", ["renew", "replace"])
def test_two_renewals_or_replacements_at_once_make_one_card(app, tmp_path, operation):
    serial = issue(app, tmp_path / "card").card.serial

    def act(n):
        if operation == "renew":
            return lambda: renew_card(serial, tmp_path / f"new{n}")
        return lambda: replace_card(serial, tmp_path / f"new{n}")

    outcomes = _race(app, {"first": act(1), "second": act(2)})
    assert sorted(outcomes.values()) == ["ok", "refused"], outcomes
    with app.app_context():
        cards = list_cards(GP)
        assert len(cards) == 2
        old = get_card(serial)
        [new] = [c for c in cards if c.serial != serial]
        assert old.replaced_by == new.serial
    written = [n for n in (1, 2) if (tmp_path / f"new{n}").exists()]
    assert len(written) == 1
    assert card_chip.Chip.open(tmp_path / f"new{written[0]}").info()["serial"] == new.serial
