"""The PSC URL surface as one blueprint: every route of ``urls`` bound to its handler."""

from __future__ import annotations

import json

from authlib.oauth2.rfc6749.util import extract_basic_authorization
from flask import Blueprint, Response, current_app, jsonify, request

from .. import ratelimit
from ..audit import record
from ..db import db
from . import ciba, consent, urls
from .authorize import authorization_endpoint
from .discovery import discovery_document
from .errors import json_error
from .logout import logout_endpoint
from .server import too_many
from .userinfo import userinfo_endpoint

bp = Blueprint("oidc", __name__)


def _provider():
    return current_app.extensions["psc_idp"]


def _cached_json(body: dict, max_age: int) -> Response:
    response = jsonify(body)
    response.headers["Cache-Control"] = f"public, max-age={max_age}"
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


bp.add_url_rule(urls.WALLET_AUTHORIZE, "wallet_authorize", authorization_endpoint,
                methods=["GET", "POST"])
bp.add_url_rule(urls.WALLET_AUTHORIZE_SLASH, "wallet_authorize_slash", authorization_endpoint,
                methods=["GET", "POST"], strict_slashes=True)
bp.add_url_rule(urls.AUTHORIZE, "authorize", authorization_endpoint, methods=["GET", "POST"])
bp.add_url_rule(urls.USERINFO, "userinfo", userinfo_endpoint, methods=["GET", "POST"])
bp.add_url_rule(urls.LOGOUT, "logout", logout_endpoint, methods=["GET", "POST"])
bp.add_url_rule(urls.CIBA, "ciba", ciba.backchannel_authentication_endpoint, methods=["POST"])
bp.add_url_rule(urls.CONSENT, "consent", consent.consent_answer, methods=["POST"])


@bp.get(urls.DISCOVERY_PSC)
@bp.get(urls.DISCOVERY)
def discovery() -> Response:
    provider = _provider()
    return _cached_json(discovery_document(provider.settings, provider.discovery_extensions), 60)


@bp.get(urls.CERTS)
def certs() -> Response:
    return _cached_json(_provider().keys.jwks(), 300)


@bp.post(urls.TOKEN)
def token() -> Response:
    limited = _token_limit()
    if limited is not None:
        return limited
    if not request.form.get("grant_type"):
        _audit_refusal_reason("invalid_request", "Missing parameter: grant_type")
        db.session.commit()
        _count_refusal()
        return json_error("invalid_request", "Missing parameter: grant_type", 400)
    response = _provider().server.create_token_response()
    # a 429 is an abuse limit's answer, already audited (ratelimit.refused)
    refused = response.status_code not in (200, 429) and _audit_refusal("token.refused",
                                                                         response)
    db.session.commit()
    if refused:  # counted after the commit (a count in the database commits the session)
        _count_refusal()
    return response


def _token_limit() -> Response | None:
    """Refuse at once (429 ``slow_down``, ``Retry-After``) an address that made too many
    refused token requests in its window, or too many token requests (``[rate_limits]``)."""
    rl = ratelimit.limits()
    address = ratelimit.source_address()
    for name, wait in (("token_refusals_per_address",
                        rl.blocked("token_refusals_per_address", address)),
                       ("token_per_address", rl.take("token_per_address", address))):
        if wait is not None:
            refusal = too_many(ratelimit.RateLimited(name, wait), _presented_client_id())
            db.session.commit()
            status, body, headers = refusal()
            response = jsonify(body)
            response.status_code = status
            response.headers.update(dict(headers))
            return response
    return None


def _count_refusal() -> None:
    ratelimit.limits().take("token_refusals_per_address", ratelimit.source_address())


@bp.post(urls.INTROSPECT)
def introspect() -> Response:
    response = _provider().server.create_endpoint_response("introspection")
    db.session.commit()
    return response


@bp.post(urls.REVOKE)
def revoke() -> Response:
    response = _provider().server.create_endpoint_response("revocation")
    if response.status_code != 200:
        _audit_refusal("token.refused", response)
    db.session.commit()
    return response


def _audit_refusal(event: str, response: Response) -> bool:
    """Audit a refused answer; False for a CIBA poll that found its request pending (the
    protocol working, not a refusal)."""
    try:
        body = json.loads(response.get_data(as_text=True) or "{}")
    except ValueError:
        body = {}
    _audit_refusal_reason(body.get("error", ""), body.get("error_description", ""), event)
    return not (str(request.form.get("grant_type", "")) == ciba.GRANT_TYPE
                and body.get("error") in ("authorization_pending", "slow_down"))


def _presented_client_id() -> str:
    """Who the caller claims to be (Basic header, form, or assertion), for the audit row."""
    try:
        basic_id, _ = extract_basic_authorization(request.headers)
    except (ValueError, UnicodeDecodeError):
        basic_id = None
    return str(basic_id or request.form.get("client_id", ""))[:200]


def _audit_refusal_reason(error: str, description: str, event: str = "token.refused") -> None:
    grant_type = str(request.form.get("grant_type", ""))[:60]
    if grant_type == ciba.GRANT_TYPE and error in ("authorization_pending", "slow_down"):
        # a poll of a pending CIBA request is the protocol working, not a refusal
        record("ciba.pending", "info", client_id=_presented_client_id(), error=error)
        return
    record(event, "failure", client_id=_presented_client_id(), error=error,
           description=description, grant_type=grant_type)
