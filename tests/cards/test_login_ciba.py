"""CIBA ``channel=CARD``: the professional confirms with the CPx card on the client-certificate
listener (``{mtls_base}/ciba/card``), never on the phone; tokens say ``authMode`` CARD."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session

from tests.cards.cardlogin import audit_rows, card_credentials, card_live, issue  # noqa: F401
from tests.ecps.test_ciba import CibaRp
from tests.psc_actions import DEMO_CLIENT, GP, PscActions


class Rp(CibaRp):
    """The e-CPS tests' CIBA relying party (the demo client, Basic), asking for the card."""

    def __init__(self, issuer: str):
        super().__init__(PscActions(issuer), OAuth2Session(
            DEMO_CLIENT[0], DEMO_CLIENT[1], token_endpoint_auth_method="client_secret_basic"))

    def backchannel(self, **overrides: Any) -> requests.Response:
        return super().backchannel(**{"channel": "CARD", **overrides})


def _card_page(server, credentials) -> requests.Response:
    return requests.get(f"{server.mtls_base}/ciba/card", cert=credentials,
                        verify=str(server.root), timeout=15)


def _answer(server, credentials, page: requests.Response, decision: str,
            csrf: str | None = None) -> requests.Response:
    action = re.search(r'<form method="post" action="(/ciba/card/[^"]+)"', page.text).group(1)
    token = csrf or re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    return requests.post(server.mtls_base + action, data={"csrf": token, "decision": decision},
                         cert=credentials, verify=str(server.root), timeout=15)


@pytest.mark.parametrize("acr_values,acr", [("eidas1", "eidas1"), ("eidas3", "eidas3")])
def test_ciba_card_approved_with_the_card(card_live, tmp_path: Path, acr_values: str,  # noqa: F811
                                          acr: str):
    server = card_live()
    card = issue(server.app, tmp_path / "card", GP)
    credentials = card_credentials(card.folder, tmp_path)
    rp = Rp(server.live.issuer)
    ack = rp.backchannel(acr_values=acr_values).json()
    assert set(ack) == {"auth_req_id", "expires_in", "interval"}
    assert rp.poll_error(ack["auth_req_id"]) == "authorization_pending"
    with server.app.app_context():  # never shown on the phone
        from psc_idp.credentials import ecps
        from psc_idp.directory.lookup import find_by_identifier

        assert ecps.pending_challenges(find_by_identifier(GP).id) == []

    page = _card_page(server, credentials)
    assert page.status_code == 200
    assert 'data-binding="42"' in page.text and "Dossier patient" in page.text
    # a form token of another request (or none) is refused
    assert _answer(server, credentials, page, "approve", csrf="0" * 64).status_code == 400
    done = _answer(server, credentials, page, "approve")
    assert done.status_code == 200 and 'data-result="ciba_card_approved"' in done.text
    assert 'id="ciba-card-none"' in done.text

    token = rp.poll(ack["auth_req_id"])
    access = rp.psc.verify(token["access_token"])
    id_token = rp.psc.verify(token["id_token"])
    assert access["authMode"] == "CARD"
    assert id_token["amr"] == ["sc", "pin", "hwk"] and id_token["acr"] == acr
    assert audit_rows(server.app, "ciba.card_answered")[-1].details["decision"] == "approve"
    assert rp.poll_error(ack["auth_req_id"]) == "invalid_grant"  # single use


def test_ciba_card_denied(card_live, tmp_path: Path):  # noqa: F811
    server = card_live()
    card = issue(server.app, tmp_path / "card", GP)
    credentials = card_credentials(card.folder, tmp_path)
    rp = Rp(server.live.issuer)
    ack = rp.backchannel().json()
    page = _card_page(server, credentials)
    assert 'data-result="ciba_card_denied"' in _answer(server, credentials, page, "deny").text
    assert rp.poll_error(ack["auth_req_id"]) == "access_denied"
    # answered once: a second answer changes nothing
    assert _answer(server, credentials, page, "approve").status_code == 400


def test_ciba_card_without_a_card_is_access_denied(card_live):  # noqa: F811
    server = card_live()
    rp = Rp(server.live.issuer)
    answer = rp.backchannel()
    assert answer.status_code == 403 and answer.json()["error"] == "access_denied"
    assert "card" in answer.json()["error_description"]


@pytest.mark.one_backend
def test_ciba_card_page_needs_the_card(card_live, tmp_path: Path):  # noqa: F811
    server = card_live()
    issue(server.app, tmp_path / "card", GP)
    Rp(server.live.issuer).backchannel()
    refused = requests.get(f"{server.mtls_base}/ciba/card", verify=str(server.root), timeout=15)
    assert refused.status_code == 403
    assert refused.headers["X-PSC-IDP-Card-Refusal"] == "no_certificate"
    plain = requests.get(f"{server.live.base_url}/ciba/card", timeout=10)
    assert plain.status_code == 400
