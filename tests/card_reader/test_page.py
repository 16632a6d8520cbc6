"""The reader's page for people (``card-reader serve``): Flask's test client for the page, a
real provider and its client-certificate listener for the card's TLS handshake."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import pytest
import requests

from clients.card_reader.pages import read_page
from clients.card_reader.web import create_app
from tests.card_reader.conftest import PIN, CardSetup
from tests.psc_actions import DEMO_CLIENT

LOGIN_LINK = re.compile(r"/login/([^/?#\"']+)/")


def _csrf(client: Any, query: str = "") -> tuple[str, str]:
    page = client.get("/" + query)
    html = page.get_data(as_text=True)
    token = re.search(r'name="csrf" value="([^"]+)"', html)
    assert token, html
    return token.group(1), html


def _card_step(setup: CardSetup) -> tuple[requests.Session, str, Any]:
    """A browser at the provider's card page: (its session, the TLS step URL, the start)."""
    _, _, start = setup.authorize_url()
    browser = requests.Session()
    login = browser.get(start.url, timeout=10)
    uid = LOGIN_LINK.search(login.text)
    assert uid, login.text
    page = browser.get(f"{setup.provider.base_url}/login/{uid.group(1)}/card", timeout=10)
    step = read_page(page.text).tls_step
    assert step.startswith("https://"), page.text
    return browser, step, start


@pytest.mark.one_backend
def test_the_page_lists_the_cards_and_shows_who_asks(card_setup: CardSetup):
    card_setup.issue(name="a-cps")
    client = create_app(card_setup.cards_dir).test_client()
    step = "https://127.0.0.1:5443/login/abc/card/tls"
    page = client.get("/?step=" + quote(step, safe=""))
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Insérez votre carte, saisissez le code PIN" in html
    assert "LEROY" in html and "810099900010" in html and "CPS" in html
    assert "127.0.0.1:5443" in html  # the host that asks for the card
    assert page.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    assert page.headers["Cache-Control"] == "no-store"
    assert "HttpOnly" in page.headers["Set-Cookie"] and "SameSite=Strict" in \
        page.headers["Set-Cookie"]


@pytest.mark.one_backend
@pytest.mark.parametrize("step", [
    "http://127.0.0.1:5443/login/abc/card/tls",            # not https
    "https://evil.example/steal",                          # not a card step
    "https://127.0.0.1:5443/login/abc/card/tls/../../x",   # not exactly the step's path
    "https://user:pw@127.0.0.1:5443/login/abc/card/tls",   # credentials in the URL
])
def test_the_reader_is_not_an_open_proxy(card_setup: CardSetup, step: str):
    card_setup.issue(name="a-cps")
    client = create_app(card_setup.cards_dir).test_client()
    page = client.get("/?step=" + quote(step, safe=""))
    assert page.status_code == 400
    assert "Adresse de l'étape carte refusée" in page.get_data(as_text=True)
    csrf, _ = _csrf(client)
    posted = client.post("/", data={"csrf": csrf, "step": step, "card": "a-cps", "pin": PIN})
    assert posted.status_code == 400 and "Location" not in posted.headers


@pytest.mark.one_backend
def test_a_post_without_the_forms_token_is_refused(card_setup: CardSetup):
    card_setup.issue(name="a-cps")
    client = create_app(card_setup.cards_dir).test_client()
    client.get("/")
    posted = client.post("/", data={"csrf": "forged", "card": "a-cps", "pin": PIN,
                                    "step": "https://127.0.0.1:5443/login/u/card/tls"})
    assert posted.status_code == 403
    assert "Formulaire expiré" in posted.get_data(as_text=True)


def test_wrong_pin_then_blocked_on_the_page(card_setup: CardSetup):
    folder = card_setup.issue(name="a-cps")
    _, step, _ = _card_step(card_setup)
    client = create_app(card_setup.cards_dir).test_client()
    csrf, _ = _csrf(client, "?step=" + quote(step, safe=""))
    form = {"csrf": csrf, "step": step, "card": "a-cps", "pin": "0000"}
    first = client.post("/", data=form)
    assert first.status_code == 400
    assert "Code PIN erroné : il reste 2 essais." in first.get_data(as_text=True)
    client.post("/", data=form)
    third = client.post("/", data=form)
    html = third.get_data(as_text=True)
    assert third.status_code == 403
    assert "Carte bloquée" in html and 'id="reader-back"' in html
    assert "bloquée (code PUK" in client.get("/").get_data(as_text=True)  # marked in the list
    assert folder.exists()


@pytest.mark.one_backend
def test_the_page_presents_the_card_and_the_browser_completes_the_login(
        card_setup: CardSetup):
    card_setup.issue(name="a-cps")
    browser, step, start = _card_step(card_setup)
    client = create_app(card_setup.cards_dir).test_client()
    csrf, _ = _csrf(client, "?step=" + quote(step, safe=""))
    answer = client.post("/", data={"csrf": csrf, "step": step, "card": "a-cps", "pin": PIN})
    assert answer.status_code == 302, answer.get_data(as_text=True)
    back = answer.headers["Location"]
    assert re.search(r"/login/[^/]+/card/return\?ticket=", back)
    assert back.startswith(card_setup.provider.base_url)  # the main host, not the card host
    # the browser (the provider's cookie) follows it to the service
    hop = browser.get(back, allow_redirects=False, timeout=10)
    for _ in range(10):
        location = hop.headers.get("Location", "")
        if location.startswith(DEMO_CLIENT[2]):
            break
        assert hop.is_redirect, hop.text
        hop = browser.get(requests.compat.urljoin(hop.url, location), allow_redirects=False,
                          timeout=10)
    params = parse_qs(urlsplit(location).query)
    assert params["code"] and params["state"] == [start.state]


@pytest.mark.one_backend
def test_a_refused_card_is_explained_on_the_page(card_setup: CardSetup):
    folder = card_setup.issue(name="a-cps")
    card_setup.lost(folder)
    _, step, _ = _card_step(card_setup)
    client = create_app(card_setup.cards_dir).test_client()
    csrf, _ = _csrf(client, "?step=" + quote(step, safe=""))
    answer = client.post("/", data={"csrf": csrf, "step": step, "card": "a-cps", "pin": PIN})
    html = answer.get_data(as_text=True)
    assert answer.status_code == 403
    assert "Carte refusée (card_revoked)" in html and "perdue ou volée" in html
    assert 'data-reason="card_revoked"' in html and 'id="reader-back"' in html


@pytest.mark.one_backend
def test_an_empty_reader_says_how_to_make_a_card(tmp_path: Path):
    client = create_app(tmp_path).test_client()
    html = client.get("/").get_data(as_text=True)
    assert "Aucune carte dans le lecteur" in html and "psc-idp card issue" in html
    assert client.get("/nowhere").status_code == 404


@pytest.mark.one_backend
def test_card_reader_serve_answers_the_page(tmp_path: Path):
    import subprocess
    import time

    from tests.card_reader.conftest import CARD_READER
    from tests.conftest import free_port
    from tests.served import stop_process

    port = free_port()
    log = tmp_path / "serve.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([str(CARD_READER), "serve", "--cards-dir", str(tmp_path),
                                 "--port", str(port)], stdout=out, stderr=subprocess.STDOUT,
                                text=True)
    try:
        for _ in range(100):
            try:
                page = requests.get(f"http://127.0.0.1:{port}/", timeout=2)
                break
            except requests.ConnectionError:
                assert proc.poll() is None, log.read_text()
                time.sleep(0.1)
        assert page.status_code == 200
        assert "Insérez votre carte, saisissez le code PIN" in page.text
        assert requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2).text == "ok"
        assert f"http://127.0.0.1:{port}/" in log.read_text()
    finally:
        stop_process(proc, timeout=10)
