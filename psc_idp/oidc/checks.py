"""PSC's authorization-request checks: an ordered list of small functions (after
node-oidc-provider's ``actions/authorization``), run before Authlib validates the request.

Each takes the request parameters and the client and raises an ``OAuth2Error`` with Keycloak's
wording; the caller decides whether the error may be redirected to the RP.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from authlib.oauth2.rfc6749.errors import (
    InvalidRequestError,
    OAuth2Error,
)

from ..fidelity import behaves

_ASCII_DIGITS = re.compile(r"[0-9]{1,10}")
MAX_PARAM_LENGTH = 2048
MAX_TOTAL_LENGTH = 16384
PROMPTS = {"none", "login", "consent", "select_account"}
SINGLE_VALUED = ("response_type", "client_id", "redirect_uri", "scope", "state", "nonce",
                 "prompt", "max_age", "login_hint", "acr_values", "code_challenge",
                 "code_challenge_method", "ui_locales", "response_mode", "auth_mode")
AUTH_MODES = ("CARD", "MOBILE")


class RequestNotSupportedError(OAuth2Error):
    error = "request_not_supported"


class RequestUriNotSupportedError(OAuth2Error):
    error = "request_uri_not_supported"


Params = Mapping[str, list[str]]
Check = Callable[[Params, Any, Any], None]


def first(params: Params, name: str) -> str:
    values = params.get(name) or [""]
    return values[0]


def check_sizes(params: Params, client: Any, settings: Any) -> None:
    total = 0
    for name, values in params.items():
        for value in values:
            total += len(name) + len(value)
            if len(value) > MAX_PARAM_LENGTH:
                raise InvalidRequestError(f"Invalid parameter: {name[:40]} is too long")
    if total > MAX_TOTAL_LENGTH:
        raise InvalidRequestError("Request too large")


def check_single_values(params: Params, client: Any, settings: Any) -> None:
    for name in SINGLE_VALUED:
        if len(params.get(name, [])) > 1:
            raise InvalidRequestError(f"Duplicated parameter: {name}")


def check_response_type(params: Params, client: Any, settings: Any) -> None:
    response_type = first(params, "response_type")
    if not response_type:
        raise InvalidRequestError("Missing parameter: response_type")
    if response_type != "code":
        raise OAuth2Error(description="Response type not supported",
                          error="unsupported_response_type")


def check_response_mode(params: Params, client: Any, settings: Any) -> None:
    mode = first(params, "response_mode")
    if mode and mode != "query":
        raise InvalidRequestError("Invalid parameter: response_mode")


def check_request_objects(params: Params, client: Any, settings: Any) -> None:
    if "request" in params:
        raise RequestNotSupportedError("Request objects are not supported")
    if "request_uri" in params:
        raise RequestUriNotSupportedError("request_uri is not supported")


def check_prompt(params: Params, client: Any, settings: Any) -> None:
    prompts = set(first(params, "prompt").split())
    if prompts - PROMPTS:
        raise InvalidRequestError("Invalid parameter: prompt")
    if "none" in prompts and len(prompts) > 1:
        raise InvalidRequestError("Invalid parameter: prompt (none with another value)")


def check_max_age(params: Params, client: Any, settings: Any) -> None:
    value = first(params, "max_age")
    if value and not _ASCII_DIGITS.fullmatch(value):
        raise InvalidRequestError("Invalid parameter: max_age")


def check_auth_mode(params: Params, client: Any, settings: Any) -> None:
    """psc-idp's ``auth_mode`` (PSC's ``authMode`` values) names the means an RP wants."""
    value = first(params, "auth_mode")
    if value and value not in AUTH_MODES:
        raise InvalidRequestError("Invalid parameter: auth_mode (CARD or MOBILE)")


def check_pkce(params: Params, client: Any, settings: Any) -> None:
    """S256 for everyone who sends PKCE; PKCE mandatory for public clients (RFC 9700 §2.1.1)."""
    method = first(params, "code_challenge_method")
    challenge = first(params, "code_challenge")
    if method == "plain" and not behaves(settings, "allow_plain_pkce", client):
        raise InvalidRequestError("Invalid parameter: code challenge method is not supported")
    if method and method not in ("S256", "plain"):
        raise InvalidRequestError("Invalid parameter: code challenge method is not supported")
    if method and not challenge:
        raise InvalidRequestError("Missing parameter: code_challenge")
    if client.is_public and not challenge:
        raise InvalidRequestError("Missing parameter: code_challenge (required for public clients)")


CHECKS: list[Check] = [
    check_sizes,
    check_single_values,
    check_request_objects,
    check_response_type,
    check_response_mode,
    check_prompt,
    check_max_age,
    check_auth_mode,
    check_pkce,
]


def run_checks(params: Params, client: Any, settings: Any) -> None:
    for check in CHECKS:
        check(params, client, settings)
