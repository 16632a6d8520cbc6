"""The Authlib authorization server, wired once: grants, client authentication, endpoints.

All Authlib glue lives in ``oidc/`` (this module, ``grants``, ``id_token``, ``client_auth``,
``endpoints_authlib``); the rest of psc-idp talks to it through ``authorize`` and ``views``.

Client authentication (token, introspection, revocation and CIBA endpoints) is psc-idp's own,
not Authlib's registry loop, so that it can follow the fidelity profile
(``client_secret_any_method``): in the psc profile a client with a secret may send it by Basic
or in the body whatever its registered method, as Keycloak's ClientIdAndSecretAuthenticator
reads both (the body's ``client_id``/``client_secret`` win over the header's); in the strict
profile only the registered method is accepted and two methods in one request are refused
(RFC 6749 §2.3, ``invalid_request`` as §5.2 lists it). ``private_key_jwt`` clients must send a
signed assertion and public clients only their ``client_id``, in both profiles. Refusals are
worded by ``refusals`` and never list methods; each one is audited with its precise reason.

Wrong secrets are throttled (``ratelimit.guard_secret_check``): a secret this process has not
verified before is counted against the address's, the (client, address)'s and the client's
budget of failures before argon2id runs; once one is spent the request is answered
``429 slow_down`` with ``Retry-After``, unchecked (``too_many``).

RFC 8705 (``mtls_auth``): a client registered for ``tls_client_auth`` or
``self_signed_tls_client_auth`` authenticates only by the certificate of a request that came
through the mTLS listener, and only there; every endpoint that accepts confidential clients
(token, introspection, revocation, CIBA) accepts these two methods as well. A client with
``tls_client_certificate_bound_access_tokens`` must present a certificate at the token
endpoint (whatever its authentication method): its tokens carry ``cnf.x5t#S256``. A bound
refresh token needs its certificate again (``BoundRefreshGrant``): for every client in the psc
profile (Keycloak's MtlsHoKTokenUtil), for public clients only in the strict one (RFC 8705 §3:
a confidential client's authentication already binds its refresh tokens, so it may roll its
certificate over).
"""

from __future__ import annotations

import logging
from typing import Any

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.integrations.flask_oauth2.requests import FlaskOAuth2Request
from authlib.oauth2.rfc6749 import OAuth2Request
from authlib.oauth2.rfc6749.errors import InvalidClientError, OAuth2Error
from authlib.oauth2.rfc6749.util import extract_basic_authorization
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc7636.challenge import CODE_VERIFIER_PATTERN
from authlib.oauth2.rfc9207 import IssuerParameter
from flask import Flask, current_app, g, has_app_context
from flask import request as flask_request

from .. import ratelimit
from ..config import Settings
from ..db import db
from ..fidelity import behaves
from .ciba import CibaGrant
from .client_auth import PrivateKeyJwt
from .client_cache import ClientView, cache_of, install, own_version, read_client
from .endpoints_authlib import PscIntrospectionEndpoint, PscRevocationEndpoint
from .grants import CodeGrant, RefreshCredential, RefreshGrant
from .id_token import PscOpenIDCode
from .mtls_auth import MTLS_METHODS, MtlsRefused, binds_tokens, presented_matches
from .mtls_auth import authenticate as authenticate_by_certificate
from .refusals import (
    Refusal,
    bad_client,
    basic_challenge,
    bound_certificate_missing,
    certificate_refused,
    grant_error,
    not_at_this_endpoint,
    refresh_binding_mismatch,
    several_methods,
    wrong_method,
)
from .secrets import remembered, single_flight
from .tokens import generate_token, save_token

SECRET_METHODS = ("client_secret_basic", "client_secret_post")
log = logging.getLogger(__name__)


class PscCodeChallenge(CodeChallenge):
    """Verifies S256 and plain; whether ``plain`` may be *asked* for is decided per client at
    the authorization endpoint (``checks.check_pkce``: the psc profile allows it, as PSC
    advertises it; the strict profile refuses it, RFC 9700 §2.1.1)."""

    def __init__(self, allow_plain: bool):
        super().__init__(required=True)
        self.SUPPORTED_CODE_CHALLENGE_METHOD = ["S256", "plain"] if allow_plain else ["S256"]

    def validate_code_verifier(self, grant: Any, result: Any) -> None:
        """RFC 7636 §4.6 and RFC 9700 §4.8, worded per profile (psc: Keycloak's PkceUtils, all
        ``invalid_grant``; strict: ``invalid_request`` for a malformed request,
        ``invalid_grant`` for a verifier that does not match)."""
        request = grant.request
        client = request.client
        verifier = request.form.get("code_verifier")
        code = request.authorization_code
        challenge = self.get_authorization_code_challenge(code)
        if not challenge and not verifier:
            if self.required and request.auth_method == "none":
                raise grant_error("pkce_missing", client)
            return
        if not challenge:
            raise grant_error("pkce_unexpected", client)
        if not verifier:
            raise grant_error("pkce_missing", client)
        if not CODE_VERIFIER_PATTERN.match(verifier):
            raise grant_error("pkce_malformed", client)
        method = self.get_authorization_code_challenge_method(code) or \
            self.DEFAULT_CODE_CHALLENGE_METHOD
        verify = self.CODE_CHALLENGE_METHODS.get(method)
        if verify is None or not verify(verifier, challenge):
            raise grant_error("pkce_mismatch", client)


class PscIssuer(IssuerParameter):
    def __init__(self, issuer: str):
        self.issuer = issuer

    def get_issuer(self) -> str:
        return self.issuer


def query_client(client_id: str) -> ClientView | None:
    """The registered client ``client_id`` as a frozen ``ClientView`` (``client_cache``):
    from this process's cache when it may serve, else one Core SELECT on the request's
    connection. Memoised per request too, so a request sees one version of its client
    throughout (Authlib asks for it several times)."""
    if not isinstance(client_id, str) or not client_id or len(client_id) > 200:
        return None
    if not has_app_context():
        return None
    memo = g.setdefault("psc_clients", {})
    if client_id not in memo:
        memo[client_id] = _lookup(client_id)
    return memo[client_id]


def _lookup(client_id: str) -> ClientView | None:
    session = db.session()
    own, view = own_version(session, client_id)
    if own:  # this session's uncommitted change: never from, nor into, the shared cache
        return view
    cache = cache_of(current_app)
    if cache is None:
        return read_client(session, client_id)
    return cache.get(client_id, lambda wanted: read_client(session, wanted))


class PscPrivateKeyJwt(PrivateKeyJwt):
    def authenticate_client(self, client: Any) -> Any:
        """Only called for clients registered for ``private_key_jwt`` (see
        ``PscAuthorizationServer``); never names methods if that ever changes."""
        if client.token_endpoint_auth_method == self.CLIENT_AUTH_METHOD:
            return client
        raise InvalidClientError(status_code=401, description="Client authentication failed.")


class TooManyRequests(Refusal):
    """429 with ``Retry-After``: an abuse limit (``ratelimit``) refused the request. Worded
    in English as the endpoint's other refusals: RFC 6749 §5.2 allows only ASCII in an
    ``error_description`` (Authlib refuses accents)."""

    def __init__(self, limited: ratelimit.RateLimited):
        super().__init__("slow_down", f"Too many refused requests: retry in "
                         f"{limited.retry_after} s.", 429)
        self.retry_after = limited.retry_after

    def get_headers(self) -> list[tuple[str, str]]:
        return [*super().get_headers(), ("Retry-After", str(self.retry_after))]


def too_many(limited: ratelimit.RateLimited, client_id: str = "") -> TooManyRequests:
    """Audit the refusal (``ratelimit.refused``) and build its answer."""
    ratelimit.refuse(limited, client_id=client_id)
    return TooManyRequests(limited)


class AuthFailure(Exception):
    """A refusal and the precise reason the audit trail keeps (the answer may hide it)."""

    def __init__(self, refusal: OAuth2Error, reason: str):
        super().__init__(reason)
        self.refusal = refusal
        self.reason = reason


class BoundRefreshGrant(RefreshGrant):
    """The refresh grant, plus RFC 8705's binding of refresh tokens (see the module's
    docstring for who must present the certificate again)."""

    def authenticate_refresh_token(self, refresh_token: str) -> RefreshCredential:
        credential = super().authenticate_refresh_token(refresh_token)
        cnf = credential.claims.get("cnf")
        client = self.request.client
        if cnf is not None and (client.is_public or behaves(
                self.server.settings, "mtls_refresh_bound_all_clients", client)) \
                and not presented_matches(cnf, flask_request):
            raise refresh_binding_mismatch(client)
        return credential


class PscAuthorizationServer(AuthorizationServer):
    settings: Settings

    def __init__(self, app: Flask, settings: Settings):
        super().__init__()
        self.settings = settings
        install(app)  # the per-process client cache (``client_cache``)
        self.init_app(app, query_client=query_client, save_token=save_token)
        self.register_token_generator("default", generate_token)
        self.register_grant(CodeGrant, [PscCodeChallenge(allow_plain=True),
                                        PscOpenIDCode(require_nonce=False)])
        self.register_grant(BoundRefreshGrant, [PscOpenIDCode(require_nonce=False)])
        self.register_grant(CibaGrant, [PscOpenIDCode(require_nonce=False)])
        self.private_key_jwt = PscPrivateKeyJwt(settings)
        self.register_client_auth_method(PrivateKeyJwt.CLIENT_AUTH_METHOD, self.private_key_jwt)
        self.register_endpoint(PscIntrospectionEndpoint)
        self.register_endpoint(PscRevocationEndpoint)
        self.register_extension(PscIssuer(settings.issuer))

    def get_error_uri(self, request: Any, error: Any) -> None:
        return None

    def authenticate_client(self, request: Any, methods: Any, endpoint: str = "token") -> Any:
        """The client making this request, or a refusal. The endpoints audit refusals (views,
        ``ciba``, ``endpoints_authlib``); the precise reason, which a strict answer may hide
        (unknown client or wrong secret), goes to the log."""
        methods = list(methods)
        if "private_key_jwt" in methods:  # an endpoint for confidential clients
            methods += MTLS_METHODS
        try:
            client, method = self._authenticate(request, methods)
            if endpoint == "token" and binds_tokens(client) and \
                    not request_has_certificate():
                raise AuthFailure(bound_certificate_missing(client),
                                  "bound-token client without a certificate")
        except AuthFailure as failure:
            log.info("client authentication refused at %s: client=%r reason=%s", endpoint,
                     _claimed_client_id(request), failure.reason)
            raise failure.refusal from None
        request.auth_method = method
        return client

    def _authenticate(self, request: Any, methods: list[str]) -> tuple[ClientView, str]:
        form = request.form
        header = request.headers.get("Authorization")
        try:
            basic_id, basic_secret = extract_basic_authorization(request.headers)
        except (ValueError, UnicodeDecodeError):
            basic_id, basic_secret = None, None
        form_id = form.get("client_id") or None
        form_secret = form.get("client_secret")
        assertion = form.get("client_assertion") or None
        asserted_id = self._assertion_subject(assertion) if assertion else None
        if header and basic_id is None and not form_id and not asserted_id:
            raise AuthFailure(basic_challenge(), "unreadable Authorization header")

        claimed = [i for i in (form_id, basic_id, asserted_id) if i]
        client_id = claimed[0] if claimed else None
        client = query_client(client_id) if client_id else None
        if client is None:
            raise AuthFailure(bad_client(None),
                              "unknown client" if client_id else "no client_id")
        lax = behaves(self.settings, "client_secret_any_method", client)
        used = [name for name, present in (("basic", basic_id is not None),
                                            ("post", form_secret is not None),
                                            ("jwt", assertion is not None)) if present]
        if not lax:
            if len(used) > 1:
                raise AuthFailure(several_methods(), "several methods: " + "+".join(used))
            if len(set(claimed)) > 1:
                raise AuthFailure(Refusal("invalid_request", "The client_id of the body "
                                          "differs from the authenticated client."),
                                  "client_id mismatch")

        registered = client.token_endpoint_auth_method
        if registered not in methods:
            raise AuthFailure(not_at_this_endpoint(client), f"{registered} client refused here")
        if registered == "none":
            if basic_secret or form_secret or assertion:
                raise AuthFailure(bad_client(client, known=True),
                                  "public client sent credentials")
            return client, "none"
        if registered in MTLS_METHODS:
            if used:  # RFC 6749 §2.3: one method per request
                raise AuthFailure(certificate_refused(client), f"{used[0]} sent by a "
                                  f"{registered} client")
            try:
                authenticate_by_certificate(client, flask_request, self.settings)
            except MtlsRefused as refused:
                raise AuthFailure(certificate_refused(client), refused.reason) from None
            return client, registered
        if registered == "private_key_jwt":
            if assertion is None:
                raise AuthFailure(wrong_method(client, registered), "no client_assertion")
            authenticated = self.private_key_jwt(query_client, request)
            if authenticated is None or authenticated.client_id != client.client_id:
                raise AuthFailure(bad_client(client, known=True), "assertion of another client")
            return client, registered
        # a client with a secret
        if lax:  # Keycloak: the body's credentials override the header's
            secret = form_secret if form_secret is not None else basic_secret
            method = "client_secret_post" if form_secret is not None else "client_secret_basic"
        else:
            method = "basic" if registered == "client_secret_basic" else "post"
            if used and used != [method]:
                raise AuthFailure(wrong_method(client, registered), f"{used[0]} sent")
            secret = basic_secret if method == "basic" else form_secret
            method = registered
        if not secret:
            raise AuthFailure(bad_client(client, known=True), "no secret")
        if not self._secret_matches(client, secret):
            raise AuthFailure(bad_client(client, known=True), "wrong secret")
        return client, method

    @staticmethod
    def _secret_matches(client: ClientView, secret: str) -> bool:
        """A secret this process verified before costs nothing and is never throttled; any
        other goes through the failure budgets before argon2id (``ratelimit``)."""
        if remembered(client.client_secret_hash, secret):
            return True
        try:
            with single_flight(client.client_secret_hash, secret) as leader:
                if not leader and remembered(client.client_secret_hash, secret):
                    return True  # verified by the request that led: no count, no argon2
                return ratelimit.guard_secret_check(client.client_id,
                                                    lambda: client.check_client_secret(secret))
        except ratelimit.RateLimited as limited:
            raise AuthFailure(too_many(limited, client.client_id),
                              f"refused unchecked: {limited.name}") from None

    def _assertion_subject(self, assertion: str) -> str | None:
        """The ``sub`` of a client assertion, read before it is verified: only to find the
        client, which ``private_key_jwt`` then verifies."""
        try:
            _headers, claims = self.private_key_jwt.extract_assertion(assertion)
        except OAuth2Error:
            return None
        sub = claims.get("sub")
        return sub if isinstance(sub, str) and sub else None

    def create_oauth2_request(self, request: Any) -> OAuth2Request:
        """Accept an already-built request (an authorization replayed after login)."""
        if isinstance(request, OAuth2Request):
            return request
        return FlaskOAuth2Request(flask_request)


def request_has_certificate() -> bool:
    """This request came through the mTLS listener with a certificate."""
    from ..mtls.presented import came_through_listener, presented_certificate

    return came_through_listener(flask_request) and presented_certificate(flask_request) \
        is not None


def _claimed_client_id(request: Any) -> str:
    """Who the caller claims to be, for the audit trail."""
    try:
        basic_id, _ = extract_basic_authorization(request.headers)
    except (ValueError, UnicodeDecodeError):
        basic_id = None
    return str(request.form.get("client_id") or basic_id or "")[:200]
