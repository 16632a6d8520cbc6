"""Userinfo (RFC 6750), introspection (RFC 7662), revocation (RFC 7009), unknown paths,
RP-initiated logout, and the audit trail of the refusals."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time

import pytest
import requests
from joserfc import jwt
from joserfc.jwk import RSAKey

from tests.negative import (
    DEMO_ID,
    DEMO_REDIRECT,
    DEMO_SECRET,
    assert_error_page,
    assert_json_error,
    auth_params,
    authorize_url,
    register,
)
from tests.psc_actions import GP, PscActions, query

OTHER = ("other-rp", "other-rp-secret", "http://127.0.0.1:5989/cb")
POST_LOGOUT = "http://127.0.0.1:5001/"


@pytest.fixture
def tokens(psc) -> dict:
    return psc.full_login()[1]


def _userinfo(psc: PscActions, header: str | None) -> requests.Response:
    headers = {"Authorization": header} if header is not None else {}
    return requests.get(psc.metadata["userinfo_endpoint"], headers=headers, timeout=10)


def _assert_invalid_token(answer: requests.Response) -> None:
    assert_json_error(answer, 401, "invalid_token")
    challenge = answer.headers["WWW-Authenticate"]
    assert challenge.startswith("Bearer ") and 'error="invalid_token"' in challenge


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _introspect(psc: PscActions, token: str, auth=(DEMO_ID, DEMO_SECRET), **extra
                ) -> requests.Response:
    return requests.post(psc.metadata["introspection_endpoint"], auth=auth,
                         data={"token": token, **extra}, timeout=10)


# ----------------------------------------------------------------------------- userinfo
@pytest.mark.one_backend
def test_userinfo_without_token_is_401(live, psc):
    for method in ("GET", "POST"):
        answer = requests.request(method, psc.metadata["userinfo_endpoint"], timeout=10)
        assert_json_error(answer, 401, "invalid_request")
        assert answer.headers["WWW-Authenticate"].startswith("Bearer")
    empty = _userinfo(psc, "Bearer ")
    assert_json_error(empty, 401, "invalid_request")


@pytest.mark.parametrize("token", ["garbage", "a.b.c", "eyJhbGciOiJSUzI1NiJ9.e30.c2ln",
                                   "x" * 9000, "\u00e9t\u00e9"],
                         ids=["garbage", "dots", "bad-signature", "9kB", "latin1"])
def test_userinfo_with_garbage_token_is_401(live, psc, token):
    _assert_invalid_token(requests.get(
        psc.metadata["userinfo_endpoint"], timeout=10,
        headers={"Authorization": "Bearer " + token.encode("utf-8").decode("latin-1")}))


@pytest.mark.one_backend
def test_userinfo_with_token_signed_by_another_key_with_the_same_kid(live, psc, tokens):
    header = jwt.decode(tokens["access_token"], psc.key_set()).header
    claims = psc.verify(tokens["access_token"])
    forger = RSAKey.generate_key(2048, parameters={"kid": header["kid"]})
    forged = jwt.encode({"alg": "RS256", "typ": "JWT", "kid": header["kid"]}, claims, forger)
    _assert_invalid_token(_userinfo(psc, "Bearer " + forged))
    # the real one still works
    assert _userinfo(psc, "Bearer " + tokens["access_token"]).status_code == 200


@pytest.mark.one_backend
def test_userinfo_with_unsigned_or_tampered_token(live, psc, tokens):
    claims = psc.verify(tokens["access_token"])
    header = jwt.decode(tokens["access_token"], psc.key_set()).header
    unsigned = _b64({"alg": "none", "typ": "JWT"}) + "." + _b64(claims) + "."
    _assert_invalid_token(_userinfo(psc, "Bearer " + unsigned))
    head, _, signature = tokens["access_token"].split(".")
    tampered = ".".join([head, _b64(dict(claims, preferred_username="810099900028")),
                         signature])
    _assert_invalid_token(_userinfo(psc, "Bearer " + tampered))
    # the RS256/HS256 confusion: an HMAC keyed with the provider's public key
    public_pem = psc.key_set().keys[0].as_pem(private=False)
    signing_input = _b64({"alg": "HS256", "kid": header["kid"]}) + "." + _b64(claims)
    mac = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    hs = signing_input + "." + base64.urlsafe_b64encode(mac).rstrip(b"=").decode()
    _assert_invalid_token(_userinfo(psc, "Bearer " + hs))


def test_userinfo_with_id_token_or_refresh_token_is_401(live, psc, tokens):
    _assert_invalid_token(_userinfo(psc, "Bearer " + tokens["id_token"]))
    _assert_invalid_token(_userinfo(psc, "Bearer " + tokens["refresh_token"]))


def test_userinfo_with_expired_access_token_is_401(start):
    live = start(oidc={"access_token_lifetime": 1})
    psc = PscActions(live.issuer)
    _, tokens = psc.full_login()
    assert tokens["expires_in"] == 1
    time.sleep(1.5)
    _assert_invalid_token(_userinfo(psc, "Bearer " + tokens["access_token"]))
    assert _introspect(psc, tokens["access_token"]).json() == {"active": False}


@pytest.mark.one_backend
def test_userinfo_with_basic_authorization_is_401(live, psc):
    basic = "Basic " + base64.b64encode(f"{DEMO_ID}:{DEMO_SECRET}".encode()).decode()
    answer = _userinfo(psc, basic)
    assert answer.status_code == 401
    assert answer.json()["error"] in ("invalid_request", "invalid_token")
    assert answer.headers["WWW-Authenticate"].startswith("Bearer")


def test_userinfo_form_token_garbage_is_401(live, psc):
    answer = requests.post(psc.metadata["userinfo_endpoint"], data={"access_token": "nope"},
                           timeout=10)
    _assert_invalid_token(answer)


def test_userinfo_after_revocation_is_401(live, psc, tokens):
    revoked = requests.post(psc.metadata["revocation_endpoint"], auth=(DEMO_ID, DEMO_SECRET),
                            data={"token": tokens["access_token"]}, timeout=10)
    assert revoked.status_code == 200
    _assert_invalid_token(_userinfo(psc, "Bearer " + tokens["access_token"]))


# ----------------------------------------------------------------------------- introspection
def test_introspection_by_a_public_client_is_refused(live, psc, tokens):
    """As Keycloak answers (the default psc profile); strict: 401 invalid_client
    (tests/fidelity/test_client_auth.py)."""
    register(live.app, client_id="public-intro", redirect_uris=["http://127.0.0.1:5988/cb"],
             auth_method="none")
    answer = requests.post(psc.metadata["introspection_endpoint"], timeout=10,
                           data={"token": tokens["access_token"], "client_id": "public-intro"})
    assert_json_error(answer, 403, "invalid_request")
    assert "active" not in answer.json()


@pytest.mark.parametrize("endpoint", ["introspection_endpoint", "revocation_endpoint"])
@pytest.mark.parametrize("header", ["Basic ", "Basic 6Zm9vOmJhcg=="], ids=["empty", "not-utf8"])
def test_malformed_basic_header_at_introspection_and_revocation_is_401(live, psc, endpoint,
                                                                         header):
    answer = requests.post(psc.metadata[endpoint], headers={"Authorization": header},
                           data={"token": "x"}, timeout=10)
    # Keycloak's introspection endpoint answers any failed client authentication with
    # invalid_request (the default psc profile)
    assert_json_error(answer, 401, "invalid_request" if endpoint == "introspection_endpoint"
                      else "invalid_client")


def test_introspection_without_or_with_bad_client_auth_is_401(live, psc, tokens):
    """Keycloak's answer (the default psc profile): its introspection endpoint turns any failed
    client authentication into 401 invalid_request "Authentication failed."; the strict
    profile's invalid_client is tested in tests/fidelity/test_client_auth.py."""
    for auth in (None, (DEMO_ID, "wrong"), ("ghost", "x")):
        body = assert_json_error(_introspect(psc, tokens["access_token"], auth=auth), 401,
                                 "invalid_request")
        assert body["error_description"] == "Authentication failed."


@pytest.mark.parametrize("token", ["garbage", "a.b.c", "x" * 9000],
                         ids=["garbage", "dots", "9kB"])
def test_introspection_of_garbage_is_inactive(live, psc, token):
    answer = _introspect(psc, token)
    assert answer.status_code == 200
    assert answer.json() == {"active": False}


@pytest.mark.one_backend
def test_introspection_without_token_parameter_is_invalid_request(live, psc):
    answer = requests.post(psc.metadata["introspection_endpoint"], auth=(DEMO_ID, DEMO_SECRET),
                           data={}, timeout=10)
    assert_json_error(answer, 400, "invalid_request")


@pytest.mark.parametrize("endpoint", ["introspection_endpoint", "revocation_endpoint"])
def test_unknown_token_type_hint_is_not_an_authentication_failure(live, psc, tokens, endpoint):
    """RFC 7662 §2.1 / RFC 7009 §2.1: the server may ignore the hint; if it refuses it, that is
    an RFC 6749 §5.2 error, 400. A 401 would tell a correctly authenticated client that its
    credentials are wrong (and comes without the WWW-Authenticate header 401 requires)."""
    answer = requests.post(psc.metadata[endpoint], auth=(DEMO_ID, DEMO_SECRET), timeout=10,
                           data={"token": tokens["access_token"],
                                 "token_type_hint": "saml_assertion"})
    assert answer.status_code in (200, 400), (answer.status_code, answer.text)
    if answer.status_code == 400:
        assert answer.json()["error"] in ("unsupported_token_type", "invalid_request")


# ----------------------------------------------------------------------------- revocation
def test_revocation_of_someone_elses_token_is_refused(live, psc, tokens):
    register(live.app, client_id=OTHER[0], client_secret=OTHER[1], redirect_uris=[OTHER[2]])
    for token in (tokens["access_token"], tokens["refresh_token"]):
        answer = requests.post(psc.metadata["revocation_endpoint"], auth=(OTHER[0], OTHER[1]),
                               data={"token": token}, timeout=10)
        # RFC 7009 §2.1 refuses it with an RFC 6749 §5.2 error: Authlib says invalid_grant,
        # Keycloak invalid_request ("Unmatching clients"); both 400.
        assert answer.status_code == 400, answer.text
        assert answer.json()["error"] in ("invalid_grant", "invalid_request")
    # nothing was revoked
    assert _userinfo(psc, "Bearer " + tokens["access_token"]).status_code == 200
    assert _introspect(psc, tokens["refresh_token"]).json()["active"] is True


def test_revocation_without_client_auth_is_401(live, psc, tokens):
    answer = requests.post(psc.metadata["revocation_endpoint"], timeout=10,
                           data={"token": tokens["refresh_token"]})
    assert_json_error(answer, 401, "invalid_client")
    assert _introspect(psc, tokens["refresh_token"]).json()["active"] is True


def test_revocation_of_garbage_is_200_and_missing_token_is_400(live, psc):
    ok = requests.post(psc.metadata["revocation_endpoint"], auth=(DEMO_ID, DEMO_SECRET),
                       data={"token": "garbage"}, timeout=10)
    assert ok.status_code == 200  # RFC 7009 §2.2: invalid tokens do not cause an error
    missing = requests.post(psc.metadata["revocation_endpoint"], auth=(DEMO_ID, DEMO_SECRET),
                            data={}, timeout=10)
    assert_json_error(missing, 400, "invalid_request")


# ----------------------------------------------------------------------------- unknown paths
@pytest.mark.one_backend
@pytest.mark.parametrize("path", [
    "/auth/realms/esante-wallet/protocol/openid-connect/nope",
    "/auth/realms/esante-wallet/protocol/openid-connect/ext/par/request",
    "/auth/realms/other-realm/protocol/openid-connect/token",
])
def test_unknown_protocol_paths_are_404_json(live, path):
    for method in ("GET", "POST"):
        answer = requests.request(method, live.base_url + path, timeout=10)
        assert answer.status_code == 404
        assert answer.headers["Content-Type"].startswith("application/json")
        assert answer.json()["error"]


@pytest.mark.one_backend
@pytest.mark.parametrize("path", ["/nope", "/auth/realms/other-realm/.well-known/"
                                  "openid-configuration", "/login", "/static/../../etc/passwd",
                                  "/auth/admin/"])
def test_unknown_paths_are_404(live, path):
    answer = requests.get(live.base_url + path, timeout=10, allow_redirects=False)
    assert answer.status_code == 404
    assert "root:" not in answer.text


@pytest.mark.one_backend
def test_wrong_methods_are_405(live, psc):
    for method, url in (("DELETE", psc.metadata["userinfo_endpoint"]),
                        ("PUT", psc.metadata["authorization_endpoint"]),
                        ("POST", psc.metadata["jwks_uri"]),
                        ("GET", psc.metadata["introspection_endpoint"]),
                        ("GET", psc.metadata["revocation_endpoint"])):
        answer = requests.request(method, url, timeout=10, allow_redirects=False)
        assert answer.status_code == 405, (method, url, answer.status_code)


# ----------------------------------------------------------------------------- logout
def _logout(psc: PscActions, **params: str) -> requests.Response:
    return psc.browser.get(psc.metadata["end_session_endpoint"], params=params,
                           allow_redirects=False, timeout=10)


@pytest.mark.parametrize("hint", ["garbage", "a.b.c", "x" * 9000],
                         ids=["garbage", "dots", "9kB"])
def test_logout_with_invalid_id_token_hint_is_400(live, psc, hint):
    answer = _logout(psc, id_token_hint=hint, post_logout_redirect_uri=POST_LOGOUT)
    assert_error_page(answer, 400, "invalid_request")


@pytest.mark.one_backend
def test_logout_with_hint_signed_by_another_key_is_400(live, psc, tokens):
    claims = psc.verify(tokens["id_token"])
    kid = jwt.decode(tokens["id_token"], psc.key_set()).header["kid"]
    forged = jwt.encode({"alg": "RS256", "kid": kid}, claims,
                        RSAKey.generate_key(2048, parameters={"kid": kid}))
    answer = _logout(psc, id_token_hint=forged, post_logout_redirect_uri=POST_LOGOUT)
    assert_error_page(answer, 400, "invalid_request")


@pytest.mark.parametrize("target", ["http://evil.example/", "http://127.0.0.1:5001/x",
                                    "http://127.0.0.1:5001", DEMO_REDIRECT])
def test_logout_with_unregistered_post_logout_redirect_uri_is_400(live, psc, tokens, target):
    answer = _logout(psc, id_token_hint=tokens["id_token"], post_logout_redirect_uri=target,
                     state="st")
    assert_error_page(answer, 400, "invalid_request")
    answer = _logout(psc, client_id=DEMO_ID, post_logout_redirect_uri=target)
    assert_error_page(answer, 400, "invalid_request")


@pytest.mark.one_backend
def test_logout_redirect_without_hint_or_client_is_400(live, psc):
    answer = _logout(psc, post_logout_redirect_uri=POST_LOGOUT)
    assert_error_page(answer, 400, "invalid_request")


def test_logout_with_client_id_not_matching_the_hint_is_400(live, psc, tokens):
    register(live.app, client_id=OTHER[0], client_secret=OTHER[1], redirect_uris=[OTHER[2]],
             post_logout_redirect_uris=[POST_LOGOUT])
    answer = _logout(psc, id_token_hint=tokens["id_token"], client_id=OTHER[0],
                     post_logout_redirect_uri=POST_LOGOUT)
    assert_error_page(answer, 400, "invalid_request")


def test_logout_with_valid_hint_redirects_back_with_state(live, psc, tokens):
    answer = _logout(psc, id_token_hint=tokens["id_token"], post_logout_redirect_uri=POST_LOGOUT,
                     state="after-logout")
    # the demo client has a front-channel logout URI: a page loads it, then goes on
    assert answer.status_code == 200 and 'class="frontchannel-logout"' in answer.text
    location = re.search(r'data-target="([^"]+)"', answer.text).group(1).replace("&amp;", "&")
    assert location.split("?", 1)[0] == POST_LOGOUT
    assert query(location) == {"state": "after-logout"}
    # the IdP session is over: prompt=none now answers login_required
    params = auth_params(prompt="none")
    back = psc.open(authorize_url(psc, params))
    assert back.status_code == 302
    assert query(back.headers["Location"])["error"] == "login_required"


@pytest.mark.one_backend
def test_logout_post_without_csrf_does_not_end_the_session(live, psc, tokens):
    answer = psc.browser.post(psc.metadata["end_session_endpoint"], data={"confirm": "yes"},
                              allow_redirects=False, timeout=10)
    assert answer.status_code == 200  # the confirmation page again
    assert "csrf" in answer.text
    again = psc.open(authorize_url(psc, auth_params(prompt="none")))
    assert again.status_code == 302 and "code" in query(again.headers["Location"])


# ----------------------------------------------------------------------------- audit trail
def _audit(app) -> list:
    from psc_idp.audit import AuditEvent
    from psc_idp.db import db

    with app.app_context():
        rows = db.session.scalars(db.select(AuditEvent).order_by(AuditEvent.id)).all()
        return [(r.event, r.outcome, r.client_id, dict(r.details)) for r in rows]


def _provoke_refusals(live, psc) -> None:
    assert psc.open(authorize_url(psc, auth_params(client_id="ghost"))).status_code == 400
    assert psc.open(authorize_url(psc, auth_params(response_type="token"))).status_code == 302
    page = psc.open(authorize_url(psc, auth_params()))
    assert psc.pick_persona(page, "810099900011").status_code == 400
    rp = psc.client()
    start, callback = psc.login(rp)
    code = query(callback)["code"]
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": DEMO_REDIRECT,
            "code_verifier": start.verifier}
    url = psc.metadata["token_endpoint"]
    assert requests.post(url, auth=(DEMO_ID, "wrong"), data=form, timeout=10).status_code == 401
    assert requests.post(url, auth=(DEMO_ID, DEMO_SECRET), data=form, timeout=10).ok
    again = requests.post(url, auth=(DEMO_ID, DEMO_SECRET), data=form, timeout=10)
    assert again.status_code == 400


def test_audit_trail_records_token_and_login_refusals(live, psc):
    _provoke_refusals(live, psc)
    rows = _audit(live.app)
    events = [r[0] for r in rows]
    for event in ("token.refused", "token.reuse_detected", "login.failure", "login.success",
                  "token.issued"):
        assert event in events, (event, events)
    errors = {r[3].get("error") for r in rows if r[0] == "token.refused"}
    assert errors >= {"unauthorized_client", "invalid_grant"}  # wrong secret: Keycloak's code
    assert all(r[1] == "failure" for r in rows if r[0] == "token.refused")
    reuse = [r for r in rows if r[0] == "token.reuse_detected"]
    assert reuse[0][1] == "failure" and reuse[0][2] == DEMO_ID
    assert reuse[0][3]["kind"] == "authorization_code"
    failures = [r for r in rows if r[0] == "login.failure"]
    assert any(r[3].get("reason") == "unknown_professional" for r in failures)
    assert all(r[2] == DEMO_ID and r[1] == "failure" for r in failures)


def test_audit_trail_records_authorize_refusals(live, psc):
    _provoke_refusals(live, psc)
    refused = [r for r in _audit(live.app) if r[0] == "authorize.refused"]
    assert {r[3].get("reason") for r in refused} >= {"unknown_client",
                                                     "unsupported_response_type"}, refused
    assert all(r[1] == "failure" for r in refused)
    assert any(r[2] == "ghost" for r in refused)
    assert any(r[2] == DEMO_ID for r in refused)


def test_audit_token_refusal_names_the_basic_authenticated_client(live, psc):
    """A refused token request by a client authenticated with HTTP Basic (PSC's usual method)
    must say which client it was: the trail is useless for tracing otherwise."""
    _provoke_refusals(live, psc)
    refused = [r for r in _audit(live.app) if r[0] == "token.refused"]
    grant_refusals = [r for r in refused if r[3].get("error") == "invalid_grant"]
    assert grant_refusals
    assert all(r[2] == DEMO_ID for r in grant_refusals), grant_refusals


def test_persona_refusal_with_blocked_means_is_audited_and_redirected(live, psc):
    params = auth_params()
    page = psc.open(authorize_url(psc, params))
    done = psc.pick_persona(page, "810099900150")
    assert done.status_code == 302
    back = query(done.headers["Location"])
    assert back["error"] == "access_denied" and back["state"] == params["state"]
    assert back["iss"] == live.issuer
    failures = [r for r in _audit(live.app) if r[0] == "login.failure"]
    assert any(r[3].get("reason") == "means_blocked" for r in failures)
    assert GP not in json.dumps(failures)
