"""Card login end to end with real TLS handshakes (issue 12 item 4): an RP (Authlib) starts
the code flow, a browser session goes to the card page, the card reader presents a virtual
card on the client-certificate listener, the browser brings the ticket back, the RP gets a
code, tokens and claims with ``authMode: CARD``."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
import requests

from tests.cards.cardlogin import (
    audit_rows,
    back_in_browser,
    begin,
    cancel,
    card_credentials,
    card_live,  # noqa: F401 - fixture
    issue,
    present,
)
from tests.psc_actions import GP, query

REFUSAL = "X-PSC-IDP-Card-Refusal"


@pytest.fixture(params=("psc", "strict"))
def profile(request: pytest.FixtureRequest) -> str:
    return request.param


def _code_flow(login, location: str) -> tuple[dict, dict, dict]:
    """The browser's return step, then the RP's token exchange: (tokens, access, id token)."""
    done = back_in_browser(login, location)
    assert done.status_code == 302, done.text[:500]
    callback = done.headers["Location"]
    assert callback.startswith("http://127.0.0.1:5001/callback?")
    params = query(callback)
    assert params["code"] and params["state"] == login.start.state
    token = login.psc.tokens(login.rp, login.start, callback)
    return token, login.psc.verify(token["access_token"]), login.psc.verify(token["id_token"])


def test_card_login_end_to_end(card_live, tmp_path: Path, profile: str):  # noqa: F811
    server = card_live(fidelity={"profile": profile})
    card = issue(server.app, tmp_path / "card", GP)
    login = begin(server)

    page = login.card_page
    assert page.status_code == 200
    assert "Insérez votre carte CPS dans le lecteur" in page.text
    step = f"{server.mtls_base}/login/{login.uid}/card/tls"
    assert f'<meta name="psc-idp-card-step" content="{step}">' in page.text
    assert re.search(rf'<form id="card-abandon" method="post" '
                     rf'action="/login/{login.uid}/card/abandon"', page.text)
    assert 'name="reason"' in page.text and 'id="cancel-login"' in page.text
    reader = re.search(r'id="card-open-reader" href="([^"]+)"', page.text).group(1)
    assert reader.startswith(server.settings.cards.reader_url + "/?step=https%3A%2F%2F")
    first = login.first_page
    assert 'id="means-card"' in first.text and "Carte CPS" in first.text

    presented = present(server, login, card_credentials(card.folder, tmp_path))
    assert presented.status_code == 303, presented.headers.get(REFUSAL)
    location = presented.headers["Location"]
    assert location.startswith(f"{server.live.base_url}/login/{login.uid}/card/return?ticket=")
    token, access, id_token = _code_flow(login, location)

    assert access["authMode"] == "CARD"
    assert access["acr"] == ("eidas3" if profile == "psc" else "eidas1")
    assert id_token["acr"] == "eidas1"  # what the RP asked (acr_values=eidas1)
    assert id_token["amr"] == ["sc", "pin", "hwk"]
    assert id_token["sub"].endswith(":" + GP)
    info = login.rp.get(login.psc.metadata["userinfo_endpoint"])
    assert info.status_code == 200
    body = info.json()
    assert body.get("SubjectNameID", body.get("preferred_username")) == GP

    presented_rows = audit_rows(server.app, "card.presented")
    assert [r.details["card_serial"] for r in presented_rows] == [card.card.serial]
    assert presented_rows[0].details["national_id"] == GP
    success = audit_rows(server.app, "login.success")
    assert success[-1].details["authenticator"] == "card"
    assert success[-1].details["auth_mode"] == "CARD"

    # The ticket is single-use: the same return URL again fails cleanly (French 400).
    again = back_in_browser(login, location)
    assert again.status_code == 400 and "<html" in again.text


def test_eidas3_asked_is_met_by_the_card(card_live, tmp_path: Path):  # noqa: F811
    server = card_live()
    card = issue(server.app, tmp_path / "card", GP)
    login = begin(server, acr_values="eidas3")
    assert login.card_page.status_code == 200
    presented = present(server, login, card_credentials(card.folder, tmp_path))
    _, access, id_token = _code_flow(login, presented.headers["Location"])
    assert id_token["acr"] == "eidas3" and access["acr"] == "eidas3"


def test_ticket_is_single_use_and_checked(card_live, tmp_path: Path):  # noqa: F811
    server = card_live()
    card = issue(server.app, tmp_path / "card", GP)
    login = begin(server)
    credentials = card_credentials(card.folder, tmp_path)
    location = present(server, login, credentials).headers["Location"]
    wrong = re.sub(r"ticket=[^&]+", "ticket=" + "A" * 43, location)
    refused = back_in_browser(login, wrong)
    assert refused.status_code == 400 and refused.headers[REFUSAL] == "card_ticket_wrong"
    # a wrong try spends the ticket: the right one no longer works either
    spent = back_in_browser(login, location)
    assert spent.status_code == 400 and spent.headers[REFUSAL] == "card_ticket_used"
    # presenting the card again gives a new ticket, and the login completes
    location = present(server, login, credentials).headers["Location"]
    _code_flow(login, location)
    rows = audit_rows(server.app, "card.refused")
    assert [r.details["reason"] for r in rows] == ["card_ticket_wrong", "card_ticket_used"]


def _card_presented(start_server, tmp_path: Path):
    """A fresh login and the GP's card presented at its TLS step: (the provider, the card,
    the login, the return URL with its ticket that the reader got)."""
    server = start_server()
    card = issue(server.app, tmp_path / "card", GP)
    login = begin(server)
    location = present(server, login, card_credentials(card.folder, tmp_path)).headers[
        "Location"]
    return server, card, login, location


def test_concurrent_returns_complete_the_login_once(card_live, tmp_path: Path):  # noqa: F811
    from tests.served import fire

    server, _, login, location = _card_presented(card_live, tmp_path)
    cookies = login.psc.browser.cookies.get_dict()
    answers = fire(6, lambda _: requests.get(location, cookies=cookies,
                                             allow_redirects=False, timeout=30))
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [302, 400, 400, 400, 400, 400], statuses
    assert len(audit_rows(server.app, "login.success")) == 1


def test_return_from_another_browser_is_refused(card_live, tmp_path: Path):  # noqa: F811
    _, _, login, location = _card_presented(card_live, tmp_path)
    stranger = requests.get(location, allow_redirects=False, timeout=10)
    assert stranger.status_code == 400
    _code_flow(login, location)  # the ticket was not spent by the stranger


def _other_ca_card(tmp_path: Path) -> tuple[str, str]:
    """A well-formed card certificate (same names, same profile) from another authority: a
    second local TEST PKI whose IGC-Santé CA nobody configured here trusts."""
    from psc_idp.pki import LocalPki
    from psc_idp.pki.authority import new_key, write_key, write_pem
    from psc_idp.pki.igc_sante import CardHolder, IgcSante

    other = IgcSante(LocalPki(tmp_path / "other-pki"), "http://127.0.0.1:9/pki")
    key = new_key()
    made = other.issue_card_certificates(
        CardHolder(GP, "LEROY", "Camille"), card_serial="9999999999", card_type="CPS",
        auth_public_key=key.public_key(), sign_public_key=new_key().public_key(),
        not_after=dt.datetime.now(dt.UTC) + dt.timedelta(days=30))
    cert, keyfile = tmp_path / "other.crt", tmp_path / "other.key"
    write_pem(cert, [made.auth, *made.chain])
    write_key(keyfile, key)
    return str(cert), str(keyfile)


def _assert_refused(server, login, presented, reason: str, *, national_id: str = "") -> None:
    assert presented.status_code == 403, presented.text[:500]
    assert presented.headers[REFUSAL] == reason
    assert 'id="card-refusal-message"' in presented.text
    assert '<html lang="fr"' in presented.text
    # links back to the main host: another means, the card page (where cancel is)
    assert f'href="{server.live.base_url}/login/{login.uid}"' in presented.text
    row = audit_rows(server.app, "card.refused")[-1]
    assert row.outcome == "failure" and row.details["reason"] == reason
    if national_id:
        assert row.details["national_id"] == national_id and row.details["card_serial"]
    # the card page on the main host says why, and cancelling gives the RP access_denied
    page = login.psc.browser.get(f"{login.base}/login/{login.uid}/card", timeout=10)
    assert f'data-reason="{reason}"' in page.text
    assert cancel(login)["error"] == "access_denied"


@pytest.mark.one_backend
def test_refused_certificate_of_another_authority(card_live, tmp_path: Path):  # noqa: F811
    server = card_live()
    login = begin(server)
    presented = present(server, login, _other_ca_card(tmp_path))
    _assert_refused(server, login, presented, "unknown_authority")
    assert "IGC-Santé" in presented.text


@pytest.mark.one_backend
def test_refused_without_a_certificate(card_live):  # noqa: F811
    server = card_live()
    login = begin(server)
    presented = present(server, login, None)
    _assert_refused(server, login, presented, "no_certificate")
    assert "Aucune carte n&#39;a été présentée" in presented.text


@pytest.mark.one_backend
def test_refused_expired_card(card_live, tmp_path: Path):  # noqa: F811
    server = card_live()
    past = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    card = issue(server.app, tmp_path / "card", GP, not_before=past - dt.timedelta(days=30),
                 not_after=past - dt.timedelta(days=1))
    login = begin(server)
    presented = present(server, login, card_credentials(card.folder, tmp_path))
    _assert_refused(server, login, presented, "expired", national_id=GP)


def test_refused_card_type(card_live, tmp_path: Path):  # noqa: F811
    server = card_live(cards={"accepted_types": ["CPF"]})
    card = issue(server.app, tmp_path / "card", GP)
    login = begin(server)
    presented = present(server, login, card_credentials(card.folder, tmp_path))
    _assert_refused(server, login, presented, "type_refused", national_id=GP)
    assert "CPS" in presented.text


def test_lost_card_refused_on_the_very_next_login(card_live, tmp_path: Path):  # noqa: F811
    from psc_idp.credentials.cards import declare_lost

    server = card_live()
    card = issue(server.app, tmp_path / "card", GP)
    credentials = card_credentials(card.folder, tmp_path)
    login = begin(server)
    _code_flow(login, present(server, login, credentials).headers["Location"])
    with server.app.app_context():
        declare_lost(card.card.serial)
    login = begin(server)
    presented = present(server, login, credentials)
    _assert_refused(server, login, presented, "card_revoked", national_id=GP)


def test_card_lost_between_the_two_steps(card_live, tmp_path: Path):  # noqa: F811
    from psc_idp.credentials.cards import declare_lost

    server, card, login, location = _card_presented(card_live, tmp_path)
    with server.app.app_context():
        declare_lost(card.card.serial)
    refused = back_in_browser(login, location)
    assert refused.status_code == 403 and refused.headers[REFUSAL] == "card_revoked"
    row = audit_rows(server.app, "card.refused")[-1]
    assert row.details["step"] == "return" and row.details["card_serial"] == card.card.serial
    assert cancel(login)["error"] == "access_denied"


def test_abandon_card_blocked(card_live):  # noqa: F811
    server = card_live()
    login = begin(server)
    csrf = re.search(r'name="csrf" value="([^"]+)"', login.card_page.text).group(1)
    # the reader's page posts it from another origin: no browser cookie
    forged = requests.post(f"{login.base}/login/{login.uid}/card/abandon",
                           data={"csrf": "nope", "reason": "card_blocked"},
                           allow_redirects=False, timeout=10)
    assert forged.status_code == 400
    done = requests.post(f"{login.base}/login/{login.uid}/card/abandon",
                         data={"csrf": csrf, "reason": "card_blocked"},
                         allow_redirects=False, timeout=10)
    assert done.status_code == 302
    params = query(done.headers["Location"])
    assert params["error"] == "access_denied" and params["state"] == login.start.state
    row = audit_rows(server.app, "card.refused")[-1]
    assert row.details == {**row.details, "reason": "card_blocked", "reported_by": "reader"}
    # the login is over: a late TLS step or return is a French 400, not a 500
    late = requests.post(f"{login.base}/login/{login.uid}/card/abandon",
                         data={"csrf": csrf, "reason": "whatever"}, timeout=10)
    assert late.status_code == 400


def test_abandon_unknown_reason_is_cancelled(card_live):  # noqa: F811
    server = card_live()
    login = begin(server)
    csrf = re.search(r'name="csrf" value="([^"]+)"', login.card_page.text).group(1)
    done = requests.post(f"{login.base}/login/{login.uid}/card/abandon",
                         data={"csrf": csrf, "reason": "<script>"}, allow_redirects=False,
                         timeout=10)
    assert query(done.headers["Location"])["error"] == "access_denied"
    assert audit_rows(server.app, "card.refused")[-1].details["reason"] == "cancelled"


@pytest.mark.one_backend
def test_tls_step_only_on_the_listener_and_never_500(card_live, tmp_path: Path):  # noqa: F811
    server = card_live()
    card = issue(server.app, tmp_path / "card", GP)
    credentials = card_credentials(card.folder, tmp_path)
    login = begin(server)
    # the main host: no handshake, so no card
    plain = login.psc.browser.get(f"{login.base}/login/{login.uid}/card/tls", timeout=10)
    assert plain.status_code == 400 and "carte CPS" in plain.text
    with requests.Session() as reader:
        for uid in ("unknown", "x" * 300, "%00"):
            answer = reader.get(f"{server.mtls_base}/login/{uid}/card/tls", cert=credentials,
                                verify=str(server.root), timeout=10)
            assert answer.status_code == 400, (uid, answer.status_code)
            assert '<html lang="fr"' in answer.text
    # an expired login: 400 too
    from psc_idp.db import db
    from psc_idp.oidc.models import Interaction

    with server.app.app_context():
        interaction = db.session.get(Interaction, login.uid)
        interaction.expires_at = interaction.expires_at - dt.timedelta(hours=2)
        db.session.commit()
    expired = present(server, login, credentials)
    assert expired.status_code == 400 and "expiré" in expired.text
