"""Full authorization-code flows with Authlib's OAuth2 client against a real HTTP provider."""

from __future__ import annotations

import time

import pytest
import requests
from joserfc import jwt
from joserfc.jwk import RSAKey

from psc_idp.claims.schemas import validate_access_token_claims, validate_userinfo
from tests.psc_actions import GP, PscActions, query

TWO_SITUATIONS = "810099900028"
BLOCKED = "810099900150"


def _register(app, **kwargs):
    from psc_idp.admin.clients import upsert_client
    from psc_idp.config import ClientSeed
    from psc_idp.db import db

    with app.app_context():
        upsert_client(ClientSeed(**kwargs), app.extensions["psc_idp"].settings, source="test")
        db.session.commit()


def test_discovery_has_psc_layout_under_both_names(live):
    psc = requests.get(live.issuer + "/.well-known/wallet-openid-configuration").json()
    std = requests.get(live.issuer + "/.well-known/openid-configuration").json()
    assert psc == std
    assert psc["issuer"] == live.issuer
    assert psc["authorization_endpoint"] == live.base_url + "/auth"
    assert psc["token_endpoint"] == live.issuer + "/protocol/openid-connect/token"
    assert psc["jwks_uri"] == live.issuer + "/protocol/openid-connect/certs"
    # the psc profile (default outside production) advertises plain as PSC does
    assert psc["code_challenge_methods_supported"] == ["plain", "S256"]
    assert psc["authorization_response_iss_parameter_supported"] is True
    assert psc["psc_idp_emulation"]["test_personas"] is True


def test_code_flow_id_token_access_token_and_userinfo(live):
    psc = PscActions(live.issuer)
    rp = psc.client()
    start, callback = psc.login(rp, TWO_SITUATIONS)
    params = query(callback)
    assert params["iss"] == live.issuer  # RFC 9207
    assert params["state"] == start.state
    token = psc.tokens(rp, start, callback)

    assert token["token_type"] == "Bearer"
    assert token["expires_in"] == 120
    assert token["refresh_expires_in"] > 0 and token["session_state"]
    assert "not-before-policy" in token

    id_token = psc.verify(token["id_token"])
    header = jwt.decode(token["id_token"], psc.key_set()).header
    assert header["alg"] == "RS256" and header["kid"]
    assert id_token["iss"] == live.issuer
    assert id_token["aud"] == "psc-demo-rp" and id_token["azp"] == "psc-demo-rp"
    assert id_token["nonce"] == start.nonce
    assert id_token["acr"] == "eidas1"
    assert id_token["exp"] > time.time() and id_token["auth_time"] <= time.time()
    assert id_token["sid"] == id_token["session_state"] == token["session_state"]
    assert id_token["sub"].endswith(":" + TWO_SITUATIONS) and id_token["sub"].startswith("f:")
    assert id_token["at_hash"]

    access = psc.verify(token["access_token"])
    assert "aud" not in access
    assert access["exp"] - access["iat"] == 120
    assert access["authMode"] == "CARD" and access["typ"] == "Bearer"
    assert access["otherIds"] == [{"identifiant": TWO_SITUATIONS, "origine": "RPPS",
                                   "qualite": 1}]
    validate_access_token_claims(access)

    info = rp.get(psc.metadata["userinfo_endpoint"])
    assert info.status_code == 200 and info.headers["Content-Type"].startswith(
        "application/json")
    body = info.json()
    validate_userinfo(body)
    assert body["SubjectNameID"] == TWO_SITUATIONS
    activities = [a for e in body["SubjectRefPro"]["exercices"] for a in e["activities"]]
    assert len({a["identifiantTechniqueDeLaStructure"] for a in activities}) == 2


def test_userinfo_as_signed_jwt(live):
    _register(live.app, client_id="jwt-rp", client_secret="jwt-secret-123",
              redirect_uris=["http://127.0.0.1:5999/cb"], userinfo_signed=True)
    psc = PscActions(live.issuer)
    rp = psc.client("jwt-rp", "jwt-secret-123", "http://127.0.0.1:5999/cb")
    psc.full_login(rp)
    info = rp.get(psc.metadata["userinfo_endpoint"])
    assert info.headers["Content-Type"].startswith("application/jwt")
    claims = psc.verify(info.text)
    assert claims["aud"] == "jwt-rp" and claims["iss"] == live.issuer
    assert claims["SubjectNameID"] == GP
    validate_userinfo({k: v for k, v in claims.items() if k not in ("aud", "iss", "iat", "exp")})


def test_refresh_rotates_and_reuse_revokes_the_grant(make_live):
    """The strict profile's rotation (RFC 9700 §4.14.2); the psc profile lets an older refresh
    token be used again, as Keycloak does (tests/fidelity/test_client_auth.py)."""
    live = make_live(fidelity={"profile": "strict"})
    psc = PscActions(live.issuer)
    rp = psc.client()
    _, first = psc.full_login(rp)
    second = rp.refresh_token(psc.metadata["token_endpoint"],
                              refresh_token=first["refresh_token"])
    assert second["refresh_token"] != first["refresh_token"]
    assert psc.verify(second["id_token"])["sid"] == psc.verify(first["id_token"])["sid"]
    # the rotated refresh token is presented again: reuse → grant revoked
    reuse = requests.post(psc.metadata["token_endpoint"], auth=("psc-demo-rp", "demo-rp-secret"),
                          data={"grant_type": "refresh_token",
                                "refresh_token": first["refresh_token"]})
    assert reuse.status_code == 400 and reuse.json()["error"] == "invalid_grant"
    again = requests.post(psc.metadata["token_endpoint"], auth=("psc-demo-rp", "demo-rp-secret"),
                          data={"grant_type": "refresh_token",
                                "refresh_token": second["refresh_token"]})
    assert again.status_code == 400
    info = requests.get(psc.metadata["userinfo_endpoint"],
                        headers={"Authorization": "Bearer " + second["access_token"]})
    assert info.status_code == 401 and info.json()["error"] == "invalid_token"


def test_private_key_jwt_client(make_live):
    live = make_live()
    key = RSAKey.generate_key(2048, parameters={"kid": "rp-key-1"})
    public = {"keys": [dict(key.as_dict(private=False), kid="rp-key-1", use="sig")]}
    _register(live.app, client_id="pkjwt-rp", redirect_uris=["http://127.0.0.1:5998/cb"],
              auth_method="private_key_jwt", jwks=public)
    psc = PscActions(live.issuer)
    from tests.psc_actions import ShortLivedPrivateKeyJWT

    rp = psc.client("pkjwt-rp", key.as_pem(private=True).decode(), "http://127.0.0.1:5998/cb",
                    token_endpoint_auth_method=ShortLivedPrivateKeyJWT(
                        psc.metadata["token_endpoint"], alg="RS256"))
    _, token = psc.full_login(rp)
    assert psc.verify(token["id_token"])["aud"] == "pkjwt-rp"


def test_sso_second_client_gets_code_without_page(live):
    _register(live.app, client_id="second-rp", client_secret="second-secret",
              redirect_uris=["http://127.0.0.1:5997/cb"])
    psc = PscActions(live.issuer)
    _, first = psc.full_login()
    rp2 = psc.client("second-rp", "second-secret", "http://127.0.0.1:5997/cb")
    start = psc.start(rp2, prompt="none")
    answer = psc.open(start.url)
    assert answer.status_code == 302 and "code=" in answer.headers["Location"]
    second = psc.tokens(rp2, start, answer.headers["Location"])
    one, two = psc.verify(first["id_token"]), psc.verify(second["id_token"])
    assert one["sid"] == two["sid"] and one["auth_time"] == two["auth_time"]


def test_prompt_none_without_session_answers_login_required(live):
    psc = PscActions(live.issuer)
    start = psc.start(psc.client(), prompt="none")
    answer = psc.open(start.url)
    assert answer.status_code == 302
    params = query(answer.headers["Location"])
    assert params["error"] == "login_required" and params["state"] == start.state
    assert params["iss"] == live.issuer


def test_prompt_login_and_max_age_force_a_new_login(live):
    psc = PscActions(live.issuer)
    psc.full_login()
    rp = psc.client()
    assert psc.open(psc.start(rp, prompt="login").url).status_code == 200
    time.sleep(1.1)
    assert psc.open(psc.start(rp, max_age="0").url).status_code == 200
    answer = psc.open(psc.start(rp, max_age="3600").url)
    assert answer.status_code == 302 and "code=" in answer.headers["Location"]


def test_test_autologin_with_login_hint(live):
    _register(live.app, client_id="ci-rp", client_secret="ci-secret-1",
              redirect_uris=["http://127.0.0.1:5996/cb"], test_autologin=True)
    psc = PscActions(live.issuer)
    rp = psc.client("ci-rp", "ci-secret-1", "http://127.0.0.1:5996/cb")
    start = psc.start(rp, login_hint=GP)
    answer = psc.open(start.url)
    assert answer.status_code == 302, answer.text[:300]
    token = psc.tokens(rp, start, answer.headers["Location"])
    assert psc.verify(token["id_token"])["preferred_username"] == GP


def test_blocked_professional_is_refused_with_access_denied(live):
    psc = PscActions(live.issuer)
    start = psc.start(psc.client())
    done = psc.pick_persona(psc.open(start.url), BLOCKED)
    assert done.status_code == 302
    assert query(done.headers["Location"])["error"] == "access_denied"


def test_introspection_as_psc_answers(live):
    psc = PscActions(live.issuer)
    _, token = psc.full_login()
    url = psc.metadata["introspection_endpoint"]
    answer = requests.post(url, auth=("psc-demo-rp", "demo-rp-secret"),
                           data={"token": token["access_token"]},
                           headers={"Accept": "application/json"}).json()
    assert answer["active"] is True and answer["client_id"] == "psc-demo-rp"
    assert answer["username"] == GP and answer["SubjectNameID"] == GP
    assert answer["authMode"] == "CARD"
    requests.post(psc.metadata["revocation_endpoint"], auth=("psc-demo-rp", "demo-rp-secret"),
                  data={"token": token["refresh_token"]}).raise_for_status()
    after = requests.post(url, auth=("psc-demo-rp", "demo-rp-secret"),
                          data={"token": token["access_token"]}).json()
    assert after == {"active": False}


@pytest.mark.parametrize("locale,word", [("fr", "Connexion"), ("en", "Sign in")])
def test_ui_locales(live, locale, word):
    psc = PscActions(live.issuer)
    page = psc.open(psc.start(psc.client(), ui_locales=locale).url)
    assert word in page.text
