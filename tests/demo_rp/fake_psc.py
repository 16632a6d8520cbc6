"""A small fake PSC-shaped OpenID provider for the demo relying party's tests, and helpers.

The fake provider runs in a thread on 127.0.0.1 (werkzeug ``make_server``, free port): PSC's
discovery name, a JWKS, an authorize endpoint that answers at once (code + state + RFC 9207 iss),
a token endpoint that checks client_secret_basic and the PKCE S256 verifier, userinfo as JSON or
as a signed JWT, and an end-session endpoint. It also signs back-channel logout tokens with its
published key (``FakeProvider.logout_token``) and serves a page framing the RP's front-channel
logout URL (``/frontchannel-page``). The relying party is driven with Flask's test client; the
browser hops to the provider are plain ``requests`` calls without redirects.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from html import escape, unescape
from typing import Any
from urllib.parse import urlencode, urlsplit

import requests
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask, jsonify, redirect
from flask import request as flask_request
from joserfc import jwt
from joserfc.jwk import RSAKey
from werkzeug.serving import make_server

from clients.demo_rp.app import create_app
from clients.demo_rp.settings import Settings

BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"

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


def rsa_key(kid: str) -> RSAKey:
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
    sid: str = "5e1d0c3a"
    """The provider session id put in ID tokens (``sid`` and ``session_state``)."""


class FakeProvider:
    """A PSC-shaped OpenID provider, just enough to exercise a relying party."""

    def __init__(self) -> None:
        self.key = rsa_key("psc-test-key")
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

    def logout_token(self, key: RSAKey | None = None, alg: str = "RS256",
                     drop: tuple[str, ...] = (), **claims: Any) -> str:
        """A back-channel logout token signed with the published key (or ``key``); ``claims``
        override the defaults and ``drop`` removes claims."""
        now = int(time.time())
        body: dict[str, Any] = {
            "iss": self.issuer, "aud": CLIENT_ID, "iat": now, "exp": now + 120,
            "jti": secrets.token_hex(12), "sub": SUB, "sid": self.behaviour.sid,
            "events": {BACKCHANNEL_EVENT: {}}, **claims}
        for name in drop:
            body.pop(name, None)
        key = key or self.key
        return jwt.encode({"alg": alg, "kid": key.kid, "typ": "logout+jwt"}, body, key,
                          algorithms=[alg])


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
                "session_state": self.behaviour.sid, "sid": self.behaviour.sid,
                "acr": self.behaviour.acr,
                "at_hash": _b64url_sha256_half(access_token),
                "preferred_username": "899700427885",
            }
            key = self.behaviour.id_token_signing_key or self.key
            id_token = jwt.encode({"alg": "RS256", "kid": key.kid, "typ": "JWT"}, claims, key)
            self.id_tokens.append(id_token)
            return jsonify(access_token=access_token, token_type="Bearer", expires_in=120,
                           refresh_expires_in=1800, refresh_token=secrets.token_urlsafe(24),
                           id_token=id_token, scope="openid profile scope_all identity",
                           session_state=self.behaviour.sid)

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

        @app.get("/frontchannel-page")
        def frontchannel_page():
            """The provider's logout page as the spec draws it: one iframe per RP."""
            src = flask_request.args["rp"] + "/frontchannel-logout?" + urlencode(
                {"iss": flask_request.args.get("iss", self.issuer),
                 "sid": flask_request.args.get("sid", self.behaviour.sid)})
            return (f'<!doctype html><title>Déconnexion</title><h1>Déconnexion</h1>'
                    f'<iframe id="rp-frame" src="{escape(src)}"></iframe>')

        @app.get(oidc + "/logout")
        def end_session():
            args = flask_request.args.to_dict()
            self.end_session_requests.append(args)
            target = args["post_logout_redirect_uri"]
            if "state" in args:
                target += "?" + urlencode({"state": args["state"]})
            return redirect(target)

        return app




def make_rp(issuer: str, **overrides: Any) -> Any:
    """The demo RP for ``issuer`` behind Flask's test client (one cookie jar: one browser)."""
    settings = Settings(ISSUER=issuer, PUBLIC_URL=RP_URL, CLIENT_ID=CLIENT_ID,
                        CLIENT_SECRET=CLIENT_SECRET, SECRET_KEY="test-secret", **overrides)
    app = create_app(settings)
    app.testing = True
    return app.test_client()



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

