"""e-CPS activation with a CPx card, through the mobile API as the app does it: the chip signs
the activation challenge (``Chip.sign`` after the card's PIN), the provider checks the card as
at a card login (``check_presented_card``), the holder and the signature."""

from __future__ import annotations

import pytest

from clients.ecps_app.phone import EcpsPhone, PhoneError
from psc_idp.audit import AuditEvent
from psc_idp.credentials import card_chip
from psc_idp.credentials.cards import declare_lost
from psc_idp.db import db
from psc_idp.directory.demo_data import demo_rpps
from psc_idp.directory.national_id import national_id_from_rpps
from tests.cards.cardkit import GP, PIN, issue
from tests.ecps.test_push_login import ecps_login

ECPS_PIN = "1357"
GIRARD = national_id_from_rpps(demo_rpps(3))


def reader(folder, pin: str = PIN, sign_with=None):
    """What a card reader gives the app: the card's certificate chain (PEM) and the chip's
    signature over the challenge."""
    chip = card_chip.Chip.open(folder)

    def card(challenge: bytes) -> tuple[str, bytes]:
        pem = (folder / "auth.crt").read_text()
        return pem, (sign_with or chip).sign(pin, challenge)

    return card


def _refusals(live) -> list[AuditEvent]:
    with live.app.app_context():
        return list(db.session.scalars(db.select(AuditEvent).filter_by(
            event="ecps.card_proof_refused")))


def test_a_card_activates_a_usable_ecps(live, tmp_path):
    issue(live.app, tmp_path / "card")
    phone = EcpsPhone(live.base_url, tmp_path / "phone", GP)
    device = phone.activate_with_card(ECPS_PIN, reader(tmp_path / "card"),
                                      device_name="activée avec la CPS")
    assert device["status"] == "usable"
    login = ecps_login(live)
    login.push()
    assert phone.answer_next("approve", ECPS_PIN, wait=5)["status"] == "approved"
    done = login.finish()
    assert done.status_code == 302 and "code=" in done.headers["Location"]


def test_another_professionals_card_is_refused(live, tmp_path):
    issue(live.app, tmp_path / "card", GIRARD)
    phone = EcpsPhone(live.base_url, tmp_path / "phone", GP)
    with pytest.raises(PhoneError) as refused:
        phone.activate_with_card(ECPS_PIN, reader(tmp_path / "card"))
    assert "invalid_card_proof" in str(refused.value)
    [row] = _refusals(live)
    assert "pas celle du professionnel" in row.details["reason"]


def test_a_lost_card_cannot_activate(live, tmp_path):
    issued = issue(live.app, tmp_path / "card")
    with live.app.app_context():
        declare_lost(issued.card.serial)
    phone = EcpsPhone(live.base_url, tmp_path / "phone", GP)
    with pytest.raises(PhoneError, match="invalid_card_proof"):
        phone.activate_with_card(ECPS_PIN, reader(tmp_path / "card"))
    [row] = _refusals(live)
    assert "card_revoked" in row.details["reason"]


def test_a_signature_by_another_card_is_refused(live, tmp_path):
    issue(live.app, tmp_path / "card")
    issue(live.app, tmp_path / "other")
    phone = EcpsPhone(live.base_url, tmp_path / "phone", GP)
    other_chip = card_chip.Chip.open(tmp_path / "other")
    with pytest.raises(PhoneError, match="invalid_card_proof"):
        phone.activate_with_card(ECPS_PIN, reader(tmp_path / "card", sign_with=other_chip))
    [row] = _refusals(live)
    assert "signature" in row.details["reason"]


def test_a_blocked_chip_cannot_sign(live, tmp_path):
    issue(live.app, tmp_path / "card")
    chip = card_chip.Chip.open(tmp_path / "card")
    for _ in range(3):
        with pytest.raises(card_chip.ChipError):
            chip.verify_pin("0000")
    phone = EcpsPhone(live.base_url, tmp_path / "phone", GP)
    with pytest.raises(card_chip.ChipBlocked):
        phone.activate_with_card(ECPS_PIN, reader(tmp_path / "card"))
