"""The token endpoint refusing bad requests, each with its RFC 6749 §5.2 error.

Client authentication failures are 401 ``invalid_client`` (with ``WWW-Authenticate``); a bad
code, verifier or redirect URI is 400 ``invalid_grant``; a replayed code revokes everything the
first redemption produced. These are the strict fidelity profile's answers, so the provider here
runs in it; the psc profile's Keycloak codes and wording are tested by
``tests/fidelity/test_client_auth.py``.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
import uuid

import pytest
import requests
from joserfc import jwt
from joserfc.jwk import RSAKey

from tests.negative import (
    DEMO_ID,
    DEMO_REDIRECT,
    DEMO_SECRET,
    assert_json_error,
    register,
)
from tests.psc_actions import PscActions, query

OTHER = ("other-rp", "other-rp-secret", "http://127.0.0.1:5993/cb")
PKJWT = ("pkjwt-neg", "http://127.0.0.1:5992/cb")


@pytest.fixture
def live(start):
    return start(fidelity={"profile": "strict"})


def _code(psc: PscActions, client_id: str = DEMO_ID, secret: str | None = DEMO_SECRET,
          redirect_uri: str = DEMO_REDIRECT) -> tuple[str, str]:
    """A fresh authorization code and its PKCE verifier (logs in or reuses the SSO session)."""
    rp = psc.client(client_id, secret, redirect_uri)
    start, callback = psc.login(rp)
    return query(callback)["code"], start.verifier


def _redeem(psc: PscActions, code: str, verifier: str | None, *,
            auth: tuple[str, str] | None = (DEMO_ID, DEMO_SECRET),
            redirect_uri: str | None = DEMO_REDIRECT, **extra: str) -> requests.Response:
    data = {"grant_type": "authorization_code", "code": code}
    if redirect_uri is not None:
        data["redirect_uri"] = redirect_uri
    if verifier is not None:
        data["code_verifier"] = verifier
    data.update(extra)
    return requests.post(psc.metadata["token_endpoint"], auth=auth, data=data, timeout=10)


def _token_url(psc: PscActions) -> str:
    return psc.metadata["token_endpoint"]


# ----------------------------------------------------------------------------- client auth
def test_unknown_client_is_invalid_client_401(live, psc):
    code, verifier = _code(psc)
    answer = _redeem(psc, code, verifier, auth=("no-such-client", "whatever"))
    assert_json_error(answer, 401, "invalid_client")
    assert answer.headers.get("WWW-Authenticate", "").lower().startswith("basic")
    # the code was not burnt by the failed attempt
    assert _redeem(psc, code, verifier).status_code == 200


def test_wrong_secret_is_invalid_client_401(live, psc):
    code, verifier = _code(psc)
    for secret in ("wrong-secret", "", DEMO_SECRET.upper(), DEMO_SECRET + " "):
        answer = _redeem(psc, code, verifier, auth=(DEMO_ID, secret))
        assert_json_error(answer, 401, "invalid_client")


def test_no_client_authentication_at_all_is_invalid_client(live, psc):
    code, verifier = _code(psc)
    answer = _redeem(psc, code, verifier, auth=None)
    assert_json_error(answer, 401, "invalid_client")
    answer = _redeem(psc, code, verifier, auth=None, client_id=DEMO_ID)
    assert_json_error(answer, 401, "invalid_client")


@pytest.mark.parametrize("header", ["Basic !!!not-base64!!!", "Basic ", "Basic Zm9v",
                                    "Basic " + "QUFB" * 3000, "Bearer abc", "Basic 6Zm9vOmJhcg=="],
                         ids=["not-base64", "empty", "no-colon", "12kB", "bearer", "not-utf8"])
def test_malformed_basic_header_is_invalid_client(live, psc, header):
    answer = requests.post(_token_url(psc), headers={"Authorization": header},
                           data={"grant_type": "authorization_code", "code": "x"}, timeout=10)
    assert_json_error(answer, 401, "invalid_client")


@pytest.mark.one_backend
def test_client_secret_post_is_refused_for_a_basic_client(live, psc):
    code, verifier = _code(psc)
    answer = _redeem(psc, code, verifier, auth=None, client_id=DEMO_ID, client_secret=DEMO_SECRET)
    assert_json_error(answer, 401, "invalid_client")
    assert _redeem(psc, code, verifier).status_code == 200


@pytest.mark.one_backend
def test_basic_is_refused_for_a_client_secret_post_client(live, psc):
    register(live.app, client_id="post-rp", client_secret="post-rp-secret",
             redirect_uris=["http://127.0.0.1:5991/cb"], auth_method="client_secret_post")
    code, verifier = _code(psc, "post-rp", "post-rp-secret", "http://127.0.0.1:5991/cb")
    answer = _redeem(psc, code, verifier, auth=("post-rp", "post-rp-secret"),
                     redirect_uri="http://127.0.0.1:5991/cb")
    assert_json_error(answer, 401, "invalid_client")
    ok = _redeem(psc, code, verifier, auth=None, redirect_uri="http://127.0.0.1:5991/cb",
                 client_id="post-rp", client_secret="post-rp-secret")
    assert ok.status_code == 200, ok.text


def test_public_client_cannot_redeem_another_clients_code(live, psc):
    register(live.app, client_id="public-rp", redirect_uris=["http://127.0.0.1:5990/cb"],
             auth_method="none")
    code, verifier = _code(psc)
    answer = _redeem(psc, code, verifier, auth=None, client_id="public-rp",
                     redirect_uri="http://127.0.0.1:5990/cb")
    assert_json_error(answer, 400, "invalid_grant")
    # and a confidential client cannot pass itself off as public (no secret sent)
    answer = _redeem(psc, code, verifier, auth=None, client_id=DEMO_ID)
    assert_json_error(answer, 401, "invalid_client")


# ----------------------------------------------------------------------------- code, PKCE
@pytest.mark.one_backend
def test_missing_code_verifier_is_invalid_request(live, psc):
    code, verifier = _code(psc)
    answer = _redeem(psc, code, None)
    body = assert_json_error(answer, 400, "invalid_request")
    assert "code_verifier" in body["error_description"]
    assert _redeem(psc, code, verifier).status_code == 200


def test_wrong_code_verifier_is_invalid_grant(live, psc):
    code, verifier = _code(psc)
    answer = _redeem(psc, code, secrets.token_urlsafe(48))
    assert_json_error(answer, 400, "invalid_grant")


@pytest.mark.one_backend
def test_malformed_code_verifier_is_refused(live, psc):
    code, _ = _code(psc)
    for bad in ("short", "x" * 129, "spaces are not allowed in a verifier at all......"):
        answer = _redeem(psc, code, bad)
        assert answer.status_code == 400
        assert answer.json()["error"] in ("invalid_request", "invalid_grant")


@pytest.mark.one_backend
def test_code_verifier_without_code_challenge_is_refused(live, psc):
    """RFC 9700 §4.8.2 (PKCE downgrade): no challenge at authorize, a verifier at the token."""
    rp = psc.client()
    url, state = rp.create_authorization_url(psc.metadata["authorization_endpoint"],
                                             acr_values="eidas1")
    assert "code_challenge" not in url
    page = psc.open(url)
    done = psc.pick_persona(page) if page.status_code == 200 else page
    code = query(done.headers["Location"])["code"]
    answer = _redeem(psc, code, secrets.token_urlsafe(48))
    assert_json_error(answer, 400, "invalid_request")


@pytest.mark.parametrize("code", ["", "nope", "x" * 5000], ids=["empty", "nope", "5kB"])
def test_unknown_code_is_invalid_grant(live, psc, code):
    answer = _redeem(psc, code, secrets.token_urlsafe(48))
    assert_json_error(answer, 400, "invalid_grant")


@pytest.mark.one_backend
def test_missing_code_is_invalid_request(live, psc):
    answer = requests.post(_token_url(psc), auth=(DEMO_ID, DEMO_SECRET),
                           data={"grant_type": "authorization_code",
                                 "redirect_uri": DEMO_REDIRECT}, timeout=10)
    assert_json_error(answer, 400, "invalid_request")


def test_reused_code_is_refused_and_revokes_the_first_tokens(live, psc):
    code, verifier = _code(psc)
    first = _redeem(psc, code, verifier)
    assert first.status_code == 200
    tokens = first.json()
    again = _redeem(psc, code, verifier)
    assert_json_error(again, 400, "invalid_grant")

    info = requests.get(psc.metadata["userinfo_endpoint"],
                        headers={"Authorization": "Bearer " + tokens["access_token"]}, timeout=10)
    assert_json_error(info, 401, "invalid_token")
    intro = requests.post(psc.metadata["introspection_endpoint"], auth=(DEMO_ID, DEMO_SECRET),
                          data={"token": tokens["access_token"]}, timeout=10)
    assert intro.status_code == 200 and intro.json() == {"active": False}
    intro = requests.post(psc.metadata["introspection_endpoint"], auth=(DEMO_ID, DEMO_SECRET),
                          data={"token": tokens["refresh_token"]}, timeout=10)
    assert intro.json() == {"active": False}
    refresh = requests.post(_token_url(psc), auth=(DEMO_ID, DEMO_SECRET),
                            data={"grant_type": "refresh_token",
                                  "refresh_token": tokens["refresh_token"]}, timeout=10)
    assert_json_error(refresh, 400, "invalid_grant")


def test_expired_code_is_invalid_grant(start):
    live = start(oidc={"code_lifetime": 1}, fidelity={"profile": "strict"})
    psc = PscActions(live.issuer)
    code, verifier = _code(psc)
    time.sleep(1.5)
    answer = _redeem(psc, code, verifier)
    assert_json_error(answer, 400, "invalid_grant")


@pytest.mark.parametrize("redirect_uri", ["http://127.0.0.1:5001/other",
                                          "http://127.0.0.1:5001/callback/", ""])
def test_wrong_redirect_uri_at_the_token_endpoint_is_invalid_grant(live, psc, redirect_uri):
    code, verifier = _code(psc)
    answer = _redeem(psc, code, verifier, redirect_uri=redirect_uri)
    assert_json_error(answer, 400, "invalid_grant")


def test_redirect_uri_omitted_at_token_when_sent_at_authorize_is_invalid_grant(live, psc):
    code, verifier = _code(psc)
    answer = _redeem(psc, code, verifier, redirect_uri=None)
    assert_json_error(answer, 400, "invalid_grant")


def test_code_of_client_a_redeemed_by_client_b_is_invalid_grant(live, psc):
    register(live.app, client_id=OTHER[0], client_secret=OTHER[1], redirect_uris=[OTHER[2]])
    code, verifier = _code(psc)
    for redirect_uri in (OTHER[2], DEMO_REDIRECT):
        answer = _redeem(psc, code, verifier, auth=(OTHER[0], OTHER[1]),
                         redirect_uri=redirect_uri)
        assert_json_error(answer, 400, "invalid_grant")


def test_refresh_token_of_client_a_used_by_client_b_is_invalid_grant(live, psc):
    register(live.app, client_id=OTHER[0], client_secret=OTHER[1], redirect_uris=[OTHER[2]])
    code, verifier = _code(psc)
    tokens = _redeem(psc, code, verifier).json()
    answer = requests.post(_token_url(psc), auth=(OTHER[0], OTHER[1]),
                           data={"grant_type": "refresh_token",
                                 "refresh_token": tokens["refresh_token"]}, timeout=10)
    assert_json_error(answer, 400, "invalid_grant")
    # still good for its own client
    own = requests.post(_token_url(psc), auth=(DEMO_ID, DEMO_SECRET),
                        data={"grant_type": "refresh_token",
                              "refresh_token": tokens["refresh_token"]}, timeout=10)
    assert own.status_code == 200


@pytest.mark.parametrize("value", ["garbage", "a.b.c", "x" * 10_000],
                         ids=["garbage", "dots", "10kB"])
def test_garbage_refresh_token_is_invalid_grant(live, psc, value):
    answer = requests.post(_token_url(psc), auth=(DEMO_ID, DEMO_SECRET),
                           data={"grant_type": "refresh_token", "refresh_token": value},
                           timeout=10)
    assert_json_error(answer, 400, "invalid_grant")


def test_access_token_as_refresh_token_is_invalid_grant(live, psc):
    code, verifier = _code(psc)
    tokens = _redeem(psc, code, verifier).json()
    answer = requests.post(_token_url(psc), auth=(DEMO_ID, DEMO_SECRET),
                           data={"grant_type": "refresh_token",
                                 "refresh_token": tokens["access_token"]}, timeout=10)
    assert_json_error(answer, 400, "invalid_grant")


# ----------------------------------------------------------------------------- grant types, body
@pytest.mark.one_backend
@pytest.mark.parametrize("grant_type", ["password", "client_credentials", "implicit",
                                        "urn:ietf:params:oauth:grant-type:device_code",
                                        "urn:ietf:params:oauth:grant-type:jwt-bearer", "bogus"])
def test_unsupported_grant_type(live, psc, grant_type):
    answer = requests.post(_token_url(psc), auth=(DEMO_ID, DEMO_SECRET),
                           data={"grant_type": grant_type, "username": "u", "password": "p"},
                           timeout=10)
    assert_json_error(answer, 400, "unsupported_grant_type")


@pytest.mark.one_backend
def test_missing_grant_type_is_invalid_request(live, psc):
    """RFC 6749 §5.2: a missing required parameter is ``invalid_request`` (Keycloak: "Missing
    form parameter: grant_type"); ``unsupported_grant_type`` is for a grant type the server
    does not know. A JSON, empty or binary body carries no form parameter at all."""
    url = _token_url(psc)
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    attempts = {
        "no grant_type": dict(data={"code": "x"}),
        "json body": dict(json={"grant_type": "authorization_code", "code": "x"}),
        "empty body": dict(data=b"", headers=form),
        "binary body": dict(data=b"\x00\xff\xfe garbage \x80\x81", headers=form),
        "separators only": dict(data=b"=&=&", headers=form),
    }
    problems = []
    for name, kwargs in attempts.items():
        answer = requests.post(url, auth=(DEMO_ID, DEMO_SECRET), timeout=10, **kwargs)
        assert answer.status_code == 400, (name, answer.status_code)
        assert answer.headers["Content-Type"].startswith("application/json"), name
        if answer.json()["error"] != "invalid_request":
            problems.append((name, answer.json()))
    assert not problems, problems


@pytest.mark.parametrize("body", [b"%%%&&&===", b"grant_type=%ZZ",
                                  "grant_type=caf\u00e9".encode("latin-1"),
                                  b"grant_type=authorization_code\x00"],
                         ids=["percents", "bad-escape", "latin1", "nul"])
def test_garbage_grant_type_is_refused(live, psc, body):
    answer = requests.post(_token_url(psc), auth=(DEMO_ID, DEMO_SECRET), data=body, timeout=10,
                           headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"] in ("invalid_request", "unsupported_grant_type")
    if b"grant_type=" in body and body.isascii():  # a readable but unknown grant type
        assert answer.json()["error"] == "unsupported_grant_type"


@pytest.mark.one_backend
def test_bare_post_without_anything_is_400_json(live, psc):
    answer = requests.post(_token_url(psc), timeout=10)
    assert answer.status_code in (400, 401)
    assert answer.json()["error"] in ("invalid_request", "unsupported_grant_type",
                                      "invalid_client")


@pytest.mark.one_backend
def test_hundred_kilobyte_body_is_413_in_protocol_format(live, psc):
    answer = requests.post(_token_url(psc), auth=(DEMO_ID, DEMO_SECRET), timeout=10,
                           data={"grant_type": "authorization_code", "code": "c" * 100_000})
    body = assert_json_error(answer, 413, "invalid_request")
    assert body["error_description"]


@pytest.mark.one_backend
def test_get_on_the_token_endpoint_is_405_json(live, psc):
    answer = requests.get(_token_url(psc), params={"grant_type": "authorization_code"},
                          timeout=10)
    assert_json_error(answer, 405, "invalid_request")
    assert "POST" in answer.headers.get("Allow", "")


# ----------------------------------------------------------------------------- private_key_jwt
def _pkjwt_client(live) -> RSAKey:
    key = RSAKey.generate_key(2048, parameters={"kid": "rp-key"})
    public = {"keys": [dict(key.as_dict(private=False), kid="rp-key", use="sig")]}
    register(live.app, client_id=PKJWT[0], redirect_uris=[PKJWT[1]],
             auth_method="private_key_jwt", jwks=public)
    return key


def _assertion(psc: PscActions, key: RSAKey, *, jti: str | None = None, alg: str = "RS256",
               **claims: object) -> str:
    now = int(time.time())
    body = {"iss": PKJWT[0], "sub": PKJWT[0], "aud": _token_url(psc), "iat": now,
            "exp": now + 60, "jti": jti or str(uuid.uuid4())}
    body.update(claims)
    return jwt.encode({"alg": alg, "kid": "rp-key"}, body, key, algorithms=[alg])


def _assert_assertion_refused(answer: requests.Response) -> None:
    """RFC 6749 §5.2: invalid_client; 401 is required only when the client authenticated with
    the Authorization header, so for a refused client assertion 400 (Authlib's) or 401 is right."""
    assert answer.status_code in (400, 401), (answer.status_code, answer.text[:300])
    assert answer.headers["Content-Type"].startswith("application/json")
    assert answer.json()["error"] == "invalid_client", answer.text


def _redeem_pkjwt(psc: PscActions, code: str, verifier: str, assertion: str
                  ) -> requests.Response:
    return _redeem(psc, code, verifier, auth=None, redirect_uri=PKJWT[1],
                   client_assertion_type="urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                   client_assertion=assertion)


@pytest.mark.one_backend
def test_private_key_jwt_signed_by_the_wrong_key_is_invalid_client(live, psc):
    key = _pkjwt_client(live)
    code, verifier = _code(psc, PKJWT[0], None, PKJWT[1])
    intruder = RSAKey.generate_key(2048, parameters={"kid": "rp-key"})
    answer = _redeem_pkjwt(psc, code, verifier, _assertion(psc, intruder))
    _assert_assertion_refused(answer)
    ok = _redeem_pkjwt(psc, code, verifier, _assertion(psc, key))
    assert ok.status_code == 200, ok.text


@pytest.mark.one_backend
@pytest.mark.parametrize("claims", [
    {"aud": "https://someone-else.example/token"},
    {"exp": 1_000_000_000},
    {"iss": "another-client"},
    {"sub": "no-such-client"},
])
def test_private_key_jwt_with_bad_claims_is_invalid_client(live, psc, claims):
    key = _pkjwt_client(live)
    code, verifier = _code(psc, PKJWT[0], None, PKJWT[1])
    answer = _redeem_pkjwt(psc, code, verifier, _assertion(psc, key, **claims))
    _assert_assertion_refused(answer)


@pytest.mark.one_backend
def test_private_key_jwt_unsigned_or_garbage_assertion_is_invalid_client(live, psc):
    _pkjwt_client(live)
    code, verifier = _code(psc, PKJWT[0], None, PKJWT[1])

    def b64(data: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    now = int(time.time())
    unsigned = b64({"alg": "none"}) + "." + b64(
        {"iss": PKJWT[0], "sub": PKJWT[0], "aud": _token_url(psc), "exp": now + 60,
         "jti": "n1"}) + "."
    for assertion in (unsigned, "not-a-jwt", "a.b.c", "x" * 9000):
        answer = _redeem_pkjwt(psc, code, verifier, assertion)
        _assert_assertion_refused(answer)


def test_private_key_jwt_same_jti_twice_is_invalid_client(live, psc):
    key = _pkjwt_client(live)
    assertion = _assertion(psc, key, jti="only-once-" + secrets.token_hex(4))
    code, verifier = _code(psc, PKJWT[0], None, PKJWT[1])
    first = _redeem_pkjwt(psc, code, verifier, assertion)
    assert first.status_code == 200, first.text
    code2, verifier2 = _code(psc, PKJWT[0], None, PKJWT[1])
    second = _redeem_pkjwt(psc, code2, verifier2, assertion)
    _assert_assertion_refused(second)
    fresh = _redeem_pkjwt(psc, code2, verifier2, _assertion(psc, key))
    assert fresh.status_code == 200, fresh.text


@pytest.mark.one_backend
def test_client_secret_basic_is_refused_for_a_private_key_jwt_client(live, psc):
    _pkjwt_client(live)
    code, verifier = _code(psc, PKJWT[0], None, PKJWT[1])
    answer = _redeem(psc, code, verifier, auth=(PKJWT[0], "any-secret"), redirect_uri=PKJWT[1])
    assert_json_error(answer, 401, "invalid_client")
