"""Back-channel and front-channel logout on the demo relying party, against the fake PSC.

Each Flask test client is one browser (one cookie jar). The provider's back-channel call is
another test client without cookies, as a server-to-server POST has none. Logout tokens are
signed with the fake provider's published key (``FakeProvider.logout_token``) or forged.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import socket
import time
from typing import Any

import pytest

from clients.demo_rp.logout import JtiCache
from clients.demo_rp.settings import ConfigError, Settings, load_settings
from tests.demo_rp.fake_psc import (
    BACKCHANNEL_EVENT,
    CLIENT_ID,
    CLIENT_SECRET,
    REALM,
    SUB,
    follow_to_rp,
    login,
    make_rp,
    rsa_key,
    start_login,
    visible_text,
)

LOGGED_OUT = "Vous avez été déconnecté de Pro Santé Connect."


def sign_in(rp: Any, provider: Any, sid: str = "5e1d0c3a") -> None:
    provider.behaviour.sid = sid
    assert login(rp).status_code == 302
    assert state(rp) == "signed-in"


def state(browser: Any) -> str:
    resp = browser.get("/session-status")
    assert resp.status_code == 200 and resp.headers["Cache-Control"] == "no-store"
    return resp.json["state"]


def backchannel(rp: Any, token: str | None, **kwargs: Any) -> Any:
    """POST the token as the provider would: from another client, without the browser's cookie."""
    server = rp.application.test_client()
    data = {} if token is None else {"logout_token": token}
    return server.post("/backchannel-logout", data=data, **kwargs)


def assert_refused(resp: Any, *words: str) -> None:
    assert resp.status_code == 400, resp.text
    assert resp.headers["Cache-Control"] == "no-store"
    assert resp.mimetype == "application/json"
    body = resp.json
    assert body["error"] == "invalid_request" and isinstance(body["error_description"], str)
    for word in words:
        assert word in body["error_description"], body


def page(browser: Any) -> str:
    """The home page's HTML without its inert ``<template>`` elements (the watcher's copies)."""
    resp = browser.get("/")
    assert resp.status_code == 200
    return re.sub(r"<template\b.*?</template>", "", resp.text, flags=re.S)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned_token(header: dict[str, Any], claims: dict[str, Any], secret: bytes = b"") -> str:
    """A compact JWS built by hand: ``alg: none`` (empty signature) or HS256 with ``secret``."""
    signing_input = b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode())
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest() if secret else b""
    return signing_input + "." + b64url(signature)


# ---------------------------------------------------------------------------- back-channel


def test_valid_logout_token_ends_the_login_and_the_page_says_so(rp, provider):
    sign_in(rp, provider)
    home = page(rp)
    assert 'id="signed-in"' in home and 'data-national-id="899700427885"' in home
    assert 'id="logged-out-notice"' not in home

    resp = backchannel(rp, provider.logout_token())
    assert resp.status_code == 200 and resp.headers["Cache-Control"] == "no-store"
    assert resp.text == ""

    assert rp.get("/session-status").json == {
        "state": "logged-out", "ended_by": "backchannel",
        "message": "Pro Santé Connect a signalé la fin de votre session à ce service "
                   "(déconnexion back-channel)."}
    for _ in range(2):  # a reload shows it again
        home = rp.get("/")
        text = visible_text(home.text)
        assert 'id="logged-out-notice"' in home.text and LOGGED_OUT in text
        assert "déconnexion back-channel" in text
        assert 'id="signed-in"' not in home.text and "DOC0042788" not in text
        assert "Se connecter avec" in text and "session_watch.js" not in home.text


def test_logout_token_ends_every_login_of_that_sid_and_only_those(rp, provider):
    app = rp.application  # one RP process, three browsers
    b1, b2, b3 = app.test_client(), app.test_client(), app.test_client()
    sign_in(b1, provider, "sid-a")
    sign_in(b2, provider, "sid-a")
    sign_in(b3, provider, "sid-b")
    provider.behaviour.sid = "sid-a"
    assert backchannel(rp, provider.logout_token()).status_code == 200
    assert (state(b1), state(b2), state(b3)) == ("logged-out", "logged-out", "signed-in")


def test_logout_token_with_sub_only_ends_every_login_of_that_subject(rp, provider):
    app = rp.application
    b1, b2 = app.test_client(), app.test_client()
    sign_in(b1, provider, "sid-a")
    sign_in(b2, provider, "sid-b")
    assert backchannel(rp, provider.logout_token(drop=("sid",))).status_code == 200
    assert (state(b1), state(b2)) == ("logged-out", "logged-out")


def test_logout_token_for_another_subject_of_that_sid_ends_nothing(rp, provider):
    sign_in(rp, provider)
    resp = backchannel(rp, provider.logout_token(sub="f:someone-else:810000000001"))
    assert resp.status_code == 200
    assert state(rp) == "signed-in"


def test_logout_token_for_an_unknown_sid_is_accepted(rp, provider):
    sign_in(rp, provider)
    assert backchannel(rp, provider.logout_token(sid="unknown-sid")).status_code == 200
    assert state(rp) == "signed-in"


@pytest.mark.parametrize("claims, drop", [
    ({"aud": [CLIENT_ID, "psc-other-rp"]}, ()),
    ({}, ("exp",)),
    ({}, ("sub",)),
    ({"events": {BACKCHANNEL_EVENT: {}, "urn:example:other": {"x": 1}}}, ()),
], ids=["aud-list", "no-exp", "sid-only", "other-events-too"])
def test_valid_variants_are_accepted(rp, provider, claims, drop):
    sign_in(rp, provider)
    assert backchannel(rp, provider.logout_token(drop=drop, **claims)).status_code == 200
    assert state(rp) == "logged-out"


class Rel(int):
    """Seconds from the moment the test runs (the module is imported minutes earlier)."""


def _resolve(spec: dict) -> dict:
    now = int(time.time())
    return {k: now + v if isinstance(v, Rel) else v for k, v in spec.items()}


INVALID = [
    ("bad-signature", {"key": "same-kid"}, "signature"),
    ("unknown-key", {"key": "attacker"}, "signature"),
    ("wrong-iss", {"iss": "https://evil.example/auth/realms/esante-wallet"}, "iss"),
    ("wrong-aud", {"aud": "psc-other-rp"}, "aud"),
    ("aud-list-without-us", {"aud": ["psc-other-rp", "third"]}, "aud"),
    ("missing-events", {"drop": ("events",)}, "events"),
    ("other-event-only", {"events": {"http://schemas.openid.net/event/other": {}}}, "events"),
    ("event-not-object", {"events": {BACKCHANNEL_EVENT: "logout"}}, "JSON object"),
    ("events-as-list", {"events": [BACKCHANNEL_EVENT]}, "events"),
    ("nonce-present", {"nonce": "n-0S6_WzA2Mj"}, "nonce"),
    ("missing-sid-and-sub", {"drop": ("sid", "sub")}, "sid nor sub"),
    ("expired", {"iat": Rel(-900), "exp": Rel(-600)}, "expired"),
    ("iat-in-the-future", {"iat": Rel(3600), "exp": Rel(3700)}, "future"),
    ("iat-missing", {"drop": ("iat",)}, "iat"),
    ("iat-too-old", {"iat": Rel(-6 * 3600), "drop": ("exp",)}, "too old"),
    ("iat-not-a-number", {"iat": "yesterday"}, "iat"),
    ("iat-nan", {"iat": float("nan")}, "iat"),
    ("exp-infinite", {"exp": float("inf")}, "exp"),
    ("iat-boolean", {"iat": True}, "iat"),
    ("jti-missing", {"drop": ("jti",)}, "jti"),
    ("sid-not-a-string", {"sid": 42}, "sid"),
]


@pytest.mark.parametrize("spec, word", [(s, w) for _, s, w in INVALID],
                         ids=[name for name, _, _ in INVALID])
def test_invalid_logout_token_is_refused_and_ends_nothing(rp, provider, spec, word):
    sign_in(rp, provider)
    spec = _resolve(spec)
    if "key" in spec:
        spec["key"] = rsa_key("psc-test-key" if spec["key"] == "same-kid" else "attacker-key")
    token = provider.logout_token(**spec)
    assert_refused(backchannel(rp, token), word)
    assert state(rp) == "signed-in"
    assert 'id="signed-in"' in rp.get("/").text


def test_alg_none_and_hmac_tokens_are_refused(rp, provider):
    sign_in(rp, provider)
    now = int(time.time())
    claims = {"iss": provider.issuer, "aud": CLIENT_ID, "iat": now, "exp": now + 60,
              "jti": "forged-1", "sub": SUB, "sid": "5e1d0c3a",
              "events": {BACKCHANNEL_EVENT: {}}}
    none = unsigned_token({"alg": "none", "typ": "logout+jwt"}, claims)
    hs256 = unsigned_token({"alg": "HS256", "kid": "psc-test-key"}, claims,
                           CLIENT_SECRET.encode())
    for token in (none, none.rstrip("."), hs256):
        assert_refused(backchannel(rp, token))
    assert state(rp) == "signed-in"


@pytest.mark.parametrize("kwargs", [
    {"data": {}},
    {"data": {"logout_token": ""}},
    {"data": {"logout_token": "not-a-jwt"}},
    {"data": {"logout_token": "a.b.c"}},
    {"data": {"logout_token": "eyJhbGciOiJSUzI1NiJ9.%%%.c2ln"}},
    {"json": {"logout_token": "a.b.c"}},
], ids=["no-field", "empty", "not-a-jwt", "garbage-parts", "bad-base64", "json-body"])
def test_malformed_requests_get_400_json_never_500(rp, provider, kwargs):
    sign_in(rp, provider)
    server = rp.application.test_client()
    assert_refused(server.post("/backchannel-logout", **kwargs))
    assert state(rp) == "signed-in"


def test_an_unexpected_failure_is_still_a_400(rp, provider, monkeypatch):
    sign_in(rp, provider)
    relying_party = rp.application.extensions["psc_demo_rp"]

    def broken(token: str) -> dict[str, Any]:
        raise RuntimeError("bug")

    monkeypatch.setattr(relying_party, "verify_logout_token", broken)
    assert_refused(backchannel(rp, provider.logout_token()), "could not be processed")
    assert state(rp) == "signed-in"


def test_jti_cache_forgets_the_oldest_when_full():
    cache = JtiCache(limit=2)
    now = time.time()
    assert cache.add("iss", "a", {"iat": now}) and cache.add("iss", "b", {"iat": now + 1})
    assert not cache.add("iss", "a", {"iat": now})
    assert cache.add("other-iss", "a", {"iat": now})  # per issuer; "a" of "iss" goes
    assert cache.add("iss", "a", {"iat": now})


def test_backchannel_endpoint_only_accepts_post(rp):
    assert rp.get("/backchannel-logout").status_code == 405


def test_replayed_logout_token_is_refused(rp, provider):
    sign_in(rp, provider)
    token = provider.logout_token()
    assert backchannel(rp, token).status_code == 200
    sign_in(rp, provider)  # signed in again, same provider session id
    assert_refused(backchannel(rp, token), "replay")
    assert state(rp) == "signed-in"
    # a fresh token (new jti) still works
    assert backchannel(rp, provider.logout_token()).status_code == 200
    assert state(rp) == "logged-out"


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_unreachable_provider_keys_give_400_not_500(provider):
    rp = make_rp(f"http://127.0.0.1:{_closed_port()}{REALM}")
    assert_refused(backchannel(rp, provider.logout_token()), "keys could not be fetched")


def test_discovery_announcing_another_issuer_refuses_logout_tokens(provider):
    rp = make_rp(provider.base + "/auth/realms/other",
                 DISCOVERY_URL=provider.issuer + "/.well-known/wallet-openid-configuration")
    assert_refused(backchannel(rp, provider.logout_token()), "metadata")


# ---------------------------------------------------------------------------- front-channel


def frontchannel(browser: Any, **params: str) -> Any:
    return browser.get("/frontchannel-logout", query_string=params)


def assert_frameable_by(resp: Any, provider: Any) -> None:
    assert resp.headers["Cache-Control"] == "no-cache, no-store"
    assert "X-Frame-Options" not in resp.headers
    csp = resp.headers["Content-Security-Policy"]
    ancestors = csp.split("frame-ancestors", 1)[1].split(";")[0].split()
    assert provider.base in ancestors and "'self'" in ancestors
    assert resp.mimetype == "text/html"


def test_frontchannel_logout_ends_the_logins_of_that_sid(rp, provider):
    app = rp.application
    same_sid, other_sid = app.test_client(), app.test_client()
    sign_in(rp, provider, "sid-a")
    sign_in(same_sid, provider, "sid-a")
    sign_in(other_sid, provider, "sid-b")

    resp = frontchannel(rp, iss=provider.issuer, sid="sid-a")  # the provider's iframe
    assert resp.status_code == 200 and "Déconnexion effectuée" in resp.text
    assert 'id="frontchannel-result"' in resp.text
    assert_frameable_by(resp, provider)

    assert (state(rp), state(same_sid), state(other_sid)) == (
        "logged-out", "logged-out", "signed-in")
    home = rp.get("/")
    assert 'id="logged-out-notice"' in home.text and LOGGED_OUT in visible_text(home.text)
    assert "déconnexion front-channel" in visible_text(home.text)
    assert "déconnexion front-channel" in visible_text(same_sid.get("/").text)


def test_frontchannel_logout_from_a_cookieless_frame_still_ends_the_login(rp, provider):
    sign_in(rp, provider)
    frame = rp.application.test_client()  # a cross-site iframe gets no SameSite=Lax cookie
    assert frontchannel(frame, iss=provider.issuer, sid="5e1d0c3a").status_code == 200
    assert state(rp) == "logged-out"


@pytest.mark.parametrize("params", [
    {"iss": "https://evil.example/auth/realms/esante-wallet", "sid": "5e1d0c3a"},
    {"iss": "ISSUER/", "sid": "5e1d0c3a"},
    {"sid": "5e1d0c3a"},
    {"iss": "ISSUER"},
    {"iss": "ISSUER", "sid": ""},
], ids=["wrong-iss", "iss-with-slash", "sid-without-iss", "iss-without-sid", "empty-sid"])
def test_frontchannel_logout_with_wrong_parameters_ends_nothing(rp, provider, params):
    sign_in(rp, provider)
    params = {k: v.replace("ISSUER", provider.issuer) for k, v in params.items()}
    resp = frontchannel(rp, **params)
    assert resp.status_code == 400 and "refusée" in resp.text
    assert_frameable_by(resp, provider)
    assert state(rp) == "signed-in"
    assert 'id="signed-in"' in rp.get("/").text


def test_frontchannel_logout_without_parameters_ends_this_browser_only(rp, provider):
    other = rp.application.test_client()
    sign_in(rp, provider)
    sign_in(other, provider)
    resp = frontchannel(rp)
    assert resp.status_code == 200
    assert (state(rp), state(other)) == ("logged-out", "signed-in")
    assert "déconnexion front-channel" in visible_text(rp.get("/").text)


def test_frame_ancestors_name_the_end_session_origin_once_discovery_is_loaded(rp, provider):
    sign_in(rp, provider)  # loads the discovery document
    resp = frontchannel(rp, iss=provider.issuer, sid="5e1d0c3a")
    csp = resp.headers["Content-Security-Policy"]
    assert csp.count(provider.base) == 1  # issuer and end-session share the origin
    assert csp.startswith("default-src 'none';")


def test_other_pages_still_refuse_framing(rp, provider):
    assert rp.get("/").headers["X-Frame-Options"] == "DENY"
    assert rp.get("/session-status").headers["X-Frame-Options"] == "DENY"


# ---------------------------------------------------------------------------- page state


def test_session_status_follows_the_login(rp, provider):
    assert rp.get("/session-status").json == {"state": "signed-out"}
    sign_in(rp, provider, "sid-z")
    assert rp.get("/session-status").json == {"state": "signed-in", "sid": "sid-z"}


def test_signed_in_page_carries_the_watcher_and_its_templates(rp, provider):
    sign_in(rp, provider)
    home = rp.get("/").text
    assert 'id="login-content" data-login-state="signed-in"' in home
    assert 'data-testid="signed-in"' in home and 'data-sid="5e1d0c3a"' in home
    assert '<template id="logged-out-template">' in home
    assert '<template id="signed-out-template">' in home
    assert "/static/session_watch.js" in home
    script = rp.get("/static/session_watch.js")
    assert script.status_code == 200 and b"/session-status" in script.data
    script.close()


def test_signing_in_again_clears_the_notice(rp, provider):
    sign_in(rp, provider)
    assert backchannel(rp, provider.logout_token()).status_code == 200
    assert 'id="logged-out-notice"' in page(rp)
    sign_in(rp, provider)
    home = page(rp)
    assert 'id="logged-out-notice"' not in home and 'id="signed-in"' in home


def test_logout_button_after_a_provider_logout_is_local_and_clears_the_notice(rp, provider):
    sign_in(rp, provider)
    assert frontchannel(rp, iss=provider.issuer, sid="5e1d0c3a").status_code == 200
    resp = rp.post("/logout")
    assert resp.status_code == 302 and resp.headers["Location"] == "/"
    home = page(rp)
    assert "Vous êtes déconnecté." in home and 'id="logged-out-notice"' not in home
    assert provider.end_session_requests == []


def test_rp_initiated_logout_is_not_reported_as_a_provider_logout(rp, provider):
    sign_in(rp, provider)
    assert rp.post("/logout").status_code == 302  # to the provider's end-session endpoint
    # the provider's front-channel iframe for this same browser arrives afterwards
    assert frontchannel(rp, iss=provider.issuer, sid="5e1d0c3a").status_code == 200
    home = page(rp)
    assert "Vous êtes déconnecté." in home and 'id="logged-out-notice"' not in home
    assert state(rp) == "signed-out"


def test_a_login_started_before_a_logout_still_completes(rp, provider):
    callback = start_login(rp)
    assert backchannel(rp, provider.logout_token()).status_code == 200  # nothing to end
    assert follow_to_rp(rp, callback).status_code == 302
    assert state(rp) == "signed-in"


# ---------------------------------------------------------------------------- settings


def test_label_and_accent_tell_two_instances_apart(provider):
    first = make_rp(provider.issuer, TITLE="Dossier patient", LABEL="RP 1", ACCENT="#18753c")
    second = make_rp(provider.issuer, TITLE="Messagerie sécurisée", LABEL="RP 2",
                     ACCENT="purple")
    one, two = first.get("/").text, second.get("/").text
    assert 'id="rp-label">RP 1<' in one and "--accent: #18753c" in one
    assert "<title>Dossier patient</title>" in one
    assert 'id="rp-label">RP 2<' in two and "--accent: purple" in two
    plain = make_rp(provider.issuer).get("/").text
    assert 'id="rp-label"' not in plain and "--accent: #000091" in plain


def test_new_settings_have_compatible_defaults_and_env_names():
    s = load_settings(environ={})
    assert (s.LABEL, s.ACCENT) == ("", "#000091")
    assert s.backchannel_logout_uri == "http://127.0.0.1:5001/backchannel-logout"
    assert s.frontchannel_logout_uri == "http://127.0.0.1:5001/frontchannel-logout"
    s = load_settings(environ={"PSC_DEMO_RP_LABEL": "RP 2", "PSC_DEMO_RP_ACCENT": "#a0f",
                               "PSC_DEMO_RP_PUBLIC_URL": "http://127.0.0.1:5002/"})
    assert (s.LABEL, s.ACCENT) == ("RP 2", "#a0f")
    assert s.backchannel_logout_uri == "http://127.0.0.1:5002/backchannel-logout"


@pytest.mark.parametrize("overrides", [
    {"ACCENT": "red; background: url(x)"},
    {"ACCENT": "#12345"},
    {"ACCENT": ""},
    {"LABEL": "x" * 41},
])
def test_bad_appearance_settings_are_refused(overrides):
    with pytest.raises(ConfigError):
        Settings(**overrides).validate()
