"""The userinfo endpoint: PSC's claims as JSON, or as a signed JWT for clients registered with
``userinfo_signed_response_alg`` (reference §4.1, quirk 10)."""

from __future__ import annotations

import time

from flask import Response, current_app, request

from ..audit import record
from ..claims import build_userinfo, subject
from ..db import db
from ..directory.lookup import get_professional
from .errors import json_error
from .models import Client
from .tokens import decode_access_token, token_is_live

_CHALLENGE = 'Bearer realm="esante-wallet", error="invalid_token"'


def _bearer_token() -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    if request.method == "POST" and request.mimetype == "application/x-www-form-urlencoded":
        return request.form.get("access_token", "")
    return ""


def _refuse(description: str, status: int = 401) -> Response:
    record("userinfo.refused", "failure", reason=description)
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
    live = token_is_live(str(claims.get("jti", "")))
    if live is None:
        return _refuse("Token is not active")
    _, grant = live
    professional = get_professional(grant.professional_id, whole=True)
    if professional is None or professional.means_blocked:
        return _refuse("User not found or disabled")
    settings = provider.settings
    body = build_userinfo(professional, sub=subject(professional, settings.oidc.federation_id),
                          auth_mode=grant.auth_mode, scopes=frozenset(grant.scope.split()))
    record("userinfo.served", subject=professional.national_id, client_id=grant.client_id)
    client = db.session.get(Client, grant.client_id)
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
