"""Claims as PSC's relying parties meet them, in both fidelity profiles, over real HTTP:

- userinfo in PSC's current (2024) shape by default, the Feb-2023 shape by setting or per client,
  the signed userinfo JWT in the same shape; each validated against its JSON Schema;
- the access token's ``acr`` and ``nonce`` as the captures show them (psc) or as the RFCs
  suggest (strict), the ID token's unchanged, and introspection answering the same;
- userinfo for a token granted without ``openid``: 403 ``insufficient_scope`` as Keycloak ≥
  19.0.2 answers (what ``pmsipilot/oauth2-prosanteconnect``, ``scope=scope_all`` alone, meets).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import requests
from jsonschema import ValidationError

from psc_idp.admin.clients import upsert_client
from psc_idp.claims.schemas import validate_access_token_claims, validate_userinfo
from psc_idp.config import ClientSeed
from psc_idp.db import db
from tests.psc_actions import DEMO_CLIENT, GP, PscActions

REFERENCE_2024 = json.loads((Path(__file__).parents[1] / "claims" / "reference_userinfo_2024.json")
                            .read_text("utf-8"))
OTHER_REDIRECT = "http://127.0.0.1:5971/cb"
USERINFO_JWT_CLAIMS = ("iss", "aud", "iat", "exp")


def _register(app, **kwargs: Any) -> None:
    kwargs.setdefault("client_secret", kwargs["client_id"] + "-secret")
    kwargs.setdefault("redirect_uris", [OTHER_REDIRECT])
    with app.app_context():
        upsert_client(ClientSeed(**kwargs), app.extensions["psc_idp"].settings, source="test")
        db.session.commit()


def _userinfo(psc: PscActions, access_token: str) -> requests.Response:
    return requests.get(psc.metadata["userinfo_endpoint"], timeout=10,
                        headers={"Authorization": "Bearer " + access_token})


def _login_userinfo(psc: PscActions, client_id: str = DEMO_CLIENT[0],
                    redirect_uri: str = DEMO_CLIENT[2]) -> dict[str, Any]:
    secret = DEMO_CLIENT[1] if client_id == DEMO_CLIENT[0] else client_id + "-secret"
    _, token = psc.full_login(psc.client(client_id, secret, redirect_uri))
    answer = _userinfo(psc, token["access_token"])
    assert answer.status_code == 200, answer.text
    return answer.json()


def _assert_2024(body: dict[str, Any]) -> None:
    validate_userinfo(body, "2024")
    assert list(body) == list(REFERENCE_2024)  # the sample's keys, in the sample's order
    assert set(body["SubjectRefPro"]) == {"exercices"} and "authMode" not in body
    first = body["SubjectRefPro"]["exercices"][0]["activities"][0]
    assert body["codeGenreActivite"] == first["codeGenreActivite"] == "GENR01"
    assert body["codeCivilite"] == "MME"  # the GP persona
    with pytest.raises(ValidationError):
        validate_userinfo(body, "2023")


def _assert_2023(body: dict[str, Any]) -> None:
    validate_userinfo(body, "2023")
    assert "codeCivilite" not in body and "codeGenreActivite" not in body
    assert body["SubjectRefPro"]["codeCivilite"] == "MME" and body["authMode"] == "CARD"
    with pytest.raises(ValidationError):
        validate_userinfo(body, "2024")


# ---------------------------------------------------------------------------------- userinfo
@pytest.mark.one_backend
def test_userinfo_is_in_the_2024_shape_by_default(fidelity_live):
    live = fidelity_live()
    psc = PscActions(live.issuer)
    assert psc.metadata["psc_idp_emulation"]["fidelity"]["userinfo_shape"] == "2024"
    body = _login_userinfo(psc)
    _assert_2024(body)
    assert body["SubjectNameID"] == GP
    assert body["otherIds"] == [{"identifiant": GP, "origine": "RPPS", "qualite": 1}]


@pytest.mark.one_backend
def test_userinfo_2023_shape_by_setting_and_2024_for_a_client_that_asks(fidelity_live):
    live = fidelity_live(fidelity={"userinfo_shape": "2023"})
    _register(live.app, client_id="shape-2024-rp", userinfo_shape="2024")
    psc = PscActions(live.issuer)
    assert psc.metadata["psc_idp_emulation"]["fidelity"]["userinfo_shape"] == "2023"
    _assert_2023(_login_userinfo(psc))
    _assert_2024(_login_userinfo(psc, "shape-2024-rp", OTHER_REDIRECT))


@pytest.mark.one_backend
def test_userinfo_2023_shape_per_client(fidelity_live):
    live = fidelity_live()
    _register(live.app, client_id="shape-2023-rp", userinfo_shape="2023")
    psc = PscActions(live.issuer)
    _assert_2023(_login_userinfo(psc, "shape-2023-rp", OTHER_REDIRECT))
    _assert_2024(_login_userinfo(psc))  # the other clients keep the deployment's shape


@pytest.mark.one_backend
@pytest.mark.parametrize("shape", ["2024", "2023"])
def test_signed_userinfo_follows_the_shape(fidelity_live, shape):
    live = fidelity_live()
    _register(live.app, client_id="jwt-shape-rp", userinfo_signed=True, userinfo_shape=shape)
    psc = PscActions(live.issuer)
    _, token = psc.full_login(psc.client("jwt-shape-rp", "jwt-shape-rp-secret", OTHER_REDIRECT))
    answer = _userinfo(psc, token["access_token"])
    assert answer.headers["Content-Type"].startswith("application/jwt")
    claims = psc.verify(answer.text)
    assert claims["aud"] == "jwt-shape-rp" and claims["iss"] == live.issuer
    body = {k: v for k, v in claims.items() if k not in USERINFO_JWT_CLAIMS}
    (_assert_2024 if shape == "2024" else _assert_2023)(body)


# ----------------------------------------------------------------- access token, introspection
def _introspect(psc: PscActions, token: str) -> dict[str, Any]:
    answer = requests.post(psc.metadata["introspection_endpoint"], auth=DEMO_CLIENT[:2],
                           data={"token": token}, headers={"Accept": "application/json"},
                           timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.json()


def _expect_access(claims: dict[str, Any], profile: str, granted_acr: str) -> None:
    if profile == "psc":  # every real BAS token: eidas3 after a card login, nonce ""
        assert claims["acr"] == "eidas3" and claims["nonce"] == ""
    else:  # RFC 9068: the granted acr, no nonce
        assert claims["acr"] == granted_acr and "nonce" not in claims


@pytest.mark.one_backend
def test_access_token_acr_and_nonce_follow_the_profile(fidelity_live, profile):
    live = fidelity_live()
    psc = PscActions(live.issuer)
    start, token = psc.full_login()
    identity = psc.verify(token["id_token"])
    assert identity["acr"] == "eidas1" and identity["nonce"] == start.nonce  # unchanged
    access = psc.verify(token["access_token"])
    assert access["authMode"] == "CARD"
    _expect_access(access, profile, "eidas1")
    validate_access_token_claims(access)

    introspected = _introspect(psc, token["access_token"])
    assert introspected["active"] is True
    _expect_access(introspected, profile, "eidas1")
    assert {k: introspected[k] for k in access} == access  # every access-token claim as is

    # the refresh token is built from the access token, as Keycloak's (introspection shows it)
    refresh = _introspect(psc, token["refresh_token"])
    assert refresh["active"] is True and refresh["token_type"] == "Refresh"
    assert refresh.get("nonce", None) == ("" if profile == "psc" else None)
    assert start.nonce not in json.dumps(refresh)

    # a refreshed access token says the same
    refreshed = psc.client().refresh_token(psc.metadata["token_endpoint"],
                                           refresh_token=token["refresh_token"])
    _expect_access(psc.verify(refreshed["access_token"]), profile, "eidas1")


@pytest.mark.one_backend
def test_strict_acr_is_the_granted_one(fidelity_live, profile):
    live = fidelity_live()
    psc = PscActions(live.issuer)
    start, token = psc.full_login(acr_values="eidas2")
    assert psc.verify(token["id_token"])["acr"] == "eidas2"
    _expect_access(psc.verify(token["access_token"]), profile, "eidas2")


@pytest.mark.one_backend
def test_a_client_of_the_other_profile_gets_its_own_access_token(fidelity_live, profile):
    other = "strict" if profile == "psc" else "psc"
    live = fidelity_live()
    _register(live.app, client_id="other-profile-rp", fidelity_profile=other)
    psc = PscActions(live.issuer)
    _, token = psc.full_login(psc.client("other-profile-rp", "other-profile-rp-secret",
                                         OTHER_REDIRECT))
    _expect_access(psc.verify(token["access_token"]), other, "eidas1")


@pytest.mark.one_backend
def test_quirks_override_the_access_token_behaviours(fidelity_live, profile):
    flipped = profile == "strict"  # psc's behaviours forced in strict, and the other way
    live = fidelity_live(quirks={"card_access_token_acr_eidas3": flipped,
                                 "access_token_empty_nonce": flipped})
    psc = PscActions(live.issuer)
    _, token = psc.full_login()
    _expect_access(psc.verify(token["access_token"]), "psc" if flipped else "strict", "eidas1")


# ------------------------------------------------------------------------ no openid scope
@pytest.mark.one_backend
def test_userinfo_without_openid_is_insufficient_scope_as_keycloak(fidelity_live):
    live = fidelity_live()
    psc = PscActions(live.issuer)
    # pmsipilot/oauth2-prosanteconnect: scope=scope_all, no openid, then userinfo
    start, token = psc.full_login(psc.client(scope="scope_all"))
    assert "openid" not in token["scope"].split() and "scope_all" in token["scope"].split()
    assert "id_token" not in token  # plain OAuth 2.0: no ID token without openid
    assert psc.verify(token["access_token"])["scope"] == token["scope"]
    answer = _userinfo(psc, token["access_token"])
    assert answer.status_code == 403
    assert answer.json() == {"error": "insufficient_scope",
                             "error_description": "Missing openid scope"}
    assert answer.headers["WWW-Authenticate"] == (
        'Bearer realm="esante-wallet", error="insufficient_scope", '
        'error_description="Missing openid scope"')
    # POST with the token in the body: the same
    posted = requests.post(psc.metadata["userinfo_endpoint"], timeout=10,
                           data={"access_token": token["access_token"]})
    assert posted.status_code == 403 and posted.json()["error"] == "insufficient_scope"
    # the token itself is fine for a resource server
    assert _introspect(psc, token["access_token"])["active"] is True
