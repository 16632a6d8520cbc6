"""Client authentication and the errors a relying party sees, in both fidelity profiles, over
real HTTP.

psc profile (Keycloak's ClientIdAndSecretAuthenticator): a client with a secret may send it by
HTTP Basic or in the body whatever its registered method, at the token, introspection,
revocation and CIBA endpoints; errors carry Keycloak's codes and words; an older refresh token
stays usable (Keycloak's default, "Revoke Refresh Token" off).
strict profile: only the registered method; two methods at once are ``invalid_request``
(RFC 6749 §2.3, §5.2); failed authentication is 401 ``invalid_client`` with a Basic challenge;
a rotated refresh token presented again revokes the grant (RFC 9700 §4.14.2).
Neither profile lists authentication methods in an error.
"""

from __future__ import annotations

import secrets
from typing import Any

import pytest
import requests
from authlib.integrations.base_client import OAuthError

from clients.ecps_app.phone import EcpsPhone
from psc_idp.admin.clients import upsert_client
from psc_idp.config import ClientSeed
from psc_idp.db import db
from tests.psc_actions import DEMO_CLIENT, GP, PscActions, query

BASIC_RP = ("basic-rp", "basic-rp-secret", "http://127.0.0.1:5981/cb", "client_secret_basic")
POST_RP = ("post-rp", "post-rp-secret", "http://127.0.0.1:5982/cb", "client_secret_post")
CLIENTS = {"client_secret_basic": BASIC_RP, "client_secret_post": POST_RP}
HOWS = ("basic", "body", "both")
KEYCLOAK_BAD_CLIENT = "Invalid client or Invalid client credentials"
METHOD_NAMES = ("client_secret_basic", "client_secret_post", "private_key_jwt", "none")
CIBA = "urn:openid:params:grant-type:ciba"


def _register(app: Any, client: tuple[str, str, str, str]) -> None:
    with app.app_context():
        upsert_client(ClientSeed(client_id=client[0], client_secret=client[1],
                                 redirect_uris=[client[2]], auth_method=client[3]),
                      app.extensions["psc_idp"].settings, source="test")
        db.session.commit()


@pytest.fixture
def live(fidelity_live):
    server = fidelity_live()
    for client in CLIENTS.values():
        _register(server.app, client)
    return server


@pytest.fixture
def psc(live) -> PscActions:
    return PscActions(live.issuer)


def _credentials(client: tuple[str, ...], how: str, secret: str | None = None
                 ) -> dict[str, Any]:
    """``requests`` keyword arguments sending the client's secret by Basic, body or both."""
    client_id, real = client[0], client[1]
    secret = real if secret is None else secret
    sent: dict[str, Any] = {"data": {}}
    if how in ("basic", "both"):
        sent["auth"] = (client_id, secret)
    if how in ("body", "both"):
        sent["data"] = {"client_id": client_id, "client_secret": secret}
    return sent


def _post(url: str, data: dict[str, str], client: tuple[str, ...], how: str,
          secret: str | None = None) -> requests.Response:
    sent = _credentials(client, how, secret)
    return requests.post(url, data={**data, **sent["data"]}, auth=sent.get("auth"), timeout=10)


def _accepted(profile: str, client: tuple[str, ...], how: str) -> bool:
    if profile == "psc":
        return True
    return how == ("basic" if client[3] == "client_secret_basic" else "body")


def _code(psc: PscActions, client: tuple[str, ...]) -> tuple[str, str]:
    rp = psc.client(client[0], client[1], client[2],
                    token_endpoint_auth_method=client[3])
    start, callback = psc.login(rp)
    return query(callback)["code"], start.verifier


def _redeem_data(code: str, verifier: str | None, redirect_uri: str) -> dict[str, str]:
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
    if verifier is not None:
        data["code_verifier"] = verifier
    return data


def _no_method_list(answer: requests.Response) -> None:
    text = answer.text
    assert "cannot authenticate" not in text
    assert sum(name in text for name in METHOD_NAMES) <= 1, text  # at most the registered one


def assert_refused(answer: requests.Response, profile: str, how: str) -> None:
    """A refused client authentication in the strict profile (the psc one accepts these)."""
    assert profile == "strict"
    _no_method_list(answer)
    body = answer.json()
    if how == "both":
        assert answer.status_code == 400 and body["error"] == "invalid_request", answer.text
        assert "More than one" in body["error_description"]
    else:
        assert answer.status_code == 401 and body["error"] == "invalid_client", answer.text
        assert answer.headers["WWW-Authenticate"] == 'Basic realm="esante-wallet"'


def assert_error(answer: requests.Response, status: int, error: str, description: str
                 ) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    assert answer.headers["Content-Type"].startswith("application/json")
    body = answer.json()
    assert body == {"error": error, "error_description": description}, body
    _no_method_list(answer)
    return body


# ----------------------------------------------------------------------------- token endpoint
@pytest.mark.one_backend
@pytest.mark.parametrize("registered", list(CLIENTS))
def test_token_endpoint_secret_by_basic_body_or_both(live, psc, profile, registered):
    client = CLIENTS[registered]
    url = psc.metadata["token_endpoint"]
    for how in HOWS:
        code, verifier = _code(psc, client)
        answer = _post(url, _redeem_data(code, verifier, client[2]), client, how)
        if _accepted(profile, client, how):
            assert answer.status_code == 200, (how, answer.text)
            assert psc.verify(answer.json()["id_token"])["aud"] == client[0]
        else:
            assert_refused(answer, profile, how)
            # the refused attempt did not burn the code: the registered method redeems it
            registered_how = "basic" if registered == "client_secret_basic" else "body"
            retry = _post(url, _redeem_data(code, verifier, client[2]), client, registered_how)
            assert retry.status_code == 200, retry.text


@pytest.mark.one_backend
def test_lemonldap_sends_the_secret_in_the_body_of_a_basic_client(live, psc, profile):
    """LemonLDAP::NG's PSC connector posts client_id/client_secret in the body for a client
    registered with the default client_secret_basic: Keycloak (PSC) accepts it."""
    rp = psc.client(*DEMO_CLIENT, token_endpoint_auth_method="client_secret_post")
    start, callback = psc.login(rp)
    if profile == "psc":
        token = psc.tokens(rp, start, callback)
        assert psc.verify(token["id_token"])["aud"] == DEMO_CLIENT[0]
    else:
        with pytest.raises(OAuthError) as refused:
            psc.tokens(rp, start, callback)
        assert refused.value.error == "invalid_client"
        assert "cannot authenticate" not in refused.value.description
        assert "client_secret_basic" in refused.value.description  # its registered method only


@pytest.mark.one_backend
@pytest.mark.parametrize("registered", list(CLIENTS))
def test_authlib_client_with_each_method(live, psc, profile, registered):
    client = CLIENTS[registered]
    for method in CLIENTS:
        rp = psc.client(client[0], client[1], client[2], token_endpoint_auth_method=method)
        start, callback = psc.login(rp)
        if profile == "psc" or method == registered:
            token = psc.tokens(rp, start, callback)
            assert token["access_token"] and token["refresh_token"]
            refreshed = rp.refresh_token(psc.metadata["token_endpoint"],
                                         refresh_token=token["refresh_token"])
            assert refreshed["access_token"] != token["access_token"]
        else:
            with pytest.raises(OAuthError) as refused:
                psc.tokens(rp, start, callback)
            assert refused.value.error == "invalid_client"


@pytest.mark.one_backend
def test_both_with_different_secrets(live, psc, profile):
    """psc: Keycloak reads the body's client_secret over the header's; strict: refused."""
    client = BASIC_RP
    url = psc.metadata["token_endpoint"]
    code, verifier = _code(psc, client)
    data = {**_redeem_data(code, verifier, client[2]), "client_id": client[0],
            "client_secret": "wrong"}
    answer = requests.post(url, data=data, auth=(client[0], client[1]), timeout=10)
    if profile == "psc":
        assert_error(answer, 401, "unauthorized_client", KEYCLOAK_BAD_CLIENT)
        data["client_secret"] = client[1]
        answer = requests.post(url, data=data, auth=(client[0], "wrong"), timeout=10)
        assert answer.status_code == 200, answer.text
    else:
        assert_refused(answer, profile, "both")


# ----------------------------------------------------------------------------- wrong credentials
@pytest.mark.one_backend
@pytest.mark.parametrize("how", ["basic", "body"])
def test_wrong_secret_and_unknown_client(live, psc, profile, how):
    url = psc.metadata["token_endpoint"]
    code, verifier = _code(psc, BASIC_RP)
    data = _redeem_data(code, verifier, BASIC_RP[2])
    wrong = _post(url, data, BASIC_RP, how, secret="wrong-secret")
    ghost = _post(url, data, ("ghost-rp", "x"), how)
    only_id = requests.post(url, data={**data, "client_id": BASIC_RP[0]}, timeout=10)
    nothing = requests.post(url, data=data, timeout=10)
    if profile == "psc":
        # ClientIdAndSecretAuthenticator: a known client without its secret
        for answer in (wrong, only_id):
            assert_error(answer, 401, "unauthorized_client", KEYCLOAK_BAD_CLIENT)
            assert "WWW-Authenticate" not in answer.headers
        # AuthenticationProcessor: client not found
        for answer in (ghost, nothing):
            assert_error(answer, 401, "invalid_client", KEYCLOAK_BAD_CLIENT)
    else:
        if how == "body":  # a secret in the body of a Basic client: refused for its method
            assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
            _no_method_list(wrong)
        else:
            assert_error(wrong, 401, "invalid_client", "Client authentication failed.")
        for answer in (ghost, only_id, nothing):
            assert_error(answer, 401, "invalid_client", "Client authentication failed.")
        for answer in (wrong, ghost, only_id, nothing):
            assert answer.headers["WWW-Authenticate"] == 'Basic realm="esante-wallet"'
    # none of it burnt the code
    assert _post(url, data, BASIC_RP, "basic").status_code == 200


# ----------------------------------------------------------------- introspection, revocation
@pytest.mark.one_backend
@pytest.mark.parametrize("registered", list(CLIENTS))
def test_introspection_and_revocation_secret_by_basic_body_or_both(live, psc, profile,
                                                                   registered):
    client = CLIENTS[registered]
    registered_how = "basic" if registered == "client_secret_basic" else "body"
    token_url = psc.metadata["token_endpoint"]
    code, verifier = _code(psc, client)
    tokens = _post(token_url, _redeem_data(code, verifier, client[2]), client,
                   registered_how).json()
    for how in HOWS:
        intro = _post(psc.metadata["introspection_endpoint"],
                      {"token": tokens["access_token"]}, client, how)
        if _accepted(profile, client, how):
            assert intro.status_code == 200 and intro.json()["active"] is True, intro.text
        else:
            assert_refused(intro, profile, how)
    for how in HOWS:
        code, verifier = _code(psc, client)
        fresh = _post(token_url, _redeem_data(code, verifier, client[2]), client,
                      registered_how).json()
        revoked = _post(psc.metadata["revocation_endpoint"],
                        {"token": fresh["access_token"]}, client, how)
        check = _post(psc.metadata["introspection_endpoint"],
                      {"token": fresh["access_token"]}, client, registered_how).json()
        if _accepted(profile, client, how):
            assert revoked.status_code == 200, revoked.text
            assert check == {"active": False}
        else:
            assert_refused(revoked, profile, how)
            assert check["active"] is True
    # a wrong secret: Keycloak's introspection endpoint wraps any client-authentication
    # failure into its own answer; its revocation endpoint passes the authenticator's on
    wrong = _post(psc.metadata["introspection_endpoint"], {"token": tokens["access_token"]},
                  client, registered_how, secret="wrong")
    wrong_revoke = _post(psc.metadata["revocation_endpoint"], {"token": tokens["access_token"]},
                         client, registered_how, secret="wrong")
    if profile == "psc":
        assert_error(wrong, 401, "invalid_request", "Authentication failed.")
        assert_error(wrong_revoke, 401, "unauthorized_client", KEYCLOAK_BAD_CLIENT)
    else:
        for answer in (wrong, wrong_revoke):
            assert_error(answer, 401, "invalid_client", "Client authentication failed.")
    with live.app.app_context():
        from psc_idp.audit import AuditEvent

        refused = db.session.scalars(db.select(AuditEvent).where(
            AuditEvent.event == "token.refused")).all()
        assert any(r.details.get("endpoint") == "introspection" and r.client_id == client[0]
                   for r in refused)


@pytest.mark.one_backend
def test_public_client_at_introspection(live, psc, profile):
    with live.app.app_context():
        upsert_client(ClientSeed(client_id="public-rp", redirect_uris=["http://127.0.0.1:5983/cb"],
                                 auth_method="none"),
                      live.app.extensions["psc_idp"].settings, source="test")
        db.session.commit()
    answer = requests.post(psc.metadata["introspection_endpoint"], timeout=10,
                           data={"token": "x", "client_id": "public-rp"})
    if profile == "psc":  # TokenIntrospectionEndpoint.authorizeClient
        assert_error(answer, 403, "invalid_request", "Client not allowed.")
    else:
        assert answer.status_code == 401 and answer.json()["error"] == "invalid_client"
        _no_method_list(answer)


# ----------------------------------------------------------------------------- CIBA
@pytest.mark.one_backend
def test_ciba_secret_by_basic_body_or_both(live, psc, profile, tmp_path):
    phone = EcpsPhone(live.base_url, tmp_path / "phone", GP)
    phone.activate("1234")
    client = DEMO_CLIENT  # registered client_secret_basic, CIBA enabled
    client4 = (*client, "client_secret_basic")
    request = {"scope": "openid scope_all", "login_hint": GP, "binding_message": "42"}
    acks = []
    for how in HOWS:
        answer = _post(psc.metadata["backchannel_authentication_endpoint"], request, client4,
                       how)
        if _accepted(profile, client4, how):
            assert answer.status_code == 200, (how, answer.text)
            acks.append(answer.json()["auth_req_id"])
        else:
            assert_refused(answer, profile, how)
    for how in HOWS:
        poll = _post(psc.metadata["token_endpoint"],
                     {"grant_type": CIBA, "auth_req_id": acks[0]}, client4, how)
        if _accepted(profile, client4, how):
            assert poll.status_code == 400 and poll.json()["error"] in (
                "authorization_pending", "slow_down"), poll.text
        else:
            assert_refused(poll, profile, how)
    wrong = _post(psc.metadata["backchannel_authentication_endpoint"], request, client4,
                  "basic", secret="wrong")
    if profile == "psc":
        assert_error(wrong, 401, "unauthorized_client", KEYCLOAK_BAD_CLIENT)
    else:
        assert_error(wrong, 401, "invalid_client", "Client authentication failed.")


# ----------------------------------------------------------------------------- code errors
@pytest.mark.one_backend
def test_code_errors_are_worded_per_profile(live, psc, profile):
    url = psc.metadata["token_endpoint"]
    keycloak = profile == "psc"

    def redeem(code: str, verifier: str | None, redirect_uri: str = BASIC_RP[2]
               ) -> requests.Response:
        return _post(url, _redeem_data(code, verifier, redirect_uri), BASIC_RP, "basic")

    bad = redeem("nope", secrets.token_urlsafe(48))
    assert_error(bad, 400, "invalid_grant", "Code not valid" if keycloak else
                 "The authorization code is invalid, expired or already used.")

    code, verifier = _code(psc, BASIC_RP)
    wrong_uri = redeem(code, verifier, "http://127.0.0.1:5981/other")
    assert_error(wrong_uri, 400, "invalid_grant", "Incorrect redirect_uri" if keycloak else
                 "redirect_uri differs from the one of the authorization request.")
    mismatch = redeem(code, secrets.token_urlsafe(48))
    assert_error(mismatch, 400, "invalid_grant",
                 "PKCE verification failed: Code mismatch" if keycloak else
                 "The code_verifier does not match the code_challenge.")
    malformed = redeem(code, "short")
    if keycloak:
        assert_error(malformed, 400, "invalid_grant",
                     "PKCE verification failed: Invalid code verifier")
    else:
        assert malformed.status_code == 400 and malformed.json()["error"] == "invalid_request"
    missing = redeem(code, None)
    if keycloak:
        assert_error(missing, 400, "invalid_grant", "PKCE code verifier not specified")
    else:
        assert_error(missing, 400, "invalid_request", "Missing code_verifier.")

    first = redeem(code, verifier)
    assert first.status_code == 200, first.text
    replayed = redeem(code, verifier)
    assert_error(replayed, 400, "invalid_grant", "Code not valid" if keycloak else
                 "The authorization code is invalid, expired or already used.")
    # in both profiles the replay revoked what the first redemption issued
    info = requests.get(psc.metadata["userinfo_endpoint"], timeout=10,
                        headers={"Authorization": "Bearer " + first.json()["access_token"]})
    assert info.status_code == 401


# ----------------------------------------------------------------------------- refresh tokens
def _refresh(psc: PscActions, refresh_token: str, client: tuple[str, ...] = BASIC_RP
             ) -> requests.Response:
    return _post(psc.metadata["token_endpoint"],
                 {"grant_type": "refresh_token", "refresh_token": refresh_token}, client,
                 "basic")


def test_refresh_token_reuse_per_profile(live, psc, profile):
    code, verifier = _code(psc, BASIC_RP)
    first = _post(psc.metadata["token_endpoint"], _redeem_data(code, verifier, BASIC_RP[2]),
                  BASIC_RP, "basic").json()
    second = _refresh(psc, first["refresh_token"])
    assert second.status_code == 200, second.text
    second = second.json()
    assert second["refresh_token"] != first["refresh_token"]  # a new one each time, both
    again = _refresh(psc, first["refresh_token"])
    if profile == "psc":  # Keycloak's default: no reuse detection
        assert again.status_code == 200, again.text
        assert _refresh(psc, second["refresh_token"]).status_code == 200
        assert _refresh(psc, again.json()["refresh_token"]).status_code == 200
        intro = _post(psc.metadata["introspection_endpoint"],
                      {"token": first["refresh_token"]}, BASIC_RP, "basic").json()
        assert intro["active"] is True
    else:  # RFC 9700 §4.14.2: the reuse revokes the grant, the newest token with it
        assert_error(again, 400, "invalid_grant", "The refresh token was already used: the "
                     "grant and all its tokens are now revoked.")
        newest = _refresh(psc, second["refresh_token"])
        assert_error(newest, 400, "invalid_grant", "The refresh token has been revoked.")
        info = requests.get(psc.metadata["userinfo_endpoint"], timeout=10,
                            headers={"Authorization": "Bearer " + second["access_token"]})
        assert info.status_code == 401


@pytest.mark.one_backend
def test_refresh_errors_are_worded_per_profile(live, psc, profile):
    keycloak = profile == "psc"
    garbage = _refresh(psc, "garbage")
    assert_error(garbage, 400, "invalid_grant", "Invalid refresh token" if keycloak else
                 "The refresh token is invalid.")

    code, verifier = _code(psc, BASIC_RP)
    tokens = _post(psc.metadata["token_endpoint"], _redeem_data(code, verifier, BASIC_RP[2]),
                   BASIC_RP, "basic").json()
    foreign = _refresh(psc, tokens["refresh_token"], client=POST_RP)
    # POST_RP sends by Basic here: allowed in psc, refused for its method in strict
    if keycloak:
        assert_error(foreign, 400, "invalid_grant", "Invalid refresh token. Token client and "
                     "authorized client don't match")
    else:
        assert foreign.status_code == 401
        foreign = _post(psc.metadata["token_endpoint"],
                        {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
                        POST_RP, "body")
        assert_error(foreign, 400, "invalid_grant",
                     "The refresh token was issued to another client.")

    sid = psc.verify(tokens["id_token"])["sid"]
    with live.app.app_context():
        from psc_idp.sessions.logout import end_by_id

        assert end_by_id(sid, "admin_logout") is not None
        db.session.commit()
    ended = _refresh(psc, tokens["refresh_token"])
    assert_error(ended, 400, "invalid_grant", "Session not active" if keycloak else
                 "The session of this refresh token has ended.")
