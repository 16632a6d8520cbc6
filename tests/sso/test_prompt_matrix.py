"""SSO decisions over real HTTP with Authlib clients: prompt × max_age × login_hint × acr ×
auth_mode, the prompt=none error codes (OIDC Core §3.1.2.6), and consent."""

from __future__ import annotations

import pytest

from tests.psc_actions import GP, PscActions, query
from tests.sso.conftest import register

NURSE = "810099900119"


def _second_client(psc: PscActions, live, **extra):
    client_id, secret, redirect_uri = register(live.app, "second-rp", port=7201, **extra)
    return psc.client(client_id, secret, redirect_uri)


@pytest.mark.parametrize("params,expected", [
    # (authorization parameters of the second request, what the browser gets)
    ({}, "code"),
    ({"prompt": "none"}, "code"),
    ({"prompt": "none", "max_age": "3600"}, "code"),
    ({"prompt": "none", "login_hint": GP}, "code"),
    ({"prompt": "none", "acr_values": "eidas1"}, "code"),
    ({"prompt": "none", "acr_values": "eidas3"}, "code"),           # card session: level 3
    ({"prompt": "none", "auth_mode": "CARD"}, "code"),
    ({"prompt": "none", "max_age": "0"}, "login_required"),
    ({"prompt": "none", "login_hint": NURSE}, "login_required"),
    ({"prompt": "none", "auth_mode": "MOBILE"}, "interaction_required"),
    ({"prompt": "login"}, "page"),
    ({"max_age": "0"}, "page"),
    ({"login_hint": NURSE}, "page"),
    ({"auth_mode": "MOBILE"}, "page"),
    ({"prompt": "none", "auth_mode": "PAPER"}, "invalid_request"),
])
def test_second_request_after_a_card_login(live, psc, params, expected):
    psc.full_login()  # the persona authenticator emulates a card (CARD, amr sc pin mfa)
    rp = _second_client(psc, live)
    start = psc.start(rp, **params)
    answer = psc.open(start.url)
    if expected == "page":
        assert answer.status_code == 200 and "<form" in answer.text
        return
    assert answer.status_code == 302, answer.text[:300]
    got = query(answer.headers["Location"])
    assert got["state"] == start.state and got["iss"] == live.issuer
    if expected == "code":
        assert "code" in got and "error" not in got
    else:
        assert got["error"] == expected and "code" not in got


def test_sso_keeps_sid_and_auth_time_and_returns_the_requested_acr(live, psc):
    _, first = psc.full_login()
    rp = _second_client(psc, live)
    start = psc.start(rp, prompt="none", acr_values="eidas3")
    answer = psc.open(start.url)
    second = psc.tokens(rp, start, answer.headers["Location"])
    one, two = psc.verify(first["id_token"]), psc.verify(second["id_token"])
    assert one["sid"] == two["sid"] and one["auth_time"] == two["auth_time"]
    assert one["acr"] == "eidas1"   # what PSC's RPs ask and check
    assert two["acr"] == "eidas3"   # asked for, and the card reaches it
    assert two["aud"] == "second-rp"


def test_a_mobile_session_needs_a_new_login_for_eidas3(make_live):
    live = make_live(authenticators={"persona": {"auth_mode": "MOBILE"}})
    psc = PscActions(live.issuer)
    psc.full_login()  # e-CPS approved with a PIN: level 2
    rp = psc.client()
    refused = query(psc.open(psc.start(rp, prompt="none", acr_values="eidas3").url)
                    .headers["Location"])
    assert refused["error"] == "interaction_required"
    reused = query(psc.open(psc.start(rp, prompt="none", acr_values="eidas2").url)
                   .headers["Location"])
    assert "code" in reused
    assert psc.open(psc.start(rp, acr_values="eidas3").url).status_code == 200  # login page


def test_login_hint_of_another_professional_signs_the_other_in(live, psc):
    _, first = psc.full_login()
    _, second = psc.full_login(national_id=NURSE, login_hint=NURSE)
    one, two = psc.verify(first["id_token"]), psc.verify(second["id_token"])
    assert two["preferred_username"] == NURSE and one["sid"] != two["sid"]


def test_consent_required_client(live, psc):
    rp = _second_client(psc, live, consent_required=True)
    # signed in, no consent yet: prompt=none says consent_required
    psc.full_login()
    start = psc.start(rp, prompt="none")
    assert query(psc.open(start.url).headers["Location"])["error"] == "consent_required"
    # without prompt=none: the consent page, straight from the SSO session
    start = psc.start(rp)
    page = psc.open(start.url)
    assert page.status_code == 200 and 'id="consent-approve"' in page.text
    assert "scope_all" in page.text
    answer = _consent(psc, page.text, "approve")
    assert answer.status_code == 302
    token = psc.tokens(rp, start, answer.headers["Location"])
    assert psc.verify(token["id_token"])["aud"] == "second-rp"
    # remembered: prompt=none now works; prompt=consent asks again
    assert "code" in query(psc.open(psc.start(rp, prompt="none").url).headers["Location"])
    again = psc.open(psc.start(rp, prompt="consent").url)
    assert again.status_code == 200 and 'id="consent-approve"' in again.text


def test_consent_refused_and_forged(live, psc):
    rp = _second_client(psc, live, consent_required=True)
    start = psc.start(rp)
    page = psc.pick_persona(psc.open(start.url))  # login first, then the consent page
    assert page.status_code == 200 and 'id="consent-refuse"' in page.text
    forged = _consent(psc, page.text.replace('name="csrf" value="', 'name="csrf" value="x'),
                      "approve")
    assert forged.status_code == 400
    refused = _consent(psc, page.text, "refuse")
    got = query(refused.headers["Location"])
    assert got["error"] == "access_denied" and got["state"] == start.state
    replay = _consent(psc, page.text, "approve")  # the request is over
    assert replay.status_code == 400


def _consent(psc: PscActions, html: str, decision: str):
    import re

    action = re.search(r'<form method="post" action="([^"]+)"', html).group(1)
    csrf = re.search(r'name="csrf" value="([^"]+)"', html).group(1)
    base = psc.issuer.split("/auth/realms")[0]
    return psc.browser.post(base + action, data={"csrf": csrf, "decision": decision},
                            allow_redirects=False, timeout=10)


def test_prompt_none_with_test_autologin_needs_no_session(live, psc):
    """A --test-autologin client naming a persona needs no page, so prompt=none succeeds."""
    client_id, secret, redirect_uri = register(live.app, "ci-rp", port=7202,
                                               test_autologin=True)
    rp = psc.client(client_id, secret, redirect_uri)
    start = psc.start(rp, prompt="none", login_hint=GP)
    answer = psc.open(start.url)
    token = psc.tokens(rp, start, answer.headers["Location"])
    first = psc.verify(token["id_token"])
    assert first["preferred_username"] == GP
    # ... and its session then serves a second client with prompt=none (same sid, auth_time)
    other = _second_client(psc, live)
    start = psc.start(other, prompt="none")
    second = psc.verify(psc.tokens(other, start, psc.open(start.url).headers["Location"])
                        ["id_token"])
    assert (second["sid"], second["auth_time"]) == (first["sid"], first["auth_time"])
    # without login_hint there is nobody to sign in: login_required
    start = PscActions(live.issuer).start(rp, prompt="none")
    assert query(PscActions(live.issuer).open(start.url).headers["Location"])["error"] == \
        "login_required"
