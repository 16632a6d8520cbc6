"""Card login behind a reverse proxy that asks for the card itself (nginx ``ssl_verify_client
optional_no_ca``, Apache ``SSLVerifyClient optional_no_ca``) and forwards it in a header
(``[mtls] forwarded_certificate_header``): believed from trusted proxies only, in the forms
the proxies write it, and refused with the same French page as on psc-idp's own listener."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import pytest
import requests

from psc_idp.pki import LocalPki
from tests.cards.cardlogin import audit_rows, back_in_browser, begin, issue
from tests.listener import ListenerLive
from tests.psc_actions import GP, query

HEADER = "X-SSL-Client-Cert"
REFUSAL = "X-PSC-IDP-Card-Refusal"


def _behind_proxy(make_live, trusted: list[str]) -> ListenerLive:
    live = make_live(proxy={"trusted_hops": 1, "trusted_addresses": trusted},
                     mtls={"forwarded_certificate_header": HEADER})
    settings = live.app.extensions["psc_idp"].settings
    settings.mtls.public_url = live.base_url  # the proxy's URL: here, psc-idp itself
    return ListenerLive(live, None, LocalPki.in_keys_dir(settings.keys_dir).root_cert_path)


def _step(login) -> str:
    return f"{login.base}/login/{login.uid}/card/tls"


def _nginx(pem: str) -> str:
    return quote(pem, safe="")  # $ssl_client_escaped_cert


def _apache(pem: str) -> str:
    return " ".join(pem.split("\n")).strip()  # mod_headers: the line breaks became spaces


@pytest.mark.one_backend
@pytest.mark.parametrize("form", [_nginx, _apache], ids=["nginx", "apache"])
def test_a_card_forwarded_by_a_trusted_proxy_signs_in(make_live, tmp_path: Path, form):
    server = _behind_proxy(make_live, ["127.0.0.1/32"])
    card = issue(server.app, tmp_path / "card", GP)
    pem = (card.folder / "auth.crt").read_text()
    login = begin(server)
    answer = requests.get(_step(login), headers={HEADER: form(pem)}, allow_redirects=False,
                          timeout=10)
    assert answer.status_code == 303, answer.text[:400]
    done = back_in_browser(login, answer.headers["Location"])
    assert done.status_code == 302
    params = query(done.headers["Location"])
    assert params["code"] and params["state"] == login.start.state
    token = login.psc.tokens(login.rp, login.start, done.headers["Location"])
    assert login.psc.verify(token["access_token"])["authMode"] == "CARD"


@pytest.mark.one_backend
def test_a_trusted_proxy_without_a_certificate_gets_the_no_card_page(make_live, tmp_path):
    server = _behind_proxy(make_live, ["127.0.0.1/32"])
    login = begin(server)
    for empty in ({}, {HEADER: ""}, {HEADER: "(null)"}):  # what proxies send without a card
        answer = requests.get(_step(login), headers=empty, timeout=10)
        assert answer.status_code == 403, answer.text[:300]
        assert answer.headers[REFUSAL] == "no_certificate"
        assert 'id="card-refusal-message"' in answer.text and "Aucune carte n" in answer.text
    assert len(audit_rows(server.app, "card.refused")) == 3


@pytest.mark.one_backend
def test_a_card_of_another_authority_is_refused_with_a_page(make_live, tmp_path: Path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.x509.oid import ExtendedKeyUsageOID

    from psc_idp.pki.authority import Usage, name, new_key
    from psc_idp.pki.authority import issue as issue_certificate

    server = _behind_proxy(make_live, ["127.0.0.1/32"])
    other = LocalPki(tmp_path / "another-authority").issuing_ca("personnes")
    key = new_key()
    foreign = issue_certificate(other, name("810099900010"), key.public_key(), lifetime_days=30,
                                usage=Usage(ekus=(ExtendedKeyUsageOID.CLIENT_AUTH,)))
    pem = b"".join(c.public_bytes(serialization.Encoding.PEM)
                   for c in (foreign, other.certificate)).decode()
    login = begin(server)
    answer = requests.get(_step(login), headers={HEADER: _nginx(pem)}, timeout=10)
    assert answer.status_code == 403
    assert answer.headers[REFUSAL] == "unknown_authority"
    assert 'id="card-refusal-message"' in answer.text


@pytest.mark.one_backend
def test_the_header_from_an_untrusted_peer_is_ignored(make_live, tmp_path: Path):
    server = _behind_proxy(make_live, ["10.9.8.7/32"])  # the proxy is elsewhere, not us
    card = issue(server.app, tmp_path / "card", GP)
    login = begin(server)
    answer = requests.get(_step(login), timeout=10, allow_redirects=False,
                          headers={HEADER: _nginx((card.folder / "auth.crt").read_text())})
    assert answer.status_code == 400  # not the listener, not a trusted proxy: no card step
    assert REFUSAL not in answer.headers
    assert not audit_rows(server.app, "card.presented")


@pytest.mark.one_backend
def test_a_self_signed_card_is_an_unknown_authority(make_live, tmp_path: Path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.x509.oid import ExtendedKeyUsageOID

    from psc_idp.pki.authority import Usage, name, new_key
    from psc_idp.pki.authority import issue as issue_certificate

    server = _behind_proxy(make_live, ["127.0.0.1/32"])
    key = new_key()
    forged = issue_certificate(None, name("810099900010"), key.public_key(), lifetime_days=30,
                               signing_key=key,
                               usage=Usage(ekus=(ExtendedKeyUsageOID.CLIENT_AUTH,)))
    login = begin(server)
    pem = forged.public_bytes(serialization.Encoding.PEM).decode()
    answer = requests.get(_step(login), headers={HEADER: _apache(pem)}, timeout=10)
    assert answer.status_code == 403 and answer.headers[REFUSAL] == "unknown_authority"
