"""Each authorization-request check of ``psc_idp/oidc/checks.py`` on its own, then in order."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from authlib.oauth2.rfc6749.errors import OAuth2Error

from psc_idp.config import load_settings
from psc_idp.oidc import checks
from psc_idp.oidc.checks import (
    CHECKS,
    MAX_PARAM_LENGTH,
    MAX_TOTAL_LENGTH,
    SINGLE_VALUED,
    check_max_age,
    check_pkce,
    check_prompt,
    check_request_objects,
    check_response_mode,
    check_response_type,
    check_single_values,
    check_sizes,
    first,
    run_checks,
)

CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
CONFIDENTIAL = SimpleNamespace(is_public=False)
PUBLIC = SimpleNamespace(is_public=True)
STRICT = load_settings({"fidelity": {"profile": "strict"}}, environ={})
PLAIN_OK = load_settings({"fidelity": {"profile": "psc"}}, environ={})


def params(**values: str | list[str]) -> dict[str, list[str]]:
    return {k: v if isinstance(v, list) else [v] for k, v in values.items()}


def valid(**overrides: str | list[str]) -> dict[str, list[str]]:
    base: dict[str, str | list[str]] = {
        "response_type": "code", "client_id": "rp", "redirect_uri": "https://rp/cb",
        "scope": "openid scope_all", "state": "s", "nonce": "n", "acr_values": "eidas1",
        "code_challenge": CHALLENGE, "code_challenge_method": "S256"}
    base.update(overrides)
    return params(**{k: v for k, v in base.items() if v is not None})


def refused(check, p, client=CONFIDENTIAL, settings=STRICT) -> OAuth2Error:
    with pytest.raises(OAuth2Error) as caught:
        check(p, client, settings)
    return caught.value


def test_first():
    assert first(params(a=["x", "y"]), "a") == "x"
    assert first({}, "a") == ""
    assert first({"a": []}, "a") == ""


def test_check_sizes():
    check_sizes(valid(state="s" * MAX_PARAM_LENGTH), CONFIDENTIAL, STRICT)
    error = refused(check_sizes, valid(state="s" * (MAX_PARAM_LENGTH + 1)))
    assert error.error == "invalid_request" and "state" in error.description
    long_name = {"n" * 500: ["v"] * 40}
    error = refused(check_sizes, long_name)
    assert error.error == "invalid_request" and error.description == "Request too large"
    many = {f"p{i}": ["v" * 1000] for i in range(MAX_TOTAL_LENGTH // 1000 + 1)}
    assert refused(check_sizes, many).error == "invalid_request"
    # the name shown is cut: a huge parameter name is not echoed back
    error = refused(check_sizes, {"x" * 5000: ["v" * (MAX_PARAM_LENGTH + 1)]})
    assert len(error.description) < 100


@pytest.mark.parametrize("name", SINGLE_VALUED)
def test_check_single_values(name):
    error = refused(check_single_values, params(**{name: ["a", "a"]}))
    assert error.error == "invalid_request" and name in error.description


def test_check_single_values_accepts_single_and_other_repeats():
    check_single_values(valid(), CONFIDENTIAL, STRICT)
    check_single_values(params(claims_locales=["fr", "en"]), CONFIDENTIAL, STRICT)


def test_check_response_type():
    check_response_type(valid(), CONFIDENTIAL, STRICT)
    missing = refused(check_response_type, valid(response_type=None))
    assert missing.error == "invalid_request"
    assert refused(check_response_type, valid(response_type="")).error == "invalid_request"
    for other in ("token", "id_token", "code id_token", "CODE"):
        error = refused(check_response_type, valid(response_type=other))
        assert error.error == "unsupported_response_type", other


def test_check_response_type_description_is_the_sentence_not_the_raw_value():
    """The description goes back to the RP: the intended sentence, with the value cut to 40."""
    error = refused(check_response_type, valid(response_type="token"))
    assert "not supported" in error.description, error.description
    error = refused(check_response_type, valid(response_type="t" * 500))
    assert len(error.description) < 100


def test_check_response_mode():
    check_response_mode(valid(), CONFIDENTIAL, STRICT)
    check_response_mode(valid(response_mode="query"), CONFIDENTIAL, STRICT)
    for mode in ("fragment", "form_post", "jwt", "query.jwt", "QUERY"):
        assert refused(check_response_mode, valid(response_mode=mode)).error == \
            "invalid_request"


def test_check_request_objects():
    check_request_objects(valid(), CONFIDENTIAL, STRICT)
    assert refused(check_request_objects, valid(request="x")).error == "request_not_supported"
    assert refused(check_request_objects, valid(request="")).error == "request_not_supported"
    assert refused(check_request_objects, valid(request_uri="urn:x")).error == \
        "request_uri_not_supported"


@pytest.mark.parametrize("prompt", ["", "none", "login", "consent", "select_account",
                                    "login consent", "consent  select_account"])
def test_check_prompt_accepts(prompt):
    check_prompt(valid(prompt=prompt), CONFIDENTIAL, STRICT)


@pytest.mark.parametrize("prompt", ["none login", "consent none", "bogus", "login bogus",
                                    "NONE", "create"])
def test_check_prompt_refuses(prompt):
    assert refused(check_prompt, valid(prompt=prompt)).error == "invalid_request"


@pytest.mark.parametrize("max_age", ["", "0", "1", "3600", "9999999999"])
def test_check_max_age_accepts(max_age):
    check_max_age(valid(max_age=max_age), CONFIDENTIAL, STRICT)


@pytest.mark.parametrize("max_age", ["-1", "abc", "1.5", " 1", "1 ", "+5", "10000000000",
                                     "\u00b2", "\u00b9\u00b2", "1\u00b2"])
def test_check_max_age_refuses(max_age):
    """Everything ``int()`` cannot read must stop here (the endpoint calls int() after)."""
    assert refused(check_max_age, valid(max_age=max_age)).error == "invalid_request"


def test_check_pkce():
    check_pkce(valid(), CONFIDENTIAL, STRICT)
    check_pkce(valid(), PUBLIC, STRICT)
    check_pkce(valid(code_challenge=None, code_challenge_method=None), CONFIDENTIAL, STRICT)
    plain = valid(code_challenge_method="plain")
    assert refused(check_pkce, plain).error == "invalid_request"
    check_pkce(plain, CONFIDENTIAL, PLAIN_OK)
    for method in ("S512", "s256", "none"):
        assert refused(check_pkce, valid(code_challenge_method=method),
                       settings=PLAIN_OK).error == "invalid_request"
    no_challenge = refused(check_pkce, valid(code_challenge=None))
    assert no_challenge.error == "invalid_request"
    assert "code_challenge" in no_challenge.description
    public = refused(check_pkce, valid(code_challenge=None, code_challenge_method=None), PUBLIC)
    assert public.error == "invalid_request" and "public" in public.description


def test_run_checks_order_and_first_failure_wins():
    assert CHECKS[:3] == [checks.check_sizes, checks.check_single_values,
                          checks.check_request_objects]
    assert set(CHECKS) >= {check_response_type, check_response_mode, check_prompt,
                           check_max_age, check_pkce}
    run_checks(valid(), CONFIDENTIAL, STRICT)
    # request objects are refused before the response type is looked at
    both = valid(request="x", response_type="token")
    assert refused(run_checks, both).error == "request_not_supported"
    # size before everything
    huge = valid(request="x", state="s" * (MAX_PARAM_LENGTH + 1))
    assert refused(run_checks, huge).error == "invalid_request"
    dup = valid(response_type=["token", "token"])
    assert refused(run_checks, dup).error == "invalid_request"
