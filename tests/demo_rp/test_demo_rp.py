"""The demo relying party against a small fake PSC-shaped OpenID provider (``fake_psc.py``).

The relying party is driven with Flask's test client; the browser hops to the provider are plain
``requests`` calls without redirects.
"""

from __future__ import annotations

import re
import socket
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from clients.demo_rp import claims_view
from clients.demo_rp.settings import ConfigError, load_settings
from tests.demo_rp.fake_psc import (
    REALM,
    RP_URL,
    SUB,
    follow_to_rp,
    login,
    make_rp,
    rsa_key,
    visible_text,
)

# ---------------------------------------------------------------------------- full login


def test_full_login_shows_claims_on_home_page(rp, provider):
    callback = login(rp)
    assert callback.status_code == 302 and callback.headers["Location"] == "/"

    home = rp.get("/")
    text = visible_text(home.text)
    assert home.status_code == 200
    assert "Dr KIT DOC0042788" in text
    assert "899700427885" in text
    assert "Médecin" in text  # label of codeProfession 10 from SubjectRefPro
    assert "Qualifié en Médecine générale (SM)" in text
    assert "Carte CPS" in text and "CARD" in text  # authMode
    assert "CABINET M DOC0042788" in text and "CENTRE HOSPITALIER DE TEST" in text
    assert "0B0193488" in text and "1B0064166" in text and "F0B0193488" in text  # FINESS/tech
    assert "1 Rue NOIR" in text and "75009 PARIS" in text
    assert "Cabinet individuel" in text and "Etablissement public de santé" in text
    assert "Libéral, indépendant, artisan, commerçant" in text and "Salarié" in text
    # the validated ID token section
    assert provider.issuer in text and SUB in text and "eidas1" in text and "5e1d0c3a" in text
    assert "vérifié : identique à celui de la requête" in text
    assert re.search(r"Authentifié le \(auth_time\) \d{2}/\d{2}/\d{4} \d{2}:\d{2}:\d{2}", text)
    assert "RS256 (kid psc-test-key)" in text
    assert "Palier_Authentification" in text  # other attributes
    assert "<details>" in home.text and "&#34;SubjectRefPro&#34;" in home.text
    assert "Se déconnecter" in text and "JSON" in text


def test_authorization_request_is_psc_shaped(rp, provider):
    login(rp)
    (auth,) = provider.authorize_requests
    assert auth["scope"] == "openid scope_all"
    assert auth["acr_values"] == "eidas1"
    assert auth["code_challenge_method"] == "S256" and len(auth["code_challenge"]) == 43
    assert auth["nonce"] and auth["state"]
    assert auth["redirect_uri"] == RP_URL + "/callback"
    (tok,) = provider.token_requests
    assert tok["auth"] == "basic" and tok["pkce_ok"] is True
    assert "client_secret" not in tok["form"]


def test_login_hint_is_passed_through(rp, provider):
    login(rp, "?login_hint=899700427885")
    assert provider.authorize_requests[0]["login_hint"] == "899700427885"


def test_home_page_offers_the_psc_button_when_signed_out(rp):
    home = rp.get("/")
    assert home.status_code == 200
    assert "Se connecter avec" in home.text and "Pro Santé Connect" in home.text
    assert 'class="psc-button"' in home.text and 'href="/login"' in home.text
    css = rp.get("/static/demo_rp.css")
    assert css.status_code == 200 and b"#000091" in css.data
    css.close()


def test_healthz(rp):
    resp = rp.get("/healthz")
    assert resp.status_code == 200 and resp.text == "ok"


# ---------------------------------------------------------------------------- rejections


def _assert_not_signed_in(rp):
    home = rp.get("/")
    assert "Se connecter avec" in home.text and "DOC0042788" not in home.text


def test_acr_other_than_eidas1_is_rejected(rp, provider):
    provider.behaviour.acr = "eidas3"
    resp = login(rp)
    text = visible_text(resp.text)
    assert resp.status_code == 403
    assert "Niveau d'authentification refusé" in text
    assert "acr='eidas3'" in text and "eidas1" in text
    _assert_not_signed_in(rp)


def test_wrong_nonce_is_rejected(rp, provider):
    provider.behaviour.nonce = "not-the-nonce-we-sent"
    resp = login(rp)
    assert resp.status_code == 400
    text = visible_text(resp.text)
    assert "Jeton d'identité refusé" in text
    assert "nonce du jeton d'identité ne correspond pas" in text
    _assert_not_signed_in(rp)


def test_id_token_signed_by_another_key_is_rejected(rp, provider):
    provider.behaviour.id_token_signing_key = rsa_key("psc-test-key")
    resp = login(rp)
    assert resp.status_code == 400
    assert "Jeton d'identité refusé" in visible_text(resp.text) and "bad_signature" in resp.text
    _assert_not_signed_in(rp)


def test_expired_id_token_is_rejected(rp, provider):
    provider.behaviour.id_token_lifetime = -600  # beyond the 120 s clock leeway
    resp = login(rp)
    assert resp.status_code == 400
    assert "Le jeton d'identité a expiré" in visible_text(resp.text)


def test_userinfo_as_signed_jwt_is_verified_and_displayed(rp, provider):
    provider.behaviour.userinfo_jwt = True
    assert login(rp).status_code == 302
    text = visible_text(rp.get("/").text)
    assert "userinfo, JWT signé (vérifié)" in text
    assert "Médecin" in text and "CENTRE HOSPITALIER DE TEST" in text
    assert "JWT reçu" in text


@pytest.mark.parametrize("kid", ["psc-test-key", "attacker-key"])
def test_forged_userinfo_jwt_is_rejected(rp, provider, kid):
    provider.behaviour.userinfo_jwt = True
    provider.behaviour.userinfo_signing_key = rsa_key(kid)
    resp = login(rp)
    assert resp.status_code == 502
    assert "Userinfo refusé" in resp.text and "jwks_uri" in resp.text
    _assert_not_signed_in(rp)


def test_userinfo_jwt_for_another_audience_is_rejected(rp, provider):
    provider.behaviour.userinfo_jwt = True
    provider.behaviour.userinfo_extra = {"aud": "another-client"}
    resp = login(rp)
    assert resp.status_code == 502 and "Userinfo refusé" in resp.text
    assert "invalid_claim" in resp.text


def test_userinfo_for_another_subject_is_rejected(rp, provider):
    provider.behaviour.userinfo_extra = {"sub": "f:other:123"}
    resp = login(rp)
    assert resp.status_code == 502 and "Le sub de userinfo diffère" in resp.text


@pytest.mark.parametrize("error, description", [
    ("access_denied", "L'utilisateur a refusé la connexion"),
    ("login_required", "Aucune session active"),
])
def test_callback_error_shows_a_clear_page(rp, provider, error, description):
    provider.behaviour.authorize_error = (error, description)
    resp = login(rp)
    text = visible_text(resp.text)
    assert resp.status_code == 400
    assert "Connexion non aboutie" in text
    assert error in text and description in text
    assert provider.token_requests == []


def test_error_without_a_pending_login_hides_the_description(rp):
    resp = rp.get("/callback?error=access_denied&error_description=Call+0800+now&state=forged")
    text = visible_text(resp.text)
    assert resp.status_code == 400 and "access_denied" in text
    assert "hors d'une connexion en cours" in text and "0800" not in text


def test_wrong_iss_parameter_is_rejected(rp, provider):
    provider.behaviour.iss_param = "https://evil.example/auth/realms/esante-wallet"
    resp = login(rp)
    assert resp.status_code == 400
    assert "Émetteur inattendu" in resp.text and "https://evil.example" in resp.text
    assert provider.token_requests == []  # the code is never redeemed
    _assert_not_signed_in(rp)


def test_missing_iss_parameter_is_tolerated(rp, provider):
    provider.behaviour.iss_param = None
    assert login(rp).status_code == 302
    assert "DOC0042788" in rp.get("/").text


def test_unknown_state_is_rejected(rp, provider):
    resp = rp.get("/callback?code=abc&state=never-issued&iss=" + provider.issuer)
    assert resp.status_code == 400 and "state" in resp.text
    assert provider.token_requests == []


def test_token_endpoint_failure_gives_a_clear_page(rp, provider):
    provider.behaviour.token_status = 500
    resp = login(rp)
    assert resp.status_code == 502
    assert "Réponse invalide du fournisseur" in resp.text and "Traceback" not in resp.text


def test_code_refused_at_token_endpoint_gives_a_clear_page(rp, provider):
    provider.behaviour.token_error = "invalid_grant"
    resp = login(rp)
    text = visible_text(resp.text)
    assert resp.status_code == 502
    assert "Échange du code refusé" in text and "invalid_grant" in text
    assert "Code not valid" in text


def test_discovery_announcing_another_issuer_is_refused(provider):
    rp = make_rp(provider.base + "/auth/realms/other",
                 DISCOVERY_URL=provider.issuer + "/.well-known/wallet-openid-configuration")
    resp = rp.get("/login")
    assert resp.status_code == 502
    assert "Fournisseur mal configuré" in resp.text and provider.issuer in resp.text


# ---------------------------------------------------------------------------- logout


def test_logout_redirects_to_end_session_and_comes_back_signed_out(rp, provider):
    login(rp)
    resp = rp.post("/logout")
    assert resp.status_code == 302
    target = urlsplit(resp.headers["Location"])
    query = {k: v[0] for k, v in parse_qs(target.query).items()}
    assert f"{target.scheme}://{target.netloc}{target.path}" == (
        provider.issuer + "/protocol/openid-connect/logout")
    assert query["id_token_hint"] == provider.id_tokens[-1]
    assert query["post_logout_redirect_uri"] == RP_URL + "/"
    assert query["state"]

    back = requests.get(resp.headers["Location"], allow_redirects=False, timeout=5)
    assert provider.end_session_requests[0]["state"] == query["state"]
    home = follow_to_rp(rp, back.headers["Location"])
    assert "Vous êtes déconnecté" in home.text and "inattendu" not in home.text
    assert "DOC0042788" not in home.text and "Se connecter avec" in home.text


def test_logout_without_end_session_endpoint_is_local(rp, provider):
    provider.behaviour.end_session = False
    login(rp)
    resp = rp.post("/logout")
    assert resp.status_code == 302 and resp.headers["Location"] == "/"
    home = rp.get("/")
    assert "Vous êtes déconnecté" in home.text and "DOC0042788" not in home.text
    assert provider.end_session_requests == []


# ---------------------------------------------------------------------------- provider down


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_provider_down_gives_503_page():
    rp = make_rp(f"http://127.0.0.1:{_closed_port()}{REALM}")
    resp = rp.get("/login")
    assert resp.status_code == 503
    assert "Fournisseur injoignable" in resp.text and "Réessayez plus tard" in resp.text
    assert "Traceback" not in resp.text


# ---------------------------------------------------------------------------- settings, view


def test_settings_defaults_follow_psc_names():
    s = load_settings(environ={})
    assert s.ISSUER == "http://127.0.0.1:5000/auth/realms/esante-wallet"
    assert s.discovery_url == s.ISSUER + "/.well-known/wallet-openid-configuration"
    assert s.redirect_uri == "http://127.0.0.1:5001/callback"
    assert s.post_logout_redirect_uri == "http://127.0.0.1:5001/"
    assert (s.SCOPE, s.ACR_VALUES, s.PORT, s.TLS_VERIFY) == ("openid scope_all", "eidas1", 5001,
                                                             True)
    assert len(s.SECRET_KEY) == 64


def test_settings_from_toml_then_environment(tmp_path):
    config = tmp_path / "rp.toml"
    config.write_text('issuer = "https://auth.bas.psc.esante.gouv.fr/auth/realms/esante-wallet"\n'
                      'CLIENT_ID = "from-toml"\nport = 8443\n', encoding="utf-8")
    s = load_settings(environ={"PSC_DEMO_RP_CONFIG": str(config),
                               "PSC_DEMO_RP_CLIENT_ID": "from-env",
                               "PSC_DEMO_RP_TLS_VERIFY": "false"})
    assert s.discovery_url == ("https://auth.bas.psc.esante.gouv.fr/auth/realms/esante-wallet"
                               "/.well-known/wallet-openid-configuration")
    assert (s.CLIENT_ID, s.PORT, s.TLS_VERIFY) == ("from-env", 8443, False)


@pytest.mark.parametrize("env", [
    {"PSC_DEMO_RP_ISSUER": "auth.example"},
    {"PSC_DEMO_RP_PORT": "eighty"},
    {"PSC_DEMO_RP_TOKEN_AUTH_METHOD": "private_key_jwt"},
    {"PSC_DEMO_RP_SCOPE": "scope_all"},
])
def test_bad_settings_are_refused(env):
    with pytest.raises(ConfigError):
        load_settings(environ=env)


def test_summary_falls_back_on_subject_role():
    info = {"given_name": "Ana", "family_name": "Test", "SubjectNameID": "810000000001",
            "SubjectRole": ["60^1.2.250.1.213.1.1.5.5"], "authMode": "MOBILE"}
    s = claims_view.summary(info, {})
    assert (s.name, s.national_id, s.professions) == ("Ana Test", "810000000001", ["Infirmier"])
    assert s.auth_mode == "e-CPS (application mobile)"
    assert claims_view.profession_label("999") == "Profession 999"
    paris = str(claims_view.DISPLAY_TZ) == "Europe/Paris"  # UTC where no tz database exists
    assert claims_view.format_timestamp(0) == (
        "01/01/1970 01:00:00 (Europe/Paris, UTC+01:00)" if paris
        else "01/01/1970 00:00:00 (UTC, UTC+00:00)")
    if paris:  # summer time: the offset changes with the date
        assert claims_view.format_timestamp(1719835200) == \
            "01/07/2024 14:00:00 (Europe/Paris, UTC+02:00)"
    assert claims_view.format_timestamp("soon") == "soon"
