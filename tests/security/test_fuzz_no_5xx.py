"""Issue 11, finding 9: fuzzing the form and JSON endpoints finds no 5xx.

The issue's fuzz run (1,370 requests) found 43 answers 5xx, all a non-ASCII ``csrf`` or a deeply
nested JSON body. Here hypothesis sends arbitrary text (NUL, newlines, non-ASCII, lone
surrogates excluded: they cannot be sent), arbitrary JSON and arbitrary bytes to each endpoint:
~100 examples an endpoint, no deadline, no example database. Any status is fine but 5xx.
"""

from __future__ import annotations

import base64
import json
import os
import re
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from psc_idp.oidc import urls
from tests.negative import register
from tests.security.flows import DEMO_ID, DEMO_SECRET, GP, open_login, path, persona_login, tokens

EXAMPLES = int(os.environ.get("PSC_FUZZ_EXAMPLES", "100"))
"""Examples per endpoint: 100 keeps the module near 10-20 s a database; 1000 for a long run."""
FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None,
                suppress_health_check=list(HealthCheck))

text = st.text(max_size=40)
hostile = st.one_of(text, st.sampled_from(["é", "\x00", "a\nb", "%00", "[" * 50, "x" * 3000,
                                           "\u2028", "../../etc", "' OR 1=1 --", "-1", "1e999"]))
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
    max_leaves=12)


def _form(*names: str, valid: dict[str, str] | None = None) -> st.SearchStrategy[dict[str, str]]:
    """A form with the endpoint's field names (each absent, valid or hostile) and extra ones."""
    fields = {}
    for name in names:
        choices = [hostile]
        if valid and name in valid:
            choices.append(st.just(valid[name]))
        fields[name] = st.one_of(*choices)
    return st.fixed_dictionaries({}, optional=fields).flatmap(
        lambda form: st.dictionaries(text, text, max_size=2).map(lambda extra: {**extra,
                                                                               **form}))


def _basic(user: str, secret: str) -> dict[str, str]:
    raw = f"{user}:{secret}".encode("utf-8", "surrogatepass")
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def _check(answer: Any, what: str, sent: Any) -> None:
    assert answer.status_code < 500, (what, answer.status_code, sent,
                                      answer.get_data(as_text=True)[:300])


def _fuzz(strategy: st.SearchStrategy[Any], send: Callable[[Any], Any], what: str) -> None:
    @FUZZ
    @given(strategy)
    def run(sent: Any) -> None:
        _check(send(sent), what, sent)

    run()


def test_forms_and_protocol_endpoints_never_answer_5xx(make_app):
    app = make_app()
    register(app, client_id="consenting-rp", client_secret="consenting-secret-42",
             redirect_uris=["https://rp.example/cb"], consent_required=True)
    browser = app.test_client()
    page = open_login(browser)
    valid = {"csrf": page.csrf, "national_id": GP}
    for means, names in (("persona", ("csrf", "national_id")),
                         ("ecps", ("csrf", "national_id")),
                         ("ecps_otp", ("csrf", "national_id", "otp")),
                         ("cancel", ("csrf",))):
        _fuzz(_form(*names, valid=valid),
              lambda form, m=means: browser.post(f"/login/{page.uid}/{m}", data=form), means)

    consenting = app.test_client()
    _, consent = persona_login(consenting, client_id="consenting-rp",
                               redirect_uri="https://rp.example/cb")
    uid = re.search(r"/login-actions/consent/([^\"]+)\"", consent.get_data(as_text=True))
    _fuzz(_form("csrf", "decision", valid={"decision": "approve"}),
          lambda form: consenting.post(path(urls.CONSENT, uid=uid.group(1)), data=form),
          "consent")

    signed_in = app.test_client()
    issued = tokens(app, signed_in)
    valid = {"client_id": DEMO_ID, "id_token_hint": issued["id_token"], "confirm": "yes",
             "post_logout_redirect_uri": "http://127.0.0.1:5001/"}
    _fuzz(_form("sid", "csrf", "ui_locales"),
          lambda form: signed_in.post(urls.ACCOUNT_SESSIONS, data=form), "account sessions")
    _fuzz(_form("client_id", "id_token_hint", "post_logout_redirect_uri", "state", "csrf",
                "confirm", "ui_locales", valid=valid),
          lambda form: signed_in.post(urls.LOGOUT, data=form), "logout")

    client = app.test_client()
    _fuzz(_form("response_type", "client_id", "redirect_uri", "scope", "state", "nonce",
                "code_challenge", "code_challenge_method", "prompt", "max_age", "login_hint",
                "acr_values", "ui_locales",
                valid={"response_type": "code", "client_id": DEMO_ID, "scope": "openid",
                       "redirect_uri": "http://127.0.0.1:5001/callback"}),
          lambda query: client.get(urls.WALLET_AUTHORIZE, query_string=query), "authorize")
    token_fields = ("grant_type", "code", "redirect_uri", "code_verifier", "refresh_token",
                    "client_id", "client_secret", "client_assertion_type",
                    "client_assertion", "scope", "auth_req_id")
    token_valid = {"grant_type": "authorization_code", "client_id": DEMO_ID,
                   "client_secret": DEMO_SECRET, "refresh_token": issued["refresh_token"],
                   "client_assertion_type":
                       "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}
    _fuzz(_form(*token_fields, valid=token_valid),
          lambda form: client.post(urls.TOKEN, data=form), "token")
    _fuzz(st.tuples(hostile, hostile, _form("grant_type", "code", "token")),
          lambda sent: client.post(urls.TOKEN, data=sent[2], headers=_basic(sent[0], sent[1])),
          "token (Basic)")
    for route in (urls.INTROSPECT, urls.REVOKE):
        _fuzz(_form("token", "token_type_hint", valid={"token": issued["access_token"]}),
              lambda form, r=route: client.post(r, data=form, auth=(DEMO_ID, DEMO_SECRET)),
              route)
    _fuzz(_form("scope", "login_hint", "binding_message", "acr_values", "client_id",
                "client_secret", valid={"scope": "openid", "login_hint": GP}),
          lambda form: client.post(urls.CIBA, data=form, auth=(DEMO_ID, DEMO_SECRET)), "ciba")
    one_line = hostile.map(lambda v: re.sub(r"[\r\n]", "", v))  # a header cannot hold them
    _fuzz(one_line, lambda token: client.get(urls.USERINFO,
                                             headers={"Authorization": f"Bearer {token}"}),
          "userinfo")


def _json_routes(app: Any) -> list[tuple[str, str]]:
    routes = []
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(("/api/mobile/v1", "/api/admin")):
            for method in sorted((rule.methods or set()) & {"POST", "PUT", "PATCH"}):
                routes.append((method, rule.rule))
    return routes


def test_json_endpoints_never_answer_5xx(make_app):
    app = make_app()
    client = app.test_client()
    started = client.post("/api/mobile/v1/activations", json={"national_id": GP})
    activation = started.get_json().get("activation_id", "x")
    bodies = st.one_of(
        json_values.map(lambda v: json.dumps(v).encode()),
        st.fixed_dictionaries({}, optional={
            name: json_values for name in ("national_id", "method", "email_code", "sms_code",
                                           "activation_token", "pin", "public_key",
                                           "device_name", "name", "url", "decision",
                                           "signature", "advance_seconds", "offset_seconds")
        }).map(lambda v: json.dumps(v).encode()),
        st.binary(max_size=200),
        st.integers(1, 40_000).map(lambda n: b"[" * n),
    )
    for method, rule in _json_routes(app):
        route = re.sub(r"<[^>]+>", activation, rule)
        _fuzz(st.tuples(bodies, st.sampled_from(["", "Bearer x", "Bearer " + "é" * 3])),
              lambda sent, m=method, r=route: client.open(
                  r, method=m, data=sent[0], content_type="application/json",
                  headers={"Authorization": sent[1]} if sent[1] else {}),
              f"{method} {rule}")


@pytest.mark.parametrize("body", [b"[" * 20_000, b'{"a":' * 6_000])
def test_the_issue_bodies_on_every_json_route(make_app, body):
    """The two bodies of the issue's fuzz report, once on every JSON route (no sampling)."""
    app = make_app(demo=False)
    client = app.test_client()
    for method, rule in _json_routes(app):
        answer = client.open(re.sub(r"<[^>]+>", "x", rule), method=method, data=body,
                             content_type="application/json")
        _check(answer, f"{method} {rule}", body[:10])
