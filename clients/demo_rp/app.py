"""The demo relying party: a Flask app that signs professionals in with Pro Santé Connect.

It talks to the provider only through what the discovery document
(``{issuer}/.well-known/wallet-openid-configuration``) announces, so it works unchanged against the
local psc-idp and against the real PSC sandbox ("BAS") by configuration only (see README.md).

Run it with ``python -m clients.demo_rp.app`` or the ``psc-demo-rp`` console script.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from authlib.integrations.base_client.errors import MismatchingStateError
from authlib.integrations.flask_client import OAuth, OAuthError
from flask import Flask, jsonify, make_response, redirect, render_template, request, session
from joserfc import jwt
from joserfc.errors import DecodeError, InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry

from . import claims_view
from .logout import JtiCache, LogoutTokenError, check_logout_claims
from .settings import ConfigError, Settings, load_settings

log = logging.getLogger(__name__)

HTTP_TIMEOUT = (3.05, 10)
"""Connect / read timeouts towards the provider (a PHP integrator found 2 s too short: §8.9)."""
LOGIN_TTL = 8 * 3600
"""Seconds a local login is kept in the in-process store."""
ASYMMETRIC_ALGS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
                   "ES256", "ES384", "ES512", "EdDSA"]
"""Accepted for signed userinfo: never ``none`` (PSC advertises it) nor an HMAC."""
ENDED_BY = {
    "backchannel": "Pro Santé Connect a signalé la fin de votre session à ce service "
                   "(déconnexion back-channel).",
    "frontchannel": "Pro Santé Connect a mis fin à votre session depuis sa page de déconnexion "
                    "(déconnexion front-channel).",
}
"""The detail under "Vous avez été déconnecté de Pro Santé Connect", by how the login ended."""
REQUIRED_METADATA = ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri")
CLAIM_MESSAGES = {
    "nonce": "Le nonce du jeton d'identité ne correspond pas à celui de la requête.",
    "iss": "Le jeton d'identité n'a pas été émis par le fournisseur attendu.",
    "aud": "Le jeton d'identité n'est pas destiné à ce service (aud).",
    "exp": "Le jeton d'identité a expiré.",
    "azp": "Le jeton d'identité a été délivré à un autre client (azp).",
    "at_hash": "Le jeton d'identité ne correspond pas au jeton d'accès (at_hash).",
}


class RpError(Exception):
    """A failure shown to the user on the error page, never as a traceback."""

    def __init__(self, title: str, message: str, status: int = 400,
                 error: str = "", description: str = "", redirected: bool = False) -> None:
        super().__init__(f"{title}: {message}")
        self.title, self.message, self.status = title, message, status
        self.error, self.description = error, description
        self.redirected = redirected
        """The error came back on the redirect to /callback (``error=…``), not as an HTTP
        error from the provider: the page says so rather than show an HTTP code."""


@dataclass
class Login:
    """What one successful sign-in produced; kept server-side, keyed by a random id."""

    id_token: str
    id_claims: dict[str, Any]
    nonce_ok: bool
    userinfo: dict[str, Any]
    userinfo_format: str
    userinfo_raw: str
    created: float

    @property
    def sid(self) -> str:
        """The provider's session id (``sid`` of the ID token); empty if it sent none."""
        sid = self.id_claims.get("sid")
        return sid if isinstance(sid, str) else ""

    @property
    def sub(self) -> str:
        return str(self.id_claims.get("sub") or "")


class LoginStore:
    """In-process store: PSC userinfo can exceed a cookie's 4 KB. One process only (a demo).

    Logins are indexed by the provider's ``sid`` so that a logout notification (back- or
    front-channel) can end them. An ended login leaves a marker under its key, so the browser
    that held it is told it was logged out by the provider (see ``ended``)."""

    def __init__(self, ttl: int = LOGIN_TTL) -> None:
        self._ttl, self._data, self._lock = ttl, {}, threading.Lock()
        self._by_sid: dict[str, set[str]] = {}
        self._ended: dict[str, tuple[str, float]] = {}

    def put(self, login: Login) -> str:
        key = secrets.token_urlsafe(24)
        with self._lock:
            self._prune(time.time())
            self._data[key] = login
            if login.sid:
                self._by_sid.setdefault(login.sid, set()).add(key)
        return key

    def get(self, key: str | None) -> Login | None:
        with self._lock:
            login = self._data.get(key) if key else None
        return login if login and time.time() - login.created <= self._ttl else None

    def pop(self, key: str | None) -> Login | None:
        with self._lock:
            return self._remove(key) if key else None

    def end(self, how: str, sid: str | None = None, sub: str | None = None) -> int:
        """End the logins of provider session ``sid`` (and subject ``sub`` if given), or every
        login of ``sub`` when there is no ``sid``. Returns how many were ended."""
        if not sid and not sub:
            return 0
        with self._lock:
            if sid:
                keys = [k for k in self._by_sid.get(sid, ()) if not sub or
                        self._data[k].sub == sub]
            else:
                keys = [k for k, login in self._data.items() if login.sub == sub]
            now = time.time()
            for key in keys:
                self._remove(key)
                self._ended[key] = (how, now)
        return len(keys)

    def ended(self, key: str | None) -> str | None:
        """How the provider ended this login ("backchannel", "frontchannel"), or None."""
        with self._lock:
            mark = self._ended.get(key) if key else None
        return mark[0] if mark and time.time() - mark[1] <= self._ttl else None

    def _remove(self, key: str) -> Login | None:
        login = self._data.pop(key, None)
        if login and login.sid:
            keys = self._by_sid.get(login.sid, set())
            keys.discard(key)
            if not keys:
                self._by_sid.pop(login.sid, None)
        return login

    def _prune(self, now: float) -> None:
        for old in [k for k, v in self._data.items() if now - v.created > self._ttl]:
            self._remove(old)
        for old in [k for k, (_, when) in self._ended.items() if now - when > self._ttl]:
            del self._ended[old]


class PscRelyingParty:
    """The OpenID Connect side: Authlib's Flask client plus the checks PSC clients add."""

    def __init__(self, settings: Settings, oauth: OAuth) -> None:
        self.settings = settings
        self.logins = LoginStore()
        self.jtis = JtiCache()
        self.client = oauth.register(
            "psc",
            client_id=settings.CLIENT_ID,
            client_secret=settings.CLIENT_SECRET,
            server_metadata_url=settings.discovery_url,
            client_kwargs={
                "scope": settings.SCOPE,
                "code_challenge_method": "S256",
                "token_endpoint_auth_method": settings.TOKEN_AUTH_METHOD,
                "verify": settings.TLS_VERIFY,
                "default_timeout": HTTP_TIMEOUT,
            },
        )

    def metadata(self) -> dict[str, Any]:
        meta = self.client.load_server_metadata()
        missing = [key for key in REQUIRED_METADATA if not meta.get(key)]
        if missing:
            raise RpError("Fournisseur mal configuré",
                          f"Le document de découverte {self.settings.discovery_url} ne contient "
                          f"pas : {', '.join(missing)}.", 502)
        if meta["issuer"] != self.settings.ISSUER:
            raise RpError("Fournisseur mal configuré",
                          f"Le document de découverte annonce l'émetteur {meta['issuer']!r}, "
                          f"mais ce service attend {self.settings.ISSUER!r} (ISSUER).", 502)
        return meta

    def authorize_redirect(self, login_hint: str = ""):
        self.metadata()
        extra = {"acr_values": self.settings.ACR_VALUES}
        if login_hint:
            extra["login_hint"] = login_hint[:256]
        return self.client.authorize_redirect(self.settings.redirect_uri, **extra)

    def finish_login(self) -> Login:
        args = request.args
        state = args.get("state", "")
        state_data = self.client.framework.get_state_data(session, state) if state else None
        if args.get("error"):
            self._forget_state(state)
            if not state_data:  # not ours: show the code, not a text anyone could have written
                raise RpError("Connexion non aboutie", "Erreur reçue hors d'une connexion en "
                              "cours (state absent ou inconnu).", 400, args["error"],
                              redirected=True)
            raise RpError("Connexion non aboutie",
                          "Pro Santé Connect a renvoyé une erreur au lieu d'une autorisation.",
                          400, args["error"], args.get("error_description", ""),
                          redirected=True)
        meta = self.metadata()
        if not state_data:
            raise RpError("Retour de connexion inattendu",
                          "Paramètre state absent, inconnu ou expiré : recommencez la connexion.")
        self._check_iss_parameter(args.get("iss"), meta, state)
        try:
            token = self.client.authorize_access_token(claims_options=self._claims_options())
        except MismatchingStateError as exc:  # pragma: no cover - checked just above
            raise RpError("Retour de connexion inattendu", "Paramètre state invalide.") from exc
        except OAuthError as exc:
            raise RpError("Échange du code refusé",
                          "Le fournisseur a refusé l'échange du code d'autorisation.", 502,
                          exc.error, exc.description or "") from exc
        except JoseError as exc:
            raise _id_token_error(exc) from exc
        claims = dict(token.get("userinfo") or {})
        if not claims or "id_token" not in token:
            raise RpError("Jeton d'identité absent",
                          "La réponse du point d'accès token ne contient pas d'ID token.", 502)
        if claims.get("acr") not in self.settings.accepted_acr:
            raise RpError("Niveau d'authentification refusé",
                          f"Le jeton d'identité porte acr={claims.get('acr')!r} alors que ce "
                          f"service exige {' ou '.join(self.settings.accepted_acr)}.", 403,
                          "invalid_acr")
        userinfo, fmt, raw = self._fetch_userinfo(meta, token["access_token"], claims)
        return Login(id_token=token["id_token"], id_claims=claims,
                     nonce_ok=claims.get("nonce") == state_data.get("nonce"),
                     userinfo=userinfo, userinfo_format=fmt, userinfo_raw=raw,
                     created=time.time())

    def logout_url(self, id_token: str | None) -> tuple[str, str] | None:
        """``(url, state)`` for RP-initiated logout, or None if the provider has no endpoint."""
        try:
            meta = self.metadata()
        except (RpError, requests.RequestException) as exc:
            log.warning("logout: provider metadata unavailable (%s); local logout only", exc)
            return None
        if not meta.get("end_session_endpoint"):
            return None
        state = secrets.token_urlsafe(16)
        rv = self.client.create_logout_url(
            post_logout_redirect_uri=self.settings.post_logout_redirect_uri,
            id_token_hint=id_token, state=state, client_id=self.settings.CLIENT_ID)
        return rv["url"], state

    # ------------------------------------------------------------------ internals

    def _claims_options(self) -> dict[str, Any]:
        s = self.settings
        return {"iss": {"essential": True, "value": s.ISSUER},
                "aud": {"essential": True, "value": s.CLIENT_ID},
                "sub": {"essential": True}, "exp": {"essential": True}}

    def _check_iss_parameter(self, iss: str | None, meta: dict[str, Any], state: str) -> None:
        """RFC 9207: Authlib's Flask client ignores ``iss`` on the callback, so check it here."""
        if iss is None:
            if meta.get("authorization_response_iss_parameter_supported"):
                log.warning("callback without the RFC 9207 iss parameter the provider announces")
            return
        if iss != self.settings.ISSUER:
            self._forget_state(state)
            raise RpError("Émetteur inattendu",
                          f"La réponse d'autorisation vient de {iss!r} et non de "
                          f"{self.settings.ISSUER!r} (paramètre iss, RFC 9207) : possible "
                          "attaque par confusion de fournisseurs.", 400, "invalid_issuer")

    def _forget_state(self, state: str) -> None:
        if state:
            self.client.framework.clear_state_data(session, state)

    def _fetch_userinfo(self, meta: dict[str, Any], access_token: str,
                        id_claims: dict[str, Any]) -> tuple[dict[str, Any], str, str]:
        endpoint = meta.get("userinfo_endpoint")
        if not endpoint:
            return {}, "absent (pas de userinfo_endpoint)", ""
        resp = requests.get(
            endpoint, timeout=HTTP_TIMEOUT, verify=self.settings.TLS_VERIFY,
            headers={"Authorization": f"Bearer {access_token}",
                     "Accept": "application/json, application/jwt"})
        resp.raise_for_status()
        content_type = resp.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if content_type == "application/jwt":
            data, fmt = self._verify_userinfo_jwt(resp.text.strip()), "JWT signé (vérifié)"
        else:
            data, fmt = resp.json(), "JSON"
        if not isinstance(data, dict):
            raise RpError("Userinfo illisible", "La réponse userinfo n'est pas un objet.", 502)
        if data.get("sub") != id_claims.get("sub"):
            raise RpError("Userinfo refusé", "Le sub de userinfo diffère de celui de l'ID token "
                          "(OpenID Connect Core §5.3.2).", 502, "invalid_userinfo")
        return data, fmt, resp.text

    def _verify_userinfo_jwt(self, token: str) -> dict[str, Any]:
        if token.count(".") != 2:
            raise RpError("Userinfo refusé", "Userinfo chiffré (JWE) ou mal formé : non pris en "
                          "charge par ce service.", 502, "invalid_userinfo")
        try:
            claims = self.decode_signed(token)
            jwt.JWTClaimsRegistry(
                iss={"essential": True, "value": self.settings.ISSUER},
                aud={"essential": True, "value": self.settings.CLIENT_ID},
            ).validate(claims)
        except JoseError as exc:
            raise RpError("Userinfo refusé",
                          "La réponse userinfo signée n'a pas pu être vérifiée avec les clés du "
                          "fournisseur (jwks_uri).", 502, exc.error,
                          exc.description or str(exc)) from exc
        return claims

    def decode_signed(self, token: str) -> dict[str, Any]:
        """Verify a JWS signed by the provider with its JWKS (``jwks_uri``), asymmetric
        algorithms only; returns the claims. Raises joserfc's JoseError when it does not verify."""
        registry = JWSRegistry(algorithms=ASYMMETRIC_ALGS)
        try:
            keys = KeySet.import_key_set(self.client.fetch_jwk_set())
            decoded = jwt.decode(token, keys, registry=registry)
        except InvalidKeyIdError:  # keys may have rotated: fetch the JWKS once more
            keys = KeySet.import_key_set(self.client.fetch_jwk_set(force=True))
            decoded = jwt.decode(token, keys, registry=registry)
        return dict(decoded.claims)

    def verify_logout_token(self, token: str) -> dict[str, Any]:
        """Back-Channel Logout 1.0 §2.6: the signature (provider's JWKS), then the claims, then
        the ``jti`` replay check. Raises LogoutTokenError with the reason."""
        if not token:
            raise LogoutTokenError("logout_token is missing")
        if token.count(".") != 2:
            raise LogoutTokenError("logout_token is not a signed JWT (JWS compact)")
        try:
            self.metadata()
        except RpError as exc:
            raise LogoutTokenError(f"provider metadata unusable: {exc.message}") from exc
        except requests.RequestException as exc:
            raise LogoutTokenError(f"the provider's keys could not be fetched: {exc!r}") from exc
        try:
            claims = self.decode_signed(token)
        except requests.RequestException as exc:
            raise LogoutTokenError(f"the provider's keys could not be fetched: {exc!r}") from exc
        except DecodeError as exc:
            raise LogoutTokenError(f"malformed logout_token ({exc.error})") from exc
        except JoseError as exc:
            raise LogoutTokenError("signature not verified with the provider's keys (jwks_uri): "
                                   f"{exc.error}") from exc
        except (ValueError, TypeError, KeyError) as exc:  # malformed base64url / JSON
            raise LogoutTokenError(f"malformed logout_token: {type(exc).__name__}") from exc
        check_logout_claims(claims, self.settings.ISSUER, self.settings.CLIENT_ID)
        if not self.jtis.add(self.settings.ISSUER, claims["jti"], claims):
            raise LogoutTokenError(f"jti {claims['jti']!r} was already used (replay)")
        return claims

    def frame_ancestors(self) -> list[str]:
        """Origins allowed to frame the front-channel logout page: the issuer's, and the
        end-session endpoint's when the discovery document is already loaded (no fetch)."""
        origins = [_origin(self.settings.ISSUER)]
        meta = getattr(self.client, "server_metadata", None) or {}
        end_session = meta.get("end_session_endpoint")
        if isinstance(end_session, str) and end_session.startswith(("http://", "https://")):
            origin = _origin(end_session)
            if origin not in origins:
                origins.append(origin)
        return origins


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _id_token_error(exc: JoseError) -> RpError:
    claim = getattr(exc, "claim", "") or ""
    message = CLAIM_MESSAGES.get(claim, "Le jeton d'identité n'a pas pu être validé "
                                 "(signature, émetteur, audience, nonce ou dates).")
    return RpError("Jeton d'identité refusé", message, 400, exc.error, exc.description or str(exc))


def create_app(settings: Settings | Mapping[str, Any] | None = None) -> Flask:
    """Build the app; ``settings`` is a Settings, a mapping of overrides, or None (environment)."""
    if not isinstance(settings, Settings):
        settings = load_settings(settings)
    settings.validate()
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=settings.SECRET_KEY or secrets.token_hex(32),
        # psc-idp and other demo RPs may share the host (cookies ignore the port)
        SESSION_COOKIE_NAME=f"psc_demo_rp_{settings.PORT}_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.PUBLIC_URL.startswith("https://"),
    )
    rp = PscRelyingParty(settings, OAuth(app))
    app.extensions["psc_demo_rp"] = rp
    _register_routes(app, rp)
    return app


def _register_routes(app: Flask, rp: PscRelyingParty) -> None:
    settings = rp.settings

    @app.context_processor
    def appearance() -> dict[str, str]:
        return {"label": settings.LABEL, "accent": settings.ACCENT}

    def login_state() -> tuple[Login | None, str | None]:
        """This browser's login, or how the provider ended it (back-/front-channel)."""
        key = session.get("login")
        record = rp.logins.get(key)
        if record:
            return record, None
        return None, rp.logins.ended(key) or session.get("logged_out")

    @app.get("/")
    def home():
        record, ended_by = login_state()
        notice = ""
        if "logout_state" in session:
            expected = session.pop("logout_state")
            notice = "Vous êtes déconnecté."
            returned = request.args.get("state")
            if expected and returned and returned != expected:
                notice += " (Paramètre state de retour inattendu : ignoré.)"
        view = _login_view(record) if record else None
        return render_template("home.html", title=settings.TITLE, login=view, notice=notice,
                               issuer=settings.ISSUER, ended_by=ended_by,
                               ended_message=ENDED_BY.get(ended_by or "", ""))

    @app.get("/session-status")
    def session_status():
        """What the home page's script polls: ``signed-in``, ``logged-out`` (ended by the
        provider, with ``ended_by`` and ``message``) or ``signed-out``."""
        record, ended_by = login_state()
        if record:
            body: dict[str, Any] = {"state": "signed-in", "sid": record.sid or None}
        elif ended_by:
            body = {"state": "logged-out", "ended_by": ended_by,
                    "message": ENDED_BY.get(ended_by, "")}
        else:
            body = {"state": "signed-out"}
        return jsonify(body), 200, {"Cache-Control": "no-store"}

    @app.post("/backchannel-logout")
    def backchannel_logout():
        """OpenID Connect Back-Channel Logout 1.0 §2.5–2.8."""
        no_store = {"Cache-Control": "no-store"}
        try:
            claims = rp.verify_logout_token(request.form.get("logout_token", ""))
        except LogoutTokenError as exc:
            log.warning("back-channel logout refused: %s", exc)
            return (jsonify(error="invalid_request", error_description=str(exc)), 400,
                    no_store)
        except Exception:  # the spec's answer to a logout that failed is 400, never a 500
            log.exception("back-channel logout: unexpected failure")
            return (jsonify(error="invalid_request",
                            error_description="the logout token could not be processed"), 400,
                    no_store)
        ended = rp.logins.end("backchannel", sid=claims.get("sid"), sub=claims.get("sub"))
        log.info("back-channel logout (sid=%s, sub=%s, jti=%s): %d login(s) ended",
                 claims.get("sid"), claims.get("sub"), claims.get("jti"), ended)
        return "", 200, no_store

    @app.get("/frontchannel-logout")
    def frontchannel_logout():
        """OpenID Connect Front-Channel Logout 1.0 §2–4, rendered in the provider's iframe."""
        iss, sid = request.args.get("iss"), request.args.get("sid")
        if iss is None and sid is None:  # no session required: this browser's login only
            key = session.pop("login", None)
            record = rp.logins.get(key)
            if record:
                rp.logins.pop(key)
                session["logged_out"] = "frontchannel"
            log.info("front-channel logout without iss/sid: %s", "ended" if record else "none")
            return _frontchannel_page(200, "Déconnexion effectuée.")
        if iss != settings.ISSUER or not sid:
            log.warning("front-channel logout refused: iss=%r sid=%r", iss, sid)
            return _frontchannel_page(400, "Demande de déconnexion refusée (iss ou sid "
                                      "absent ou inattendu).")
        record = rp.logins.get(session.get("login"))
        if record and record.sid == sid:
            session.pop("login", None)
            session["logged_out"] = "frontchannel"
        ended = rp.logins.end("frontchannel", sid=sid)
        log.info("front-channel logout (sid=%s): %d login(s) ended", sid, ended)
        return _frontchannel_page(200, "Déconnexion effectuée.")

    def _frontchannel_page(status: int, message: str):
        ancestors = " ".join(["'self'", *rp.frame_ancestors()])
        response = make_response(render_template("frontchannel.html", title=settings.TITLE,
                                                 message=message), status)
        response.headers["Cache-Control"] = "no-cache, no-store"
        response.headers["Pragma"] = "no-cache"
        response.headers["Content-Security-Policy"] = (
            f"default-src 'none'; style-src 'unsafe-inline'; frame-ancestors {ancestors}")
        return response

    @app.get("/login")
    def login():
        return rp.authorize_redirect(request.args.get("login_hint", "").strip())

    @app.route("/callback", methods=["GET"])
    def callback():
        record = rp.finish_login()
        rp.logins.pop(session.get("login"))
        session.pop("logged_out", None)
        session["login"] = rp.logins.put(record)
        return redirect("/")

    @app.post("/logout")
    def logout():
        record = rp.logins.pop(session.pop("login", None))
        session.pop("logged_out", None)
        target = rp.logout_url(record.id_token if record else None) if record else None
        if target is None:
            session["logout_state"] = ""
            return redirect("/")
        url, state = target
        session["logout_state"] = state
        return redirect(url)

    @app.get("/healthz")
    def healthz():
        return "ok", 200, {"Content-Type": "text/plain; charset=utf-8"}

    @app.errorhandler(RpError)
    def rp_error(exc: RpError):
        log.warning("%s", exc)
        return _error_page(exc.status, exc.title, exc.message, exc.error, exc.description,
                           exc.redirected)

    @app.errorhandler(requests.RequestException)
    def provider_error(exc: requests.RequestException):
        log.warning("provider request failed: %r", exc)
        url = getattr(exc.request, "url", "") or settings.discovery_url
        if isinstance(exc, requests.exceptions.SSLError):
            return _error_page(503, "Fournisseur injoignable",
                               f"Le certificat TLS de {url} a été refusé (voir TLS_VERIFY).")
        if isinstance(exc, requests.ConnectionError | requests.Timeout):
            return _error_page(503, "Fournisseur injoignable",
                               f"Pro Santé Connect ne répond pas ({url}). Réessayez plus tard.")
        status = getattr(exc.response, "status_code", "")
        return _error_page(502, "Réponse invalide du fournisseur",
                           f"Réponse inattendue de {url} {status}".strip() + ".")

    @app.errorhandler(OAuthError)
    def oauth_error(exc: OAuthError):
        return _error_page(502, "Erreur OAuth", "Le fournisseur a renvoyé une erreur.",
                           exc.error, exc.description or "")

    @app.after_request
    def no_store(response):
        response.headers.setdefault("Cache-Control", "no-store")
        if request.endpoint != "frontchannel_logout":  # framed by the provider's logout page
            response.headers.setdefault("X-Frame-Options", "DENY")
        return response

    def _error_page(status: int, title: str, message: str, error: str = "",
                    description: str = "", redirected: bool = False):
        return render_template("error.html", title=settings.TITLE, heading=title,
                               issuer=settings.ISSUER,
                               message=message, error=error, description=description,
                               status=status, redirected=redirected), status


def _login_view(login: Login) -> dict[str, Any]:
    header = claims_view.jwt_header(login.id_token)
    return {
        "sid": login.sid,
        "summary": claims_view.summary(login.userinfo, login.id_claims),
        "id_token_rows": claims_view.id_token_rows(login.id_claims, header, login.nonce_ok),
        "identity_rows": claims_view.identity_rows(login.userinfo),
        "exercices": claims_view.exercice_views(login.userinfo),
        "other_rows": claims_view.other_rows(login.userinfo),
        "userinfo_format": login.userinfo_format,
        "id_token_json": claims_view.pretty_json({"header": header, "claims": login.id_claims}),
        "userinfo_json": claims_view.pretty_json(login.userinfo),
        "userinfo_raw": login.userinfo_raw if login.userinfo_format.startswith("JWT") else "",
        "id_token_raw": login.id_token,
    }


def main() -> None:
    """Console entry point ``psc-demo-rp``: Flask's own server on HOST:PORT."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        settings = load_settings()
    except ConfigError as exc:
        raise SystemExit(f"psc-demo-rp: {exc}") from exc
    app = create_app(settings)
    log.info("demo RP on %s, provider %s", settings.PUBLIC_URL, settings.ISSUER)
    app.run(host=settings.HOST, port=settings.PORT)


if __name__ == "__main__":
    main()
