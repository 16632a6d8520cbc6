"""Keycloak's edges that PSC relying parties meet, in both fidelity profiles: the ``/auth/``
URL with a trailing slash, ``session_state`` in the authorization response, the granted scope
(unknown scopes dropped, the realm's default scopes added in the psc profile), plain PKCE, and
what discovery says of the profile."""

from __future__ import annotations

import secrets

import pytest
import requests

from psc_idp.admin.clients import upsert_client
from psc_idp.config import ClientSeed
from psc_idp.db import db
from tests.psc_actions import DEMO_CLIENT, PscActions, query


def _register(app, **kwargs) -> None:
    with app.app_context():
        upsert_client(ClientSeed(**kwargs), app.extensions["psc_idp"].settings, source="test")
        db.session.commit()


@pytest.mark.one_backend
def test_wallet_authorize_with_a_trailing_slash_as_the_drupal_plugin_builds_it(fidelity_live):
    live = fidelity_live()
    psc = PscActions(live.issuer)
    rp = psc.client()
    start = psc.start(rp)
    slashed = start.url.replace("/auth?", "/auth/?", 1)
    assert "/auth/?" in slashed
    page = psc.open(slashed)
    assert page.status_code == 200, page.text[:300]
    done = psc.pick_persona(page)
    token = psc.tokens(rp, start, done.headers["Location"])
    assert token["access_token"] and token["id_token"]
    assert psc.open(start.url.replace("/auth?", "/auth/x?", 1)).status_code == 404


@pytest.mark.one_backend
def test_authorization_response_carries_session_state(fidelity_live):
    live = fidelity_live()
    psc = PscActions(live.issuer)
    rp = psc.client()
    start, callback = psc.login(rp)
    answer = query(callback)
    assert set(answer) >= {"code", "state", "iss", "session_state"}
    token = psc.tokens(rp, start, callback)
    assert answer["session_state"] == token["session_state"] == psc.verify(
        token["id_token"])["sid"]
    # second client, answered from the SSO session: same session_state
    _, second = psc.login(rp)
    assert query(second)["session_state"] == answer["session_state"]


@pytest.mark.one_backend
def test_granted_scope_drops_unknown_scopes_and_adds_default_ones_in_psc(fidelity_live, profile):
    live = fidelity_live()
    psc = PscActions(live.issuer)
    rp = psc.client(scope="openid scope_all some_unknown_scope")
    _, token = psc.full_login(rp)
    granted = token["scope"].split()
    assert "some_unknown_scope" not in granted
    claims = psc.verify(token["access_token"])
    assert claims["scope"] == token["scope"]
    if profile == "psc":  # as the 2023 BAS token: "openid profile scope_all identity"
        assert sorted(granted) == ["identity", "openid", "profile", "scope_all"]
    else:
        assert granted == ["openid", "scope_all"]


@pytest.mark.one_backend
def test_default_scopes_are_a_setting(fidelity_live, profile):
    live = fidelity_live(fidelity={"default_scopes": ["profile", "email"]})
    psc = PscActions(live.issuer)
    _, token = psc.full_login()
    expected = {"openid", "scope_all"} | ({"profile", "email"} if profile == "psc" else set())
    assert set(token["scope"].split()) == expected


@pytest.mark.one_backend
def test_plain_pkce_follows_the_profile_and_the_client_can_choose(fidelity_live, profile):
    live = fidelity_live()
    psc = PscActions(live.issuer)
    advertised = psc.metadata["code_challenge_methods_supported"]
    assert advertised == (["plain", "S256"] if profile == "psc" else ["S256"])
    assert psc.metadata["acr_values_supported"] == (["0", "0"] if profile == "psc"
                                                     else ["eidas1"])
    emulation = psc.metadata["psc_idp_emulation"]["fidelity"]
    assert emulation["profile"] == profile
    assert emulation["behaviours"]["allow_plain_pkce"] is (profile == "psc")

    other = "strict" if profile == "psc" else "psc"
    _register(live.app, client_id="other-profile", client_secret="other-secret",
              redirect_uris=[DEMO_CLIENT[2]], fidelity_profile=other)
    for client_id, secret, client_profile in ((DEMO_CLIENT[0], DEMO_CLIENT[1], profile),
                                              ("other-profile", "other-secret", other)):
        verifier = secrets.token_urlsafe(48)
        url = psc.client(client_id, secret).create_authorization_url(
            psc.metadata["authorization_endpoint"], code_challenge=verifier,
            code_challenge_method="plain", acr_values="eidas1", nonce="n")[0]
        page = PscActions(live.issuer).open(url)
        if client_profile == "strict":
            assert page.status_code == 302
            assert query(page.headers["Location"])["error"] == "invalid_request"
            continue
        browser = PscActions(live.issuer)
        done = browser.pick_persona(browser.open(url))
        code = query(done.headers["Location"])["code"]
        token = requests.post(psc.metadata["token_endpoint"], auth=(client_id, secret), data={
            "grant_type": "authorization_code", "code": code, "redirect_uri": DEMO_CLIENT[2],
            "code_verifier": verifier}, timeout=10)
        assert token.status_code == 200, token.text
