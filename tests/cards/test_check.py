"""``check_presented_card``: each refusal a card login or an activation may meet, with its
reason code and a French sentence, on real certificates of the emulated IGC-Santé."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509

from psc_idp.credentials import card_chip
from psc_idp.credentials.card_check import MESSAGES, CardRefused, check_presented_card
from psc_idp.db import db
from psc_idp.directory.models import Professional
from psc_idp.pki.authority import LocalPki, new_key
from psc_idp.pki.igc_sante import CardHolder, IgcSante
from tests.cards.cardkit import (
    BLOCKED,
    CPE_STAFF,
    GP,
    HOSPITAL,
    holders_app,  # noqa: F401 (the `app` fixture)
    issue,
    settings_of,
)


def _refusal(app, chain, **kwargs) -> CardRefused:
    with app.app_context(), pytest.raises(CardRefused) as refused:
        check_presented_card(chain, settings_of(app), **kwargs)
    assert refused.value.message_fr and refused.value.message_fr[0].isupper()
    return refused.value


def _chain(folder, which="auth"):
    return card_chip.Chip.open(folder).certificate_chain(which)


@pytest.mark.one_backend
def test_an_accepted_card(app, tmp_path):
    issued = issue(app, tmp_path / "c")
    with app.app_context():
        checked = check_presented_card(_chain(tmp_path / "c"), settings_of(app))
        gp = db.session.scalars(db.select(Professional).filter_by(national_id=GP)).one()
    assert checked.card_serial == issued.card.serial and checked.professional_id == gp.id
    assert checked.structure_technical_id == ""
    # the leaf alone is enough: the provider completes the chain with its intermediates
    with app.app_context():
        assert check_presented_card(_chain(tmp_path / "c")[:1], settings_of(app)) == checked


@pytest.mark.one_backend
def test_no_certificate(app):
    refused = _refusal(app, [])
    assert refused.reason == "no_certificate" and "insérez votre carte" in refused.message_fr


@pytest.mark.one_backend
def test_a_card_from_another_authority(app, tmp_path):
    """Same holder, same shape, another root: refused."""
    other = IgcSante(LocalPki(tmp_path / "other-pki"), "http://other.test/pki")
    key = new_key("rsa")
    made = other.issue_card_certificates(
        CardHolder(GP, "LEROY", "Camille"), card_serial="1234567890", card_type="CPS",
        auth_public_key=key.public_key(), sign_public_key=key.public_key(),
        not_after=dt.datetime.now(dt.UTC) + dt.timedelta(days=30))
    refused = _refusal(app, [made.auth, *made.chain])
    assert refused.reason == "unknown_authority" and "IGC-Santé" in refused.message_fr


@pytest.mark.one_backend
def test_an_expired_card(app, tmp_path):
    past = dt.datetime.utcnow() - dt.timedelta(days=400)
    issue(app, tmp_path / "c", not_before=past, not_after=past + dt.timedelta(days=30))
    refused = _refusal(app, _chain(tmp_path / "c"))
    assert refused.reason == "expired" and "expiré" in refused.message_fr


@pytest.mark.one_backend
def test_a_card_expires_on_the_provider_clock(app, tmp_path):
    issue(app, tmp_path / "c")
    app.extensions["psc_idp"].clock.advance(3 * 366 * 86400)
    try:
        assert _refusal(app, _chain(tmp_path / "c")).reason == "expired"
        with app.app_context():
            from psc_idp.credentials.cards import card_json, list_cards

            assert card_json(list_cards(GP)[0])["status"] == "expired"
    finally:
        app.extensions["psc_idp"].clock.set_offset(0)


@pytest.mark.one_backend
def test_an_expired_certificate_issued_by_igc_sante_directly(app):
    """The brief's way: IgcSante with not_after in the past (nothing registered)."""
    igc = IgcSante.from_settings(settings_of(app))
    key = new_key("rsa")
    past = dt.datetime.now(dt.UTC) - dt.timedelta(days=10)
    made = igc.issue_card_certificates(
        CardHolder(GP, "LEROY", "Camille"), card_serial="1000000009", card_type="CPS",
        auth_public_key=key.public_key(), sign_public_key=key.public_key(),
        not_before=past - dt.timedelta(days=30), not_after=past)
    assert _refusal(app, [made.auth, *made.chain]).reason == "expired"


@pytest.mark.one_backend
def test_a_card_not_yet_valid(app, tmp_path):
    soon = dt.datetime.utcnow() + dt.timedelta(days=2)
    issue(app, tmp_path / "c", not_before=soon, not_after=soon + dt.timedelta(days=30))
    assert _refusal(app, _chain(tmp_path / "c")).reason == "not_yet_valid"


def test_a_certificate_revoked_by_the_authority(app, tmp_path):
    """The card is still active but its certificate was revoked (pki side): refused at once,
    the database register being authoritative."""
    from psc_idp.pki.register import revoke_certificate

    issued = issue(app, tmp_path / "c")
    with app.app_context():
        assert revoke_certificate(issued.card.auth_cert_serial, x509.ReasonFlags.key_compromise)
        db.session.commit()
    refused = _refusal(app, _chain(tmp_path / "c"))
    assert refused.reason == "revoked" and refused.card_serial == issued.card.serial


@pytest.mark.one_backend
def test_the_signature_certificate_cannot_authenticate(app, tmp_path):
    issue(app, tmp_path / "c")
    assert _refusal(app, _chain(tmp_path / "c", "sign")).reason == "wrong_usage"


@pytest.mark.one_backend
def test_a_software_certificate_is_not_a_card(app):
    from psc_idp.pki.igc_sante import ORGANISATIONS
    from psc_idp.pki.register import register_certificate

    igc = IgcSante.from_settings(settings_of(app))
    key = new_key()
    cert = igc.issue_software_certificate(client_id="rp", organisation="RP",
                                          public_key=key.public_key())
    with app.app_context():
        register_certificate(cert, authority=ORGANISATIONS, kind="software_client",
                             client_id="rp")
        db.session.commit()
    refused = _refusal(app, [cert, *igc.chain(ORGANISATIONS)])
    assert refused.reason == "wrong_usage"


@pytest.mark.one_backend
def test_a_certificate_of_the_right_authority_but_no_card(app):
    igc = IgcSante.from_settings(settings_of(app))
    key = new_key("rsa")
    made = igc.issue_card_certificates(
        CardHolder(GP, "LEROY", "Camille"), card_serial="1000000008", card_type="CPS",
        auth_public_key=key.public_key(), sign_public_key=key.public_key(),
        not_after=dt.datetime.now(dt.UTC) + dt.timedelta(days=30))
    assert _refusal(app, [made.auth, *made.chain]).reason == "unknown_card"


def test_a_card_type_the_service_does_not_accept(app, tmp_path):
    issue(app, tmp_path / "c", CPE_STAFF, "CPE", HOSPITAL)
    settings_of(app).cards.accepted_types = ["CPS", "CPF"]
    try:
        refused = _refusal(app, _chain(tmp_path / "c"))
    finally:
        settings_of(app).cards.accepted_types = ["CPS", "CPF", "CPE", "CPA", "CDE"]
    assert refused.reason == "type_refused" and "CPE" in refused.message_fr
    assert refused.national_id == CPE_STAFF


def test_a_holder_whose_means_are_blocked(app, tmp_path):
    issue(app, tmp_path / "c", BLOCKED)
    refused = _refusal(app, _chain(tmp_path / "c"))
    assert refused.reason == "holder_blocked" and refused.message_fr == MESSAGES[
        "holder_blocked"]


def test_a_holder_gone_from_the_directory(app, tmp_path):
    issue(app, tmp_path / "c")
    with app.app_context():
        gp = db.session.scalars(db.select(Professional).filter_by(national_id=GP)).one()
        gp.national_id = "810000000000"
        db.session.commit()
    assert _refusal(app, _chain(tmp_path / "c")).reason == "holder_unknown"
