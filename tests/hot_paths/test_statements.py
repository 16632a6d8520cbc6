"""The token side's statements per request, counted (the ORM is off these paths): a token
response, a userinfo answer and a refresh, and what each is made of."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from urllib.parse import parse_qs, urlsplit

from .conftest import counted

CLIENT, SECRET, REDIRECT = "psc-demo-rp", "demo-rp-secret", "http://127.0.0.1:5001/callback"
REALM = "/auth/realms/esante-wallet"
TOKEN = REALM + "/protocol/openid-connect/token"
BUDGET = {"token": 7, "userinfo": 4, "refresh": 8}
"""Statements per request, the client's read left out (``server.query_client``'s cache answers
it, or one SELECT on a miss): token = rate-limit read, code read, claim, grant, person with
identifiers, audit, tokens (one executemany); userinfo = token and grant (one join), person
with identifiers, situations, audit; refresh = rate-limit read, token and grant, session read
and keep-alive, person, two audit rows, tokens. Before the token side left the ORM (same run,
issue 15): 8, 5 and 9-10."""


def _code(client) -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    page = client.get("/auth", query_string={
        "response_type": "code", "client_id": CLIENT, "redirect_uri": REDIRECT,
        "scope": "openid scope_all", "state": "s" * 12, "nonce": "n" * 12,
        "code_challenge": challenge.rstrip(b"=").decode(), "code_challenge_method": "S256",
        "acr_values": "eidas1"})
    if page.status_code == 302:  # the browser's SSO session answers at once
        return parse_qs(urlsplit(page.headers["Location"]).query)["code"][0], verifier
    text = page.get_data(as_text=True)
    action = re.search(r'<form method="post" action="(/login/[^"]+/persona)"', text)
    csrf = re.search(r'name="csrf" value="([^"]+)"', text)
    assert action and csrf, page.status_code
    done = client.post(action.group(1), data={"csrf": csrf.group(1),
                                              "national_id": "810099900028"})
    return parse_qs(urlsplit(done.headers["Location"]).query)["code"][0], verifier


def test_statements_per_token_userinfo_and_refresh_request(make_app):
    app = make_app()
    client = app.test_client()
    code, verifier = _code(client)  # a first redemption: the secret's argon2 check and its
    warm = client.post(TOKEN, auth=(CLIENT, SECRET), data={  # counters, paid once a process
        "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
        "code_verifier": verifier})
    assert warm.status_code == 200
    code, verifier = _code(client)
    with counted(app) as token_sql:
        tok = client.post(TOKEN, auth=(CLIENT, SECRET), data={
            "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
            "code_verifier": verifier})
    assert tok.status_code == 200, tok.get_data(as_text=True)
    with counted(app) as userinfo_sql:
        info = client.get(REALM + "/protocol/openid-connect/userinfo",
                          headers={"Authorization": "Bearer " + tok.json["access_token"]})
    assert info.status_code == 200 and info.json["SubjectRefPro"]["exercices"]
    with counted(app) as refresh_sql:
        ref = client.post(TOKEN, auth=(CLIENT, SECRET), data={
            "grant_type": "refresh_token", "refresh_token": tok.json["refresh_token"]})
    assert ref.status_code == 200, ref.get_data(as_text=True)

    def touching(sql: list[str], table: str) -> int:
        return sum(1 for s in sql if re.search(rf"\b{table}\b", s))

    # the grant and the client are not read again after they are known
    assert touching(token_sql, "oidc_grant") == 1  # its INSERT
    assert touching(token_sql, "oidc_client") <= 1
    assert touching(userinfo_sql, "oidc_client") <= 1
    assert touching(userinfo_sql, "professional") == 1  # the person, with its identifiers
    assert touching(userinfo_sql, "practice") == 1  # the situations, joined
    assert touching(userinfo_sql, "oidc_token") == 1  # token and grant, one join
    assert touching(refresh_sql, "oidc_grant") == 1
    assert touching(refresh_sql, "audit_event") <= 2
    counts = {name: len([s for s in sql if not re.search(r"\boidc_client\b", s)])
              for name, sql in (("token", token_sql), ("userinfo", userinfo_sql),
                                ("refresh", refresh_sql))}
    assert all(counts[k] <= BUDGET[k] for k in BUDGET), counts
