"""Issue 11, findings 9 and 10: hostile input answered 400, and one log line per event.

9. A non-ASCII ``csrf`` on the 7 forms that check one raised ``TypeError`` in
   ``secrets.compare_digest`` (500); 20,000 nested ``[`` raised ``RecursionError`` (500) on every
   JSON endpoint. Both are refused with a 400 in the endpoint's own format now.
10. A ``client_id`` or Basic user name holding a newline was logged raw (a forged second log
   line); a client chose its own ``X-Request-Id``, whatever it held.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import time
import uuid

import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey

from psc_idp.audit import record
from psc_idp.db import db
from psc_idp.oidc import urls
from tests.security.flows import DEMO_ID, DEMO_SECRET, open_login, path, persona_login, tokens

NON_ASCII = ["é", "csrf-é-ü", "\u2028", "日本語", "\U0001f600"]


@pytest.fixture
def app(make_app):
    return make_app()


def _assert_400_page(answer, what: str) -> None:
    assert answer.status_code == 400, (what, answer.status_code,
                                       answer.get_data(as_text=True)[:300])


# ----------------------------------------------------------------------------- finding 9: CSRF
@pytest.mark.parametrize("csrf", NON_ASCII)
def test_login_forms_refuse_a_non_ascii_csrf_with_400(app, csrf):
    """The persona, e-CPS push and e-CPS OTP forms, and the cancel form (4 of the 7)."""
    browser = app.test_client()
    page = open_login(browser)
    for means, fields in (("persona", {"national_id": "810099900010"}),
                          ("ecps", {"national_id": "810099900010"}),
                          ("ecps_otp", {"national_id": "810099900010", "otp": "123456"})):
        answer = browser.post(f"/login/{page.uid}/{means}", data={"csrf": csrf, **fields})
        _assert_400_page(answer, means)
        assert 'data-reason="csrf"' in answer.get_data(as_text=True)
    _assert_400_page(browser.post(f"/login/{page.uid}/cancel", data={"csrf": csrf}), "cancel")
    # the login is still open: the right token still works
    done = browser.post(f"/login/{page.uid}/persona",
                        data={"csrf": page.csrf, "national_id": "810099900010"})
    assert done.status_code == 302, done.get_data(as_text=True)[:300]


@pytest.mark.parametrize("csrf", NON_ASCII[:2])
def test_consent_logout_and_sessions_forms_refuse_a_non_ascii_csrf(app, csrf):
    """The consent, logout-confirmation and account-sessions forms (the other 3 of the 7)."""
    from tests.negative import register

    register(app, client_id="consenting-rp", client_secret="consenting-secret-42",
             redirect_uris=["https://rp.example/cb"], consent_required=True)
    browser = app.test_client()
    page, consent = persona_login(browser, client_id="consenting-rp",
                                  redirect_uri="https://rp.example/cb")
    assert consent.status_code == 200, consent.status_code
    consent_uid = re.search(r"/login-actions/consent/([^\"]+)\"",
                            consent.get_data(as_text=True)).group(1)
    answer = browser.post(path(urls.CONSENT, uid=consent_uid),
                          data={"csrf": csrf, "decision": "approve"})
    _assert_400_page(answer, "consent")

    browser = app.test_client()
    tokens(app, browser)  # a live IdP session in this browser
    sessions_page = browser.get(urls.ACCOUNT_SESSIONS)
    assert sessions_page.status_code == 200
    sid = re.search(r'name="sid" value="([^"]+)"', sessions_page.get_data(as_text=True))
    answer = browser.post(urls.ACCOUNT_SESSIONS,
                          data={"csrf": csrf, "sid": sid.group(1) if sid else "x"})
    _assert_400_page(answer, "account sessions")

    confirm = browser.get(urls.LOGOUT)
    assert confirm.status_code == 200 and 'name="csrf"' in confirm.get_data(as_text=True)
    answer = browser.post(urls.LOGOUT, data={"csrf": csrf, "confirm": "yes"})
    # a wrong token: the confirmation is asked again (Keycloak's behaviour), never a 500
    assert answer.status_code == 200, answer.status_code
    assert 'name="csrf"' in answer.get_data(as_text=True)


# ----------------------------------------------------------------------------- finding 9: JSON
def _json_endpoints(app) -> list[tuple[str, str]]:
    """Every rule of the JSON APIs that takes a body, its placeholders filled in."""
    found = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(("/api/mobile/v1", "/api/admin")):
            continue
        for method in sorted((rule.methods or set()) & {"POST", "PUT", "PATCH"}):
            found.append((method, re.sub(r"<[^>]+>", "x" * 36, rule.rule)))
    assert len(found) >= 8, found
    return found


BOMBS = {
    "20,000 [": "[" * 20_000,
    "6,000 {\"a\":": '{"a":' * 6_000,
    "33 levels": "[" * 33 + "]" * 33,
    "40 KB of JSON": json.dumps({"name": "x" * 40_000}),
    "100 KB of JSON": json.dumps({"name": "x" * 100_000}),  # the app-wide limit: 413
}


@pytest.mark.parametrize("bomb", list(BOMBS))
def test_every_json_endpoint_answers_400_to_deep_or_large_bodies(app, bomb):
    client = app.test_client()
    for method, route in _json_endpoints(app):
        answer = client.open(route, method=method, data=BOMBS[bomb],
                             content_type="application/json",
                             headers={"Authorization": "Bearer x"})
        # device routes may refuse the bearer first (401): the point is never a 5xx
        assert answer.status_code in (400, 401, 404, 413), (bomb, method, route,
                                                            answer.status_code)
        body = answer.get_json()
        assert body and body["error"] and body["error_description"], (route, body)
    # unauthenticated activation start: the body itself is what is refused
    answer = client.post("/api/mobile/v1/activations", data=BOMBS[bomb],
                         content_type="application/json")
    assert answer.status_code == (413 if bomb.startswith("100") else 400)
    assert answer.get_json()["error"] == "invalid_request"


def test_a_reasonable_body_is_still_read(app):
    client = app.test_client()
    answer = client.post("/api/admin/clock", json={"advance_seconds": 0})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    nested = {"national_id": "810099900010", "x": [[[[{"a": ["[{"] * 40}]]]]}
    answer = client.post("/api/mobile/v1/activations", json=nested)
    assert answer.status_code in (200, 201), answer.get_data(as_text=True)


@pytest.mark.parametrize("value", [True, 1e400, float("nan"), 10**30, -(10**30)])
def test_the_clock_refuses_absurd_offsets(app, value):
    raw = json.dumps({"advance_seconds": value})  # NaN and Infinity are what json writes
    answer = app.test_client().post("/api/admin/clock", data=raw,
                                    content_type="application/json")
    assert answer.status_code == 400, answer.get_data(as_text=True)
    assert app.test_client().get("/api/admin/clock").status_code == 200


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def test_deeply_nested_jwts_are_refused_not_500(app):
    """The same bomb inside a JWT header: a client assertion, a bearer token, a hint."""
    bomb = _b64(b"[" * 20_000)
    token = f"{bomb}.{_b64(b'{}')}.c2ln"
    client = app.test_client()
    answer = client.post(urls.TOKEN, data={
        "grant_type": "authorization_code", "code": "x", "redirect_uri": "https://x",
        "client_id": DEMO_ID,
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": token})
    assert answer.status_code in (400, 401), answer.status_code
    answer = client.get(urls.USERINFO, headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code in (400, 401), answer.status_code
    answer = client.post(urls.INTROSPECT, data={"token": token}, auth=(DEMO_ID, DEMO_SECRET))
    assert answer.status_code in (200, 400), answer.status_code
    answer = client.get(urls.LOGOUT, query_string={"id_token_hint": token})
    assert answer.status_code == 400, answer.status_code


# ----------------------------------------------------------------------------- finding 10
def _audit_lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "psc_idp.audit"]


def test_a_newline_in_a_basic_user_name_stays_on_one_log_line(app, caplog):
    forged = "evil\n2026-01-01 00:00:00,000 INFO psc_idp.audit login.success success " \
             "subject=810099900010 client=psc-demo-rp"
    caplog.set_level(logging.INFO, logger="psc_idp.audit")
    credentials = base64.b64encode(f"{forged}:secret".encode()).decode()
    answer = app.test_client().post(urls.TOKEN, data={"grant_type": "authorization_code",
                                                      "code": "x", "redirect_uri": "https://x"},
                                    headers={"Authorization": f"Basic {credentials}"})
    assert answer.status_code in (400, 401)
    lines = _audit_lines(caplog)
    assert lines, "the refusal was audited"
    for line in lines:
        assert "\n" not in line and "\r" not in line, line
    assert any("evil\\x0a2026" in line for line in lines), lines


def test_record_escapes_every_client_chosen_field(app, caplog):
    caplog.set_level(logging.INFO, logger="psc_idp.audit")
    with app.test_request_context("/", headers={"X-Request-Id": "ok-request-1234"}):
        record("token.refused", "failure", client_id="a\r\nb\u2028c\x85d\\x0a",
               subject="8100\n", reason="x\ny", nested={"k": "v\nw"})
        db.session.rollback()
    (line,) = _audit_lines(caplog)
    assert "\n" not in line and "\r" not in line and "\u2028" not in line and "\x85" not in line
    assert "client=a\\x0d\\x0ab\\u2028c\\x85d\\\\x0a" in line  # a typed "\x0a" is not a newline
    assert "request=ok-request-1234" in line


def test_the_log_formatter_keeps_any_message_on_one_line():
    from psc_idp.audit.logline import OneLineFormatter

    formatter = OneLineFormatter("%(levelname)s %(message)s")
    entry = logging.LogRecord("psc_idp", logging.WARNING, __file__, 1,
                              "database refused a value on %s", ("/path\nINFO forged",), None)
    assert formatter.format(entry) == "WARNING database refused a value on /path\\x0aINFO forged"


@pytest.mark.parametrize("sent, kept", [
    ("0123456789abcdef0123456789abcdef", True),
    ("20851984-a580-42d2-bd4e-f00407d339b7", True),  # a UUID (fixed: xdist collects twice)
    ("req.id_1-2", True),
    ("short", False),                      # under 8 characters
    ("x" * 41, False),                     # over 40 (the column)
    ("has space inside", False),
    ("quote\"inside1", False),
    ("inject;evil=1234", False),
    ("ünïcödé-request", False),
])
def test_x_request_id_is_kept_only_in_the_strict_format(app, sent, kept):
    answer = app.test_client().get(urls.DISCOVERY, headers={"X-Request-Id": sent})
    echoed = answer.headers["X-Request-Id"]
    if kept:
        assert echoed == sent
    else:
        assert echoed != sent and re.fullmatch(r"[0-9a-f]{32}", echoed), echoed


def test_the_audit_row_carries_the_checked_request_id(app):
    from psc_idp.audit import AuditEvent

    client = app.test_client()
    client.post(urls.TOKEN, data={"grant_type": "x"}, auth=("nobody-here", "s"),
                headers={"X-Request-Id": "not valid id!"})
    with app.app_context():
        row = db.session.scalars(db.select(AuditEvent).order_by(AuditEvent.id.desc())).first()
        assert row is not None and re.fullmatch(r"[0-9a-f]{32}", row.request_id), row.request_id


# ----------------------------------------------------------------------------- 12: assertions
def _assertion_client(app) -> RSAKey:
    from tests.negative import register

    key = RSAKey.generate_key(2048, parameters={"kid": "k1"})
    register(app, client_id="pkjwt-rp", redirect_uris=["https://rp.example/cb"],
             auth_method="private_key_jwt",
             jwks={"keys": [dict(key.as_dict(private=False), kid="k1", use="sig")]})
    return key


def _introspect(app, key: RSAKey, **claims: object):
    issuer = app.extensions["psc_idp"].settings.issuer
    body = {"iss": "pkjwt-rp", "sub": "pkjwt-rp", "aud": issuer, "jti": str(uuid.uuid4())}
    body.update({k: v for k, v in claims.items() if v is not None})
    assertion = jwt.encode({"alg": "RS256", "kid": "k1"}, body, key)
    return app.test_client().post(urls.INTROSPECT, data={
        "token": "not-a-token",
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": assertion})


def test_client_assertions_live_five_minutes_at_most(make_app):
    # strict profile: the RFC's invalid_client (the psc profile answers as Keycloak does)
    app = make_app(fidelity={"profile": "strict"})
    key = _assertion_client(app)
    now = int(time.time())
    refused = [
        {"iat": now, "exp": now + 10 * 365 * 86400},      # the finding: valid ten years
        {"iat": now, "exp": now + 301},
        {"exp": now + 400},                                # no iat: exp - now
        {"iat": now - 3600, "exp": now + 60},              # issued an hour ago
        {"iat": now, "exp": 1e16},
    ]
    for claims in refused:
        answer = _introspect(app, key, **claims)
        assert answer.status_code in (400, 401), (claims, answer.status_code)
        assert answer.get_json()["error"] == "invalid_client", answer.get_json()
    for claims in ({"iat": now, "exp": now + 300}, {"exp": now + 250},
                   {"iat": now - 30, "exp": now + 60}):
        answer = _introspect(app, key, **claims)
        assert answer.status_code == 200, (claims, answer.get_data(as_text=True))
        assert answer.get_json() == {"active": False}
