"""The demo relying party against a small fake PSC-shaped OpenID provider.

The fake provider runs in a thread on 127.0.0.1 (werkzeug ``make_server``, free port): PSC's
discovery name, a JWKS, an authorize endpoint that answers at once (code + state + RFC 9207 iss),
a token endpoint that checks client_secret_basic and the PKCE S256 verifier, userinfo as JSON or
as a signed JWT, and an end-session endpoint. The relying party is driven with Flask's test
client; the browser hops to the provider are plain ``requests`` calls without redirects.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import re
import secrets
import socket
import threading
import time
from dataclasses import dataclass, field
from html import unescape
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask, jsonify, redirect
from flask import request as flask_request
from joserfc import jwt
from joserfc.jwk import RSAKey
from werkzeug.serving import make_server

from clients.demo_rp import claims_view
from clients.demo_rp.app import create_app
from clients.demo_rp.settings import ConfigError, Settings, load_settings

REALM = "/auth/realms/esante-wallet"
CLIENT_ID = "psc-demo-rp"
CLIENT_SECRET = "demo-rp-secret"
RP_URL = "http://rp.example.test:5001"
SUB = "f:550dc1c8-d97b-4b1e-ac8c-8eb4471cf9dd:899700427885"

_ACTIVITY = dict.fromkeys((
    "codeModeExercice", "codeSecteurDactivite", "codeSectionPharmacien", "codeRole",
    "codeGenreActivite", "numeroSiretSite", "numeroSirenSite", "numeroFinessSite",
    "numeroFinessetablissementJuridique", "identifiantTechniqueDeLaStructure",
    "raisonSocialeSite", "enseigneCommercialeSite", "complementDestinataire",
    "complementPointGeographique", "numeroVoie", "indiceRepetitionVoie", "codeTypeDeVoie",
    "libelleVoie", "mentionDistribution", "bureauCedex", "codePostal", "codeCommune", "codePays",
    "telephone", "telephone2", "telecopie", "adresseEMail", "codeDepartement",
    "ancienIdentifiantDeLaStructure", "autoriteDenregistrement"), "")
# The BAS capture of reference §4.2, with its second (hospital) activity.
PSC_USERINFO: dict[str, Any] = {
    "sub": SUB,
    "SubjectNameID": "899700427885",
    "preferred_username": "899700427885",
    "given_name": "KIT",
    "family_name": "DOC0042788",
    "Secteur_Activite": "SA07^1.2.250.1.71.4.2.4",
    "SubjectOrganization": "CABINET M DOC0042788",
    "SubjectOrganizationID": "R102671",
    "SubjectRole": ["10^1.2.250.1.213.1.1.5.5"],
    "Mode_Acces_Raison": "",
    "Acces_Regulation_Medicale": "FAUX",
    "UITVersion": "1.0",
    "authMode": "CARD",
    "Palier_Authentification": "APPPRIP3^1.2.250.1.213.1.5.1.1.1",
    "PSI_Locale": "1.2.250.1.213.1.3.1.1",
    "otherIds": [{"identifiant": "899700427885", "origine": "RPPS", "qualite": 1}],
    "SubjectRefPro": {
        "codeCivilite": "M",
        "exercices": [{
            "codeProfession": "10", "codeCategorieProfessionnelle": "C",
            "codeCiviliteDexercice": "DR", "nomDexercice": "DOC0042788",
            "prenomDexercice": "KIT", "codeTypeSavoirFaire": "S", "codeSavoirFaire": "SM26",
            "activities": [
                {**_ACTIVITY, "codeModeExercice": "L", "codeSecteurDactivite": "SA07",
                 "identifiantTechniqueDeLaStructure": "R102671",
                 "raisonSocialeSite": "CABINET M DOC0042788",
                 "complementDestinataire": "CABINET M DOC", "numeroVoie": "1",
                 "codeTypeDeVoie": "R", "libelleVoie": "NOIR", "bureauCedex": "75009 PARIS",
                 "codePostal": "75009", "codePays": "99000",
                 "ancienIdentifiantDeLaStructure": "499700427885006",
                 "autoriteDenregistrement": "CNOM/CNOM/CNOM"},
                {**_ACTIVITY, "codeModeExercice": "S", "codeSecteurDactivite": "SA01",
                 "numeroFinessSite": "0B0193488", "numeroFinessetablissementJuridique": "1B0064166",
                 "identifiantTechniqueDeLaStructure": "F0B0193488",
                 "raisonSocialeSite": "CENTRE HOSPITALIER DE TEST",
                 "autoriteDenregistrement": "CNOM/CNOM/ARS"},
            ],
        }],
    },
}


def _b64url_sha256_half(value: str) -> str:
    digest = hashlib.sha256(value.encode()).digest()
    return base64.urlsafe_b64encode(digest[: len(digest) // 2]).rstrip(b"=").decode()


def _pkce_s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _rsa_key(kid: str) -> RSAKey:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return RSAKey.import_key(private, parameters={"kid": kid, "use": "sig", "alg": "RS256"})


@dataclass
class Behaviour:
    """What the fake provider does; reset before every test."""

    acr: str = "eidas1"
    nonce: str | None = None
    """Put this nonce in the ID token instead of the requested one."""
    iss_param: str | None = "issuer"
    """RFC 9207 ``iss`` on the callback: "issuer" (the real one), None (omitted), or a value."""
    authorize_error: tuple[str, str] | None = None
    userinfo_jwt: bool = False
    userinfo_signing_key: RSAKey | None = None
    """Sign userinfo with this key instead of the published one (a forgery)."""
    userinfo_extra: dict[str, Any] = field(default_factory=dict)
    token_status: int = 200
    token_error: str | None = None
    id_token_signing_key: RSAKey | None = None
    id_token_lifetime: int = 120
    end_session: bool = True


class FakeProvider:
    """A PSC-shaped OpenID provider, just enough to exercise a relying party."""

    def __init__(self) -> None:
        self.key = _rsa_key("psc-test-key")
        self.behaviour = Behaviour()
        self.codes: dict[str, dict[str, Any]] = {}
        self.access_tokens: set[str] = set()
        self.authorize_requests: list[dict[str, str]] = []
        self.token_requests: list[dict[str, Any]] = []
        self.end_session_requests: list[dict[str, str]] = []
        self.id_tokens: list[str] = []
        self.app = self._build_app()
        self.server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.base = f"http://127.0.0.1:{self.server.port}"
        self.issuer = self.base + REALM
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def reset(self) -> None:
        self.behaviour = Behaviour()
        for log in (self.codes, self.authorize_requests, self.token_requests,
                    self.end_session_requests, self.id_tokens):
            log.clear()
        self.access_tokens.clear()

    # ------------------------------------------------------------------ endpoints

    def _build_app(self) -> Flask:
        app = Flask("fake_psc")
        oidc = REALM + "/protocol/openid-connect"

        @app.get(REALM + "/.well-known/wallet-openid-configuration")
        def discovery():
            doc = {
                "issuer": self.issuer,
                "authorization_endpoint": self.base + "/auth",  # PSC: the wallet.* host
                "token_endpoint": self.issuer + "/protocol/openid-connect/token",
                "userinfo_endpoint": self.issuer + "/protocol/openid-connect/userinfo",
                "jwks_uri": self.issuer + "/protocol/openid-connect/certs",
                "acr_values_supported": ["0", "0"],  # Keycloak artefact (quirk 11)
                "authorization_response_iss_parameter_supported": True,
                "code_challenge_methods_supported": ["plain", "S256"],
                "id_token_signing_alg_values_supported": ["PS384", "RS384", "ES256", "RS256",
                                                          "HS256", "RS512"],
                "userinfo_signing_alg_values_supported": ["RS256", "none"],
                "scopes_supported": ["openid", "scope_all", "eidas1", "profile"],
                "token_endpoint_auth_methods_supported": ["client_secret_basic",
                                                          "client_secret_post"],
                "response_types_supported": ["code"],
            }
            if self.behaviour.end_session:
                doc["end_session_endpoint"] = self.issuer + "/protocol/openid-connect/logout"
            return jsonify(doc)

        @app.get(oidc + "/certs")
        def certs():
            return jsonify({"keys": [self.key.as_dict(private=False)]})

        @app.get("/auth")
        def authorize():
            args = flask_request.args.to_dict()
            self.authorize_requests.append(args)
            assert args["client_id"] == CLIENT_ID and args["response_type"] == "code"
            params: dict[str, str] = {"state": args["state"]}
            if self.behaviour.iss_param is not None:
                params["iss"] = (self.issuer if self.behaviour.iss_param == "issuer"
                                 else self.behaviour.iss_param)
            if self.behaviour.authorize_error:
                params["error"], params["error_description"] = self.behaviour.authorize_error
            else:
                code = secrets.token_urlsafe(16)
                self.codes[code] = args
                params["code"] = code
            return redirect(args["redirect_uri"] + "?" + urlencode(params))

        @app.post(oidc + "/token")
        def token():
            auth = flask_request.authorization
            form = flask_request.form
            record: dict[str, Any] = {"auth": auth.type if auth else None, "form": form.to_dict()}
            self.token_requests.append(record)
            if not auth or auth.type != "basic" or (auth.username, auth.password) != (
                    CLIENT_ID, CLIENT_SECRET):
                return jsonify(error="invalid_client"), 401
            if self.behaviour.token_status != 200:
                return "<html>Internal Server Error</html>", self.behaviour.token_status
            if self.behaviour.token_error:
                return jsonify(error=self.behaviour.token_error,
                               error_description="Code not valid"), 400
            grant = self.codes.pop(form.get("code", ""), None)
            if (grant is None or form.get("grant_type") != "authorization_code"
                    or form.get("redirect_uri") != grant["redirect_uri"]):
                return jsonify(error="invalid_grant"), 400
            record["pkce_ok"] = (grant.get("code_challenge_method") == "S256"
                                 and _pkce_s256(form.get("code_verifier", ""))
                                 == grant.get("code_challenge"))
            if not record["pkce_ok"]:
                return jsonify(error="invalid_grant", error_description="PKCE"), 400
            access_token = secrets.token_urlsafe(24)
            self.access_tokens.add(access_token)
            now = int(time.time())
            claims = {
                "exp": now + self.behaviour.id_token_lifetime, "iat": now, "auth_time": now - 5,
                "jti": secrets.token_hex(8), "iss": self.issuer, "aud": CLIENT_ID, "sub": SUB,
                "typ": "ID", "azp": CLIENT_ID,
                "nonce": self.behaviour.nonce or grant["nonce"],
                "session_state": "5e1d0c3a", "sid": "5e1d0c3a", "acr": self.behaviour.acr,
                "at_hash": _b64url_sha256_half(access_token),
                "preferred_username": "899700427885",
            }
            key = self.behaviour.id_token_signing_key or self.key
            id_token = jwt.encode({"alg": "RS256", "kid": key.kid, "typ": "JWT"}, claims, key)
            self.id_tokens.append(id_token)
            return jsonify(access_token=access_token, token_type="Bearer", expires_in=120,
                           refresh_expires_in=1800, refresh_token=secrets.token_urlsafe(24),
                           id_token=id_token, scope="openid profile scope_all identity",
                           session_state="5e1d0c3a")

        @app.get(oidc + "/userinfo")
        def userinfo():
            header = flask_request.headers.get("Authorization", "")
            if header.removeprefix("Bearer ") not in self.access_tokens:
                return jsonify(error="invalid_token"), 401
            body = {**copy.deepcopy(PSC_USERINFO), **self.behaviour.userinfo_extra}
            if not self.behaviour.userinfo_jwt:
                return jsonify(body)
            key = self.behaviour.userinfo_signing_key or self.key
            body = {"iss": self.issuer, "aud": CLIENT_ID, **body}
            signed = jwt.encode({"alg": "RS256", "kid": key.kid, "typ": "JWT"}, body, key)
            return signed, 200, {"Content-Type": "application/jwt"}

        @app.get(oidc + "/logout")
        def end_session():
            args = flask_request.args.to_dict()
            self.end_session_requests.append(args)
            target = args["post_logout_redirect_uri"]
            if "state" in args:
                target += "?" + urlencode({"state": args["state"]})
            return redirect(target)

        return app


@pytest.fixture(scope="module")
def provider():
    fake = FakeProvider()
    fake.thread.start()
    yield fake
    fake.server.shutdown()
    fake.server.server_close()
    fake.thread.join(timeout=5)


@pytest.fixture(autouse=True)
def _fresh_provider(request):
    if "provider" in request.fixturenames:
        request.getfixturevalue("provider").reset()


def make_rp(issuer: str, **overrides: Any):
    settings = Settings(ISSUER=issuer, PUBLIC_URL=RP_URL, CLIENT_ID=CLIENT_ID,
                        CLIENT_SECRET=CLIENT_SECRET, SECRET_KEY="test-secret", **overrides)
    app = create_app(settings)
    app.testing = True
    return app.test_client()


@pytest.fixture
def rp(provider):
    return make_rp(provider.issuer)


def start_login(rp, query: str = "") -> str:
    """GET /login on the RP and the authorize URL on the provider; returns the callback URL."""
    resp = rp.get("/login" + query)
    assert resp.status_code == 302, resp.text
    at_provider = requests.get(resp.headers["Location"], allow_redirects=False, timeout=5)
    assert at_provider.status_code == 302
    return at_provider.headers["Location"]


def follow_to_rp(rp, url: str):
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}" == RP_URL
    return rp.get(parts.path + ("?" + parts.query if parts.query else ""))


def login(rp, query: str = ""):
    return follow_to_rp(rp, start_login(rp, query))


def visible_text(html: str) -> str:
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))


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
    provider.behaviour.id_token_signing_key = _rsa_key("psc-test-key")
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
    provider.behaviour.userinfo_signing_key = _rsa_key(kid)
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
        "01/01/1970 01:00:00 (Europe/Paris)" if paris else "01/01/1970 00:00:00 (UTC)")
    assert claims_view.format_timestamp("soon") == "soon"
