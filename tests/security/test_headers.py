"""Issue 11, finding 12 (headers): a CSP without inline scripts on every page,
``X-Content-Type-Options``, ``Referrer-Policy``, and framing refused everywhere.

Before: the login pages' CSP was only ``frame-ancestors 'none'`` (scripts unrestricted), no
page sent ``nosniff`` nor a referrer policy, and the error page could be framed.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from psc_idp.oidc import urls
from tests.security.flows import DEMO_ID, open_login, tokens

TEMPLATES = Path(__file__).resolve().parents[2] / "psc_idp" / "templates"


@pytest.fixture
def app(make_app):
    return make_app()


def _csp(response) -> dict[str, str]:
    policy = response.headers.get("Content-Security-Policy", "")
    return {part.split()[0]: " ".join(part.split()[1:])
            for part in (p.strip() for p in policy.split(";")) if part}


def _assert_common(response, what: str) -> None:
    headers = response.headers
    assert headers.get("X-Frame-Options") == "DENY", what
    assert headers.get("X-Content-Type-Options") == "nosniff", what
    assert headers.get("Referrer-Policy") == "no-referrer", what
    assert _csp(response).get("frame-ancestors") == "'none'", (what, headers)


def _assert_page(response, what: str, frames: str = "'none'") -> None:
    _assert_common(response, what)
    assert response.mimetype == "text/html", what
    csp = _csp(response)
    assert csp["default-src"] == "'none'", (what, csp)
    assert csp["script-src"] == "'self'", (what, csp)
    assert csp["style-src"] == "'self'", (what, csp)
    assert csp["frame-src"] == frames, (what, csp)
    assert "unsafe-inline" not in str(csp) and "unsafe-eval" not in str(csp), (what, csp)
    html = response.get_data(as_text=True)
    # what the CSP would block must not be on the page (it would break it)
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), (what, "inline script")
    assert not re.search(r"\sstyle=", html), (what, "style attribute")
    assert not re.search(r"\son[a-z]+=", html), (what, "event handler attribute")
    assert "<style" not in html and "javascript:" not in html, what


@pytest.mark.one_backend
def test_templates_hold_no_inline_script_or_style():
    for template in TEMPLATES.rglob("*.html"):
        text = template.read_text(encoding="utf-8")
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text), template
        assert not re.search(r"\sstyle=|<style|\son[a-z]+=|javascript:", text), template


@pytest.mark.one_backend
def test_every_page_has_the_csp_and_the_headers(app):
    browser = app.test_client()
    page = open_login(browser)
    _assert_page(browser.get(f"/login/{page.uid}/persona"), "persona page")
    _assert_page(browser.get(f"/login/{page.uid}/ecps"), "e-CPS page")
    _assert_page(browser.get(f"/login/{page.uid}/ecps_otp"), "e-CPS OTP page")
    error = browser.get(urls.WALLET_AUTHORIZE, query_string={"client_id": "nobody"})
    assert error.status_code == 400
    _assert_page(error, "error page")
    _assert_page(browser.get("/no/such/page"), "404 page")
    _assert_page(browser.get("/admin/outbox"), "outbox page")

    tokens(app, browser)
    _assert_page(browser.get(urls.ACCOUNT_SESSIONS), "sessions page")
    _assert_page(browser.get(urls.LOGOUT), "logout confirmation")


@pytest.mark.one_backend
def test_the_ecps_waiting_page_script_is_a_static_file(app):
    """The e-CPS waiting page keeps its script (static, allowed by ``script-src 'self'``)."""
    from tests.security.flows import GP

    browser = app.test_client()
    page = open_login(browser)
    with app.app_context():  # a usable e-CPS is not needed to see the page: the push fails
        answer = browser.post(f"/login/{page.uid}/ecps", data={"csrf": page.csrf,
                                                               "national_id": GP})
    assert answer.status_code in (200, 303, 400), answer.status_code
    with browser.get("/static/ecps-wait.js") as script:
        assert script.status_code == 200
        _assert_common(script, "static script")


@pytest.mark.one_backend
def test_json_answers_and_static_files_carry_the_headers(app):
    client = app.test_client()
    for response, what in (
        (client.get(urls.DISCOVERY), "discovery"),
        (client.get(urls.CERTS), "jwks"),
        (client.post(urls.TOKEN, data={"grant_type": "x"}), "token error"),
        (client.get("/api/mobile/v1/device"), "mobile API error"),
        (client.get("/static/psc-idp.css"), "stylesheet"),
    ):
        with response:
            _assert_common(response, what)
            if response.mimetype == "application/json":
                assert _csp(response)["default-src"] == "'none'", what


@pytest.mark.one_backend
def test_the_logout_page_frames_only_the_rps_front_channel_origins(app):
    """The one page with iframes: frame-src lists the RPs' origins, nothing else; it goes on
    to the RP with a static script, not an inline one."""
    browser = app.test_client()
    tokens(app, browser)
    confirm = browser.get(urls.LOGOUT)
    csrf = re.search(r'name="csrf" value="([^"]+)"', confirm.get_data(as_text=True)).group(1)
    done = browser.post(urls.LOGOUT, data={
        "csrf": csrf, "confirm": "yes", "client_id": DEMO_ID,
        "post_logout_redirect_uri": "http://127.0.0.1:5001/"})
    assert done.status_code == 200, done.get_data(as_text=True)[:300]
    html = done.get_data(as_text=True)
    assert 'class="frontchannel-logout"' in html
    _assert_page(done, "logged-out page", frames="http://127.0.0.1:5001")
    assert "/static/logged-out.js" in html
    with browser.get("/static/logged-out.js") as script:
        assert script.status_code == 200
