"""The authorization endpoint and the login pages refusing bad requests (browser side).

Before the client and the exact redirect URI are known, the browser gets an error page and is
never redirected (RFC 6749 §4.1.2.1, RFC 9700 §4.1.3); after that, errors go back to the RP
with ``state`` and ``iss`` (RFC 9207).
"""

from __future__ import annotations

import re
import secrets
from urllib.parse import urlencode

import pytest
import requests

from tests.negative import (
    DEMO_ID,
    DEMO_REDIRECT,
    DEMO_SECRET,
    assert_error_page,
    assert_redirect_error,
    auth_params,
    authorize_url,
    register,
    s256,
)
from tests.psc_actions import GP, PscActions, query

PUBLIC = ("public-spa", "http://127.0.0.1:5995/cb")


def _form(page: requests.Response, kind: str = "persona") -> tuple[str, str]:
    """The action of the persona (or cancel) form and the page's CSRF token."""
    pattern = r'action="(/login/[^"]+/persona)"' if kind == "persona" else \
        r'action="(/login/[^"]+/cancel)"'
    action = re.search(pattern, page.text)
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert action and csrf, page.text[:300]
    return action.group(1), csrf.group(1)


def _login_page(psc: PscActions, **overrides: str) -> tuple[dict[str, str], requests.Response]:
    params = auth_params(**overrides)
    page = psc.open(authorize_url(psc, params))
    assert page.status_code == 200, page.text[:300]
    return params, page


# ----------------------------------------------------------------------------- client, redirect
def test_unknown_client_gets_an_error_page_and_no_redirect(live, psc):
    for params in (auth_params(client_id="no-such-client"), auth_params(client_id=None)):
        answer = psc.open(authorize_url(psc, params))
        assert_error_page(answer, 400, "invalid_client")
        assert DEMO_REDIRECT not in answer.text


def test_duplicated_client_id_gets_an_error_page(live, psc):
    params = list(auth_params().items()) + [("client_id", "other")]
    assert_error_page(psc.open(authorize_url(psc, params)), 400)


def test_unknown_client_by_post_form_gets_an_error_page(live, psc):
    answer = psc.browser.post(psc.metadata["authorization_endpoint"],
                              data=auth_params(client_id="ghost"), allow_redirects=False)
    assert_error_page(answer, 400, "invalid_client")


@pytest.mark.parametrize("redirect_uri", [
    "http://127.0.0.1:5001/callback/extra",      # registered one as a prefix
    "http://127.0.0.1:5001/callbackx",           # suffix
    "http://127.0.0.1:5001/callback?next=/x",    # extra query
    "http://127.0.0.1:5001/callback#frag",
    "http://127.0.0.1:5001/callback/",           # trailing slash
    "http://127.0.0.1:5001/Callback",            # case
    "http://127.0.0.1:5001/",                    # a prefix of the registered one
    "http://127.0.0.1:5002/callback",            # other port
    "https://127.0.0.1:5001/callback",           # other scheme
    "http://evil.example/callback",
    "http://127.0.0.1:5001/callback@evil.example",
])
def test_unregistered_redirect_uri_gets_an_error_page_exact_match(live, psc, redirect_uri):
    answer = psc.open(authorize_url(psc, auth_params(redirect_uri=redirect_uri)))
    assert_error_page(answer, 400, "invalid_request")
    assert "redirect_uri" in answer.text


def test_duplicated_redirect_uri_gets_an_error_page(live, psc):
    params = list(auth_params().items()) + [("redirect_uri", DEMO_REDIRECT)]
    assert_error_page(psc.open(authorize_url(psc, params)), 400, "invalid_request")


def test_missing_redirect_uri_with_two_registered_is_refused(live, psc):
    register(live.app, client_id="two-uris", client_secret="two-uris-secret",
             redirect_uris=["http://127.0.0.1:5994/a", "http://127.0.0.1:5994/b"])
    answer = psc.open(authorize_url(psc, auth_params(client_id="two-uris", redirect_uri=None)))
    assert_error_page(answer, 400, "invalid_request")


def test_missing_redirect_uri_with_a_single_registered_one_is_accepted(live, psc):
    verifier = secrets.token_urlsafe(48)
    params = auth_params(redirect_uri=None, code_challenge=s256(verifier))
    page = psc.open(authorize_url(psc, params))
    assert page.status_code == 200
    done = psc.pick_persona(page)
    assert done.status_code == 302
    assert done.headers["Location"].startswith(DEMO_REDIRECT + "?")
    code = query(done.headers["Location"])["code"]
    # RFC 6749 §4.1.3: redirect_uri is required at the token endpoint only "if the
    # redirect_uri parameter was included in the authorization request".
    token = requests.post(psc.metadata["token_endpoint"], auth=(DEMO_ID, DEMO_SECRET),
                          data={"grant_type": "authorization_code", "code": code,
                                "code_verifier": verifier}, timeout=10)
    assert token.status_code == 200, token.text
    assert token.json()["access_token"]


@pytest.mark.one_backend
def test_error_page_is_json_when_the_caller_asks_for_json(live, psc):
    answer = psc.browser.get(authorize_url(psc, auth_params(client_id="ghost")),
                             headers={"Accept": "application/json"}, allow_redirects=False)
    assert answer.status_code == 400
    assert answer.headers["Content-Type"].startswith("application/json")
    body = answer.json()
    assert body["error"] == "invalid_client" and body["error_description"]
    bad_uri = psc.browser.get(authorize_url(psc, auth_params(redirect_uri="http://x.example/")),
                              headers={"Accept": "application/json"}, allow_redirects=False)
    assert bad_uri.status_code == 400 and "Location" not in bad_uri.headers
    assert set(bad_uri.json()) >= {"error", "error_description"}
    assert bad_uri.json()["error"] == "invalid_request"


@pytest.mark.one_backend
def test_error_page_escapes_what_the_request_carried(live, psc):
    evil = "<script>alert(1)</script>"
    answer = psc.open(authorize_url(psc, auth_params(client_id=evil)))
    assert_error_page(answer, 400)
    assert evil not in answer.text
    answer = psc.open(authorize_url(psc, auth_params(redirect_uri="http://x/" + evil)))
    assert_error_page(answer, 400)
    assert evil not in answer.text


# ----------------------------------------------------------------------------- redirected errors
@pytest.mark.one_backend
@pytest.mark.parametrize("response_type", ["token", "id_token", "code id_token", "code token",
                                           "none", "Code"])
def test_unsupported_response_type_goes_back_to_the_rp(live, psc, response_type):
    params = auth_params(response_type=response_type)
    answer = psc.open(authorize_url(psc, params))
    back = assert_redirect_error(answer, "unsupported_response_type", live.issuer,
                                 params["state"])
    assert "not supported" in back["error_description"], back


@pytest.mark.one_backend
def test_unsupported_response_type_description_does_not_echo_the_raw_value(live, psc):
    params = auth_params(response_type="x" * 1500)
    answer = psc.open(authorize_url(psc, params))
    back = assert_redirect_error(answer, "unsupported_response_type", live.issuer,
                                 params["state"])
    assert len(back["error_description"]) < 200, len(back["error_description"])


@pytest.mark.one_backend
def test_missing_response_type_is_invalid_request(live, psc):
    params = auth_params(response_type=None)
    answer = psc.open(authorize_url(psc, params))
    assert_redirect_error(answer, "invalid_request", live.issuer, params["state"])


@pytest.mark.one_backend
def test_error_redirect_without_state_has_no_state(live, psc):
    answer = psc.open(authorize_url(psc, auth_params(response_type="token", state=None)))
    params = assert_redirect_error(answer, "unsupported_response_type", live.issuer)
    assert "state" not in params


@pytest.mark.one_backend
@pytest.mark.parametrize("mode", ["fragment", "form_post", "query.jwt", "jwt"])
def test_unsupported_response_mode_is_invalid_request(live, psc, mode):
    params = auth_params(response_mode=mode)
    answer = psc.open(authorize_url(psc, params))
    assert_redirect_error(answer, "invalid_request", live.issuer, params["state"])


@pytest.mark.one_backend
def test_plain_pkce_is_refused_in_the_strict_profile(start):
    live = start(fidelity={"profile": "strict"})
    psc = PscActions(live.issuer)
    params = auth_params(code_challenge="a" * 43, code_challenge_method="plain")
    answer = psc.open(authorize_url(psc, params))
    body = assert_redirect_error(answer, "invalid_request", live.issuer, params["state"])
    assert "code challenge method" in body["error_description"]


@pytest.mark.one_backend
@pytest.mark.parametrize("method", ["S512", "s256", "none"])
def test_unknown_pkce_method_is_refused(live, psc, method):
    params = auth_params(code_challenge_method=method)
    answer = psc.open(authorize_url(psc, params))
    assert_redirect_error(answer, "invalid_request", live.issuer, params["state"])


@pytest.mark.one_backend
def test_pkce_method_without_challenge_is_refused(live, psc):
    params = auth_params(code_challenge=None)
    answer = psc.open(authorize_url(psc, params))
    assert_redirect_error(answer, "invalid_request", live.issuer, params["state"])


@pytest.mark.one_backend
@pytest.mark.parametrize("challenge", ["short", "a" * 129, "bad challenge with spaces" * 3])
def test_malformed_code_challenge_is_refused(live, psc, challenge):
    params = auth_params(code_challenge=challenge)
    answer = psc.open(authorize_url(psc, params))
    assert_redirect_error(answer, "invalid_request", live.issuer, params["state"])


@pytest.mark.one_backend
def test_plain_pkce_is_accepted_with_the_quirk_even_in_the_strict_profile(start):
    live = start(quirks={"allow_plain_pkce": True}, fidelity={"profile": "strict"})
    psc = PscActions(live.issuer)
    assert psc.metadata["code_challenge_methods_supported"] == ["plain", "S256"]
    verifier = secrets.token_urlsafe(48)
    params = auth_params(code_challenge=verifier, code_challenge_method="plain")
    page = psc.open(authorize_url(psc, params))
    assert page.status_code == 200
    done = psc.pick_persona(page)
    code = query(done.headers["Location"])["code"]
    token = requests.post(psc.metadata["token_endpoint"], auth=(DEMO_ID, DEMO_SECRET),
                          data={"grant_type": "authorization_code", "code": code,
                                "redirect_uri": DEMO_REDIRECT, "code_verifier": verifier},
                          timeout=10)
    assert token.status_code == 200, token.text


@pytest.mark.one_backend
def test_public_client_without_code_challenge_is_refused(live, psc):
    register(live.app, client_id=PUBLIC[0], redirect_uris=[PUBLIC[1]], auth_method="none")
    params = auth_params(client_id=PUBLIC[0], redirect_uri=PUBLIC[1], code_challenge=None,
                         code_challenge_method=None)
    answer = psc.open(authorize_url(psc, params))
    body = assert_redirect_error(answer, "invalid_request", live.issuer, params["state"],
                                 target=PUBLIC[1])
    assert "code_challenge" in body["error_description"]
    # the same client with PKCE gets the login page
    ok = psc.open(authorize_url(psc, auth_params(client_id=PUBLIC[0], redirect_uri=PUBLIC[1])))
    assert ok.status_code == 200


@pytest.mark.one_backend
@pytest.mark.parametrize("name", ["state", "scope", "response_type", "nonce", "code_challenge",
                                  "prompt", "acr_values", "login_hint"])
def test_duplicated_parameters_are_invalid_request(live, psc, name):
    params = auth_params(prompt="login", login_hint=GP)
    pairs = list(params.items()) + [(name, params[name])]
    answer = psc.open(authorize_url(psc, pairs))
    body = assert_redirect_error(answer, "invalid_request", live.issuer, params["state"])
    assert name in body["error_description"]


@pytest.mark.one_backend
@pytest.mark.parametrize("prompt", ["none login", "login none", "consent none", "bogus",
                                    "login select_account whatever"])
def test_bad_prompt_is_invalid_request(live, psc, prompt):
    params = auth_params(prompt=prompt)
    answer = psc.open(authorize_url(psc, params))
    assert_redirect_error(answer, "invalid_request", live.issuer, params["state"])


@pytest.mark.one_backend
@pytest.mark.parametrize("max_age", ["-1", "abc", "1.5", " 10", "99999999999", "1e3",
                                     "\u00b2"])
def test_bad_max_age_is_invalid_request(live, psc, max_age):
    params = auth_params(max_age=max_age)
    answer = psc.open(authorize_url(psc, params))
    assert_redirect_error(answer, "invalid_request", live.issuer, params["state"])


@pytest.mark.one_backend
def test_request_object_is_not_supported(live, psc):
    params = auth_params(request="eyJhbGciOiJub25lIn0.e30.")
    answer = psc.open(authorize_url(psc, params))
    assert_redirect_error(answer, "request_not_supported", live.issuer, params["state"])


@pytest.mark.one_backend
def test_request_uri_is_not_supported(live, psc):
    params = auth_params(request_uri="https://rp.example/request.jwt")
    answer = psc.open(authorize_url(psc, params))
    assert_redirect_error(answer, "request_uri_not_supported", live.issuer, params["state"])


# ----------------------------------------------------------------------------- sizes
def test_ten_kilobyte_state_is_refused_cleanly(live, psc):
    params = auth_params(state="s" * 10_000)
    answer = psc.open(authorize_url(psc, params))
    assert answer.status_code != 500
    if answer.status_code == 302:
        body = assert_redirect_error(answer, "invalid_request", live.issuer)
        assert len(answer.headers["Location"]) < 4096
        assert "state" in body["error_description"]
    else:
        assert 400 <= answer.status_code < 500


def test_sixty_kilobyte_query_is_refused_cleanly(live, psc):
    params = auth_params(**{f"x{i}": "y" * 1000 for i in range(60)})
    url = authorize_url(psc, params)
    assert len(url) > 60_000
    answer = psc.open(url)
    assert answer.status_code != 500
    if answer.status_code == 302:
        assert_redirect_error(answer, "invalid_request", live.issuer, params["state"])
        assert len(answer.headers["Location"]) < 4096
    else:
        assert 400 <= answer.status_code < 500


def test_huge_client_id_gets_an_error_page(live, psc):
    answer = psc.open(authorize_url(psc, auth_params(client_id="c" * 5000)))
    assert_error_page(answer, 400, "invalid_client")


def test_huge_form_post_to_authorize_is_refused(live, psc):
    answer = psc.browser.post(psc.metadata["authorization_endpoint"],
                              data=auth_params(state="s" * 100_000), allow_redirects=False,
                              timeout=10)
    assert 400 <= answer.status_code < 500
    assert "Location" not in answer.headers


# ----------------------------------------------------------------------------- login pages
def test_login_post_without_or_with_wrong_csrf_is_refused(live, psc):
    params, page = _login_page(psc)
    action, csrf = _form(page)
    base = live.base_url
    for data in ({"national_id": GP}, {"national_id": GP, "csrf": "wrong-" + csrf},
                 {"national_id": GP, "csrf": ""}):
        answer = psc.browser.post(base + action, data=data, allow_redirects=False, timeout=10)
        assert answer.status_code == 400, answer.status_code
        assert "Location" not in answer.headers
        assert "code=" not in answer.text
    # the interaction is still usable with the right token
    done = psc.browser.post(base + action, data={"national_id": GP, "csrf": csrf},
                            allow_redirects=False, timeout=10)
    assert done.status_code == 302
    assert query(done.headers["Location"])["state"] == params["state"]
    assert "code" in query(done.headers["Location"])


def test_login_url_replayed_from_another_browser_is_refused(live, psc):
    _, page = _login_page(psc)
    action, csrf = _form(page)
    intruder = requests.Session()
    uid_page = live.base_url + action.rsplit("/", 1)[0]
    shown = intruder.get(uid_page, allow_redirects=False, timeout=10)
    assert_error_page(shown, 400, "invalid_request")
    posted = intruder.post(live.base_url + action, data={"national_id": GP, "csrf": csrf},
                           allow_redirects=False, timeout=10)
    assert_error_page(posted, 400, "invalid_request")
    assert "code=" not in posted.text
    # the rightful browser can still finish
    done = psc.browser.post(live.base_url + action, data={"national_id": GP, "csrf": csrf},
                            allow_redirects=False, timeout=10)
    assert done.status_code == 302 and "code" in query(done.headers["Location"])


def test_interaction_used_twice_is_refused(live, psc):
    _, page = _login_page(psc)
    action, csrf = _form(page)
    first = psc.browser.post(live.base_url + action, data={"national_id": GP, "csrf": csrf},
                             allow_redirects=False, timeout=10)
    assert first.status_code == 302 and "code" in query(first.headers["Location"])
    again = psc.browser.post(live.base_url + action, data={"national_id": GP, "csrf": csrf},
                             allow_redirects=False, timeout=10)
    assert_error_page(again, 400, "invalid_request")
    cancel = psc.browser.post(live.base_url + action.rsplit("/", 1)[0] + "/cancel",
                              data={"csrf": csrf}, allow_redirects=False, timeout=10)
    assert_error_page(cancel, 400, "invalid_request")


def test_unknown_login_request_is_refused(live, psc):
    answer = psc.open(live.base_url + "/login/" + "x" * 30)
    assert_error_page(answer, 400, "invalid_request")
    answer = psc.browser.post(live.base_url + "/login/" + "x" * 300 + "/persona",
                              data={"csrf": "x", "national_id": GP}, allow_redirects=False)
    assert_error_page(answer, 400, "invalid_request")


@pytest.mark.one_backend
def test_cancel_button_sends_access_denied_to_the_rp(live, psc):
    params, page = _login_page(psc)
    action, csrf = _form(page, "cancel")
    refused = psc.browser.post(live.base_url + action, data={"csrf": "nope"},
                               allow_redirects=False, timeout=10)
    assert_error_page(refused, 400)
    answer = psc.browser.post(live.base_url + action, data={"csrf": csrf},
                              allow_redirects=False, timeout=10)
    assert_redirect_error(answer, "access_denied", live.issuer, params["state"])


@pytest.mark.parametrize("typed", ["810099900011", "999", "", "abc", "8" * 40, "<b>x</b>"],
                         ids=["bad-check-digit", "short", "empty", "letters", "long", "html"])
def test_unknown_persona_shows_the_message_and_allows_another_try(live, psc, typed):
    params, page = _login_page(psc)
    action, csrf = _form(page)
    wrong = psc.browser.post(live.base_url + action, data={"national_id": typed, "csrf": csrf},
                             allow_redirects=False, timeout=10)
    assert wrong.status_code == 400
    assert "Location" not in wrong.headers
    assert "Identifiant inconnu ou mal formé." in wrong.text
    assert "<b>x</b>" not in wrong.text
    action2, csrf2 = _form(wrong)
    assert (action2, csrf2) == (action, csrf)
    done = psc.browser.post(live.base_url + action, data={"national_id": GP, "csrf": csrf},
                            allow_redirects=False, timeout=10)
    assert done.status_code == 302
    back = query(done.headers["Location"])
    assert back["state"] == params["state"] and back["code"]


def test_unknown_authenticator_is_refused(live, psc):
    _, page = _login_page(psc)
    action, csrf = _form(page)
    other = action.rsplit("/", 1)[0] + "/no-such-means"
    answer = psc.browser.post(live.base_url + other, data={"csrf": csrf, "national_id": GP},
                              allow_redirects=False, timeout=10)
    assert 400 <= answer.status_code < 500
    assert "Location" not in answer.headers


@pytest.mark.one_backend
def test_error_descriptions_redirected_are_url_encoded(live, psc):
    params = auth_params(prompt="bogus", state="a b&c=d")
    answer = psc.open(authorize_url(psc, params))
    back = assert_redirect_error(answer, "invalid_request", live.issuer)
    assert back["state"] == "a b&c=d"
    assert "&c=d" not in answer.headers["Location"]
    assert urlencode({"state": "a b&c=d"}) in answer.headers["Location"]
