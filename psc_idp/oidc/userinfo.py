"""The userinfo endpoint: PSC's claims as JSON, or as a signed JWT for clients registered with
``userinfo_signed_response_alg`` (reference §4.1, quirk 10), in the client's userinfo shape
(``fidelity.userinfo_shape_of``: ``2024`` by default, ``2023`` by setting or per client).

A token granted without ``openid`` is refused as Keycloak ≥ 19.0.2 does (UserInfoEndpoint,
in both profiles, as OIDC Core §5.3 wants): 403 ``insufficient_scope`` "Missing openid scope",
checked right after the signature and expiry, before the token's liveness (reference §10).

A certificate-bound token (``cnf.x5t#S256``, RFC 8705 §3) is answered only on a request that
presents that certificate through the mTLS listener (the ``mtls_endpoint_aliases``); otherwise
401 ``invalid_token`` with ``WWW-Authenticate`` (RFC 6750 §3.1), worded per profile."""

from __future__ import annotations

import time

from flask import Response, current_app, request

from ..audit import record
from ..claims import build_userinfo, subject
from ..db import db
from ..directory import store as directory
from ..directory.lookup import login_refusal
from ..fidelity import userinfo_shape_of
from .errors import json_error
from .mtls_auth import presented_matches
from .refusals import bound_token_mismatch_text
from .server import query_client
from .tokens import decode_access_token, token_is_live

_CHALLENGE = 'Bearer realm="esante-wallet", error="invalid_token"'
_MISSING_OPENID = "Missing openid scope"


def _bearer_token() -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    if request.method == "POST" and request.mimetype == "application/x-www-form-urlencoded":
        return request.form.get("access_token", "")
    return ""


def _refuse(description: str, status: int = 401, **audit: str) -> Response:
    record("userinfo.refused", "failure", reason=description, **audit)
    db.session.commit()
    return json_error("invalid_token", description, status,
                      {"WWW-Authenticate": _CHALLENGE})


def userinfo_endpoint() -> Response:
    provider = current_app.extensions["psc_idp"]
    token = _bearer_token()
    if not token:
        return json_error("invalid_request", "Missing token", 401,
                          {"WWW-Authenticate": 'Bearer realm="esante-wallet"'})
    claims = decode_access_token(token)
    if claims is None:
        return _refuse("Token verification failed")
    if "openid" not in str(claims.get("scope", "")).split():
        record("userinfo.refused", "failure", reason=_MISSING_OPENID,
               client_id=str(claims.get("azp", "")))
        db.session.commit()
        return json_error("insufficient_scope", _MISSING_OPENID, 403, {
            "WWW-Authenticate": f'Bearer realm="esante-wallet", error="insufficient_scope", '
                                f'error_description="{_MISSING_OPENID}"'})
    live = token_is_live(str(claims.get("jti", "")))
    if live is None:
        return _refuse("Token is not active")
    _, grant, person = live
    client = query_client(grant.client_id)
    if "cnf" in claims and not presented_matches(claims["cnf"], request):
        return _refuse(bound_token_mismatch_text(client), client_id=grant.client_id,
                       detail="certificate-bound token without its certificate")
    # the person came with the token: one more statement, for the situations
    professional = directory.whole_professional(grant.professional_id, person)
    if professional is None or login_refusal(professional):  # blocked, or left the directory
        return _refuse("User not found or disabled")
    settings = provider.settings
    body = build_userinfo(professional, sub=subject(professional, settings.oidc.federation_id),
                          auth_mode=grant.auth_mode, scopes=frozenset(grant.scope.split()),
                          shape=userinfo_shape_of(settings, client))
    record("userinfo.served", subject=professional.national_id, client_id=grant.client_id)
    db.session.commit()
    if client is not None and client.userinfo_signed_response_alg == "RS256":
        now = int(time.time())
        signed = dict(body, iss=settings.issuer, aud=client.client_id, iat=now,
                      exp=now + settings.oidc.access_token_lifetime)
        return Response(provider.keys.sign(signed), mimetype="application/jwt",
                        headers={"Cache-Control": "no-store"})
    response = Response(provider.json_dumps(body), mimetype="application/json")
    response.headers["Cache-Control"] = "no-store"
    return response
