"""The provider's root page and the errors a relying service's developer reads (issue 13):
over real HTTP, on both backends."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
import requests

from psc_idp.audit import AuditEvent
from psc_idp.db import db
from psc_idp.oidc.authorize import redirect_uri_hint

REGISTERED = "http://127.0.0.1:5001/callback"  # the demo client psc-demo-rp


def _authorize(live, redirect_uri: str | list[str] | None, **extra: str) -> requests.Response:
    params: list[tuple[str, str]] = [("client_id", "psc-demo-rp"), ("response_type", "code"),
                                     ("scope", "openid scope_all"), ("state", "s")]
    if isinstance(redirect_uri, str):
        params.append(("redirect_uri", redirect_uri))
    elif redirect_uri:
        params += [("redirect_uri", uri) for uri in redirect_uri]
    params += list(extra.items())
    return requests.get(f"{live.base_url}/auth?{urlencode(params)}", allow_redirects=False,
                        timeout=10)


def _last_refusal(live) -> AuditEvent:
    with live.app.app_context():
        row = db.session.scalars(db.select(AuditEvent).where(
            AuditEvent.event == "authorize.refused").order_by(AuditEvent.id.desc())).first()
        db.session.expunge(row)
        return row


@pytest.mark.one_backend
def test_redirect_uri_mismatch_shows_received_registered_and_a_hint(live):
    sent = "http://localhost:5001/callback"
    answer = _authorize(live, sent)
    assert answer.status_code == 400 and "Location" not in answer.headers
    page = answer.text
    assert "Invalid parameter: redirect_uri" in page
    assert f'<code id="redirect-uri-received">{sent}</code>' in page
    assert f"<code>{REGISTERED}</code>" in page
    assert "localhost et 127.0.0.1 sont des hôtes différents" in page
    assert "Pour le développeur du service" in page
    row = _last_refusal(live)
    assert row.client_id == "psc-demo-rp"
    assert row.details["redirect_uri"] == sent and row.details["hint"] == "localhost"
    assert row.details["registered"] == [REGISTERED]


@pytest.mark.one_backend
def test_redirect_uri_error_page_in_english_and_escaped(live):
    sent = 'http://127.0.0.1:5001/callback/"><script>alert(1)</script>'
    answer = _authorize(live, sent, ui_locales="en")
    assert answer.status_code == 400
    assert '<html lang="en">' in answer.text
    assert "redirect_uri received" in answer.text and "We are sorry" in answer.text
    assert "<script>alert" not in answer.text
    assert "callback/&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in answer.text


@pytest.mark.one_backend
def test_redirect_uri_repeated_and_json_answers(live):
    repeated = _authorize(live, [REGISTERED, REGISTERED])
    assert repeated.status_code == 400 and "plusieurs redirect_uri" in repeated.text
    as_json = requests.get(f"{live.base_url}/auth", params={
        "client_id": "psc-demo-rp", "response_type": "code", "scope": "openid",
        "redirect_uri": "http://127.0.0.1:5001/other"},
        headers={"Accept": "application/json"}, timeout=10)
    assert as_json.status_code == 400
    assert as_json.json() == {"error": "invalid_request",
                              "error_description": "Invalid parameter: redirect_uri"}
    assert _last_refusal(live).details["hint"] == "exact"


@pytest.mark.one_backend
@pytest.mark.parametrize("received,registered,hint", [
    (["http://localhost:8080/cb"], ["http://127.0.0.1:8080/cb"], "localhost"),
    (["http://[::1]:8080/cb"], ["http://localhost:8080/cb"], "localhost"),
    (["http://127.0.0.1:8080/cb/"], ["http://127.0.0.1:8080/cb"], "slash"),
    (["http://rp.example/cb"], ["https://rp.example/cb"], "scheme"),
    (["http://rp.example:81/cb"], ["http://rp.example:82/cb"], "port"),
    (["https://evil.example/cb"], ["https://rp.example/cb"], "exact"),
    ([], ["https://a.example/cb", "https://b.example/cb"], "missing"),
    (["https://a/cb", "https://a/cb"], ["https://a/cb"], "repeated"),
])
def test_redirect_uri_hints(received, registered, hint):
    assert redirect_uri_hint(received, registered) == hint


# ----------------------------------------------------------------------------- home page
@pytest.mark.one_backend
def test_home_page_in_demo_mode_links_everything(live):
    answer = requests.get(live.base_url + "/", timeout=10)
    assert answer.status_code == 200 and answer.headers["Content-Type"].startswith("text/html")
    page = answer.text
    assert "Pro Santé Connect" in page and 'id="demo-links"' in page
    for href in ("http://127.0.0.1:5001/", "http://127.0.0.1:5003/", "http://127.0.0.1:5002/",
                 live.base_url + "/admin/outbox",
                 live.issuer + "/account/sessions",
                 live.issuer + "/.well-known/wallet-openid-configuration",
                 live.issuer + "/.well-known/openid-configuration"):
        assert f'href="{href}"' in page, href
    for link in ("/admin/outbox", "/auth/realms/esante-wallet/account/sessions",
                 "/auth/realms/esante-wallet/.well-known/wallet-openid-configuration"):
        assert requests.get(live.base_url + link, timeout=10).status_code == 200, link


@pytest.mark.one_backend
def test_home_page_in_production_says_what_the_server_is(make_live):
    live = make_live(mode="production", authenticators={"ecps": {}}, demo=False)
    page = requests.get(live.base_url + "/", timeout=10).text
    assert "fournisseur d'identité OpenID Connect" in page and "production" in page
    assert "demo-links" not in page and "/admin/outbox" not in page and ":5002" not in page
    assert live.issuer + "/.well-known/wallet-openid-configuration" in page


# ----------------------------------------------------------------------------- session page
@pytest.mark.one_backend
def test_paris_time_shows_the_offset_of_the_date():
    from datetime import UTC, datetime

    from psc_idp.sessions.pages import PARIS, paris_time

    if str(PARIS) != "Europe/Paris":  # no tz database on this machine
        pytest.skip("no Europe/Paris zone")
    assert paris_time(datetime(2026, 12, 1, 13, 5), "heure de Paris") == \
        "01/12/2026 14:05 (heure de Paris, UTC+01:00)"
    assert paris_time(datetime(2026, 7, 1, 13, 5, tzinfo=UTC), "Paris time") == \
        "01/07/2026 15:05 (Paris time, UTC+02:00)"


@pytest.mark.one_backend
def test_session_page_says_who_is_signed_in_with_paris_times(live):
    import re
    from datetime import UTC, datetime, timedelta

    from psc_idp.directory.lookup import find_by_identifier
    from tests.psc_actions import GP, PscActions

    psc = PscActions(live.issuer)
    before = datetime.now(UTC)
    psc.full_login()
    page = psc.browser.get(live.issuer + "/account/sessions", timeout=10).text
    with live.app.app_context():
        gp = find_by_identifier(GP)
        name = f"{gp.given_name} {gp.family_name}"
    assert f"Connecté : {name}, identifiant national {GP}" in page
    assert "Dossier patient" in page  # the service by its name
    shown = re.search(r"Ouverte le (\d\d/\d\d/\d{4} \d\d:\d\d) \(heure de Paris, "
                      r"UTC\+(\d\d):00\)", page)
    assert shown, page
    opened = datetime.strptime(shown.group(1), "%d/%m/%Y %H:%M").replace(tzinfo=UTC) \
        - timedelta(hours=int(shown.group(2)))
    assert before - timedelta(minutes=2) <= opened <= datetime.now(UTC)
    english = psc.browser.get(live.issuer + "/account/sessions?ui_locales=en", timeout=10).text
    assert f"Signed in: {name}, national identifier {GP}" in english
    assert "(Paris time, UTC+" in english and " UTC<" not in english


@pytest.mark.one_backend
def test_outbox_page_shows_paris_times(live):
    import re

    from psc_idp.credentials.models import OutboxMessage

    with live.app.app_context():
        db.session.add(OutboxMessage(channel="email", recipient="a@example.org",
                                     national_id="810099900010", body="Code 123456"))
        db.session.commit()
    page = requests.get(live.base_url + "/admin/outbox", timeout=10).text
    assert re.search(r"\d\d/\d\d/\d{4} \d\d:\d\d \(heure de Paris, UTC\+0[12]:00\)", page), page
    assert "(UTC)" not in page


@pytest.mark.one_backend
def test_error_pages_speak_french_with_the_protocol_wording_as_a_detail(live):
    """Issue 13 item 4: "Client not found." and "Invalid parameter: redirect_uri" were the
    page's sentence; a person now reads French (English with ui_locales=en), and the protocol
    code and wording stay for the developer in one detail line."""
    import html
    import re

    base = live.base_url + "/auth"
    page = requests.get(base, params={"client_id": "nobody", "response_type": "code"},
                        timeout=10)
    assert page.status_code == 400
    sentence = re.search(r'id="error-description">([^<]*)<', page.text).group(1)
    assert html.unescape(sentence) == "Ce service n'est pas connu de Pro Santé Connect."
    assert "Client not found." not in sentence
    detail = re.search(r'id="error-code" data-error="invalid_client">([^<]*)<', page.text)
    assert detail and "invalid_client" in detail.group(1) and "Client not found." in detail.group(1)
    english = requests.get(base, params={"client_id": "nobody", "response_type": "code",
                                         "ui_locales": "en"}, timeout=10)
    assert "This service is not known to Pro Santé Connect." in english.text
