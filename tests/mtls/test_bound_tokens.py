"""RFC 8705 §3: certificate-bound access tokens (``cnf.x5t#S256``), at userinfo,
introspection and refresh, with real handshakes on the mTLS listener."""

from __future__ import annotations

import requests

from psc_idp.oidc.mtls_auth import thumbprint

from .conftest import ORGANISATION, MtlsLive

DN = f"CN=bound-rp,O={ORGANISATION},C=FR"
HOK = "Client certificate missing, or its thumbprint and one in the refresh token did NOT match"


def _bound_client(env: MtlsLive, client_id: str = "bound-rp", **fields) -> None:
    fields.setdefault("auth_method", "tls_client_auth")
    if fields["auth_method"] == "tls_client_auth":
        fields.setdefault("tls_client_auth_subject_dn", DN)
    env.register(client_id=client_id, test_autologin=True,
                 tls_client_certificate_bound_access_tokens=True, **fields)


def _userinfo(env: MtlsLive, url: str, token: str, certificate=None) -> requests.Response:
    return requests.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=10,
                        cert=certificate.pair if certificate else None,
                        verify=str(env.root_file))


def test_bound_token_at_userinfo(mtls_live, profile):
    env = mtls_live(profile)
    _bound_client(env)
    certificate = env.software_certificate("bound-rp")
    token = env.tokens("bound-rp", certificate)
    claims = env.psc.verify(token["access_token"])
    assert claims["cnf"] == {"x5t#S256": thumbprint(certificate.leaf)}
    alias = env.alias("userinfo_endpoint")
    assert _userinfo(env, alias, token["access_token"], certificate).status_code == 200
    other = env.software_certificate("bound-rp", "bound-rp-other")  # same DN, another cert
    expected = HOK if profile == "psc" else "The access token is bound to a TLS client " \
        "certificate that this request did not present (RFC 8705 section 3)."
    for answer in (_userinfo(env, alias, token["access_token"]),
                   _userinfo(env, alias, token["access_token"], other),
                   _userinfo(env, env.psc.metadata["userinfo_endpoint"],
                             token["access_token"])):
        assert answer.status_code == 401
        assert answer.json() == {"error": "invalid_token", "error_description": expected}
        assert 'error="invalid_token"' in answer.headers["WWW-Authenticate"]


def test_introspection_shows_the_binding(mtls_live):
    env = mtls_live()
    _bound_client(env)
    certificate = env.software_certificate("bound-rp")
    token = env.tokens("bound-rp", certificate)
    answer = env.introspect("bound-rp", certificate, token["access_token"])
    assert answer.json()["active"] is True
    assert answer.json()["cnf"] == {"x5t#S256": thumbprint(certificate.leaf)}


def test_a_secret_client_gets_tokens_bound_to_its_certificate(mtls_live, profile):
    """RFC 8705 §3 binds whatever the authentication method: here a secret, and a
    self-signed certificate in the handshake."""
    env = mtls_live(profile)
    _bound_client(env, "secret-rp", auth_method="client_secret_basic",
                  client_secret="secret-rp-secret")
    mine = env.self_signed("secret-rp")
    rp = env.rp("secret-rp", mine)
    rp.client_secret, rp.token_endpoint_auth_method = "secret-rp-secret", "client_secret_basic"
    start, callback = env.code(rp)
    token = rp.fetch_token(env.alias("token_endpoint"), authorization_response=callback,
                           code_verifier=start.verifier, state=start.state)
    assert env.psc.verify(token["access_token"])["cnf"] == {"x5t#S256": thumbprint(mine.leaf)}
    # without a certificate (plain listener) the request is refused before the code is spent
    plain = env.rp("secret-rp", None)
    plain.client_secret, plain.token_endpoint_auth_method = "secret-rp-secret", \
        "client_secret_basic"
    start, callback = env.code(plain)
    from tests.psc_actions import query

    answer = requests.post(env.psc.metadata["token_endpoint"], timeout=10,
                           auth=("secret-rp", "secret-rp-secret"),
                           data={"grant_type": "authorization_code",
                                 "code": query(callback)["code"],
                                 "redirect_uri": "http://127.0.0.1:5997/cb",
                                 "code_verifier": start.verifier})
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_request"
    if profile == "psc":
        assert answer.json()["error_description"] == \
            "Client Certification missing for MTLS HoK Token Binding"


def test_unbound_clients_tokens_unchanged(mtls_live):
    env = mtls_live()
    env.register(client_id="plain-rp", auth_method="tls_client_auth", test_autologin=True,
                 tls_client_auth_subject_dn=f"CN=plain-rp,O={ORGANISATION},C=FR")
    token = env.tokens("plain-rp", env.software_certificate("plain-rp"))
    assert "cnf" not in env.psc.verify(token["access_token"])


def _refresh(env: MtlsLive, client_id: str, refresh_token: str, certificate
             ) -> requests.Response:
    return requests.post(env.alias("token_endpoint"), timeout=10,
                         cert=certificate.pair if certificate else None,
                         verify=str(env.root_file),
                         data={"grant_type": "refresh_token", "refresh_token": refresh_token,
                               "client_id": client_id})


def test_refresh_keeps_the_binding(mtls_live, profile):
    env = mtls_live(profile)
    _bound_client(env)
    certificate = env.software_certificate("bound-rp")
    token = env.tokens("bound-rp", certificate)
    same = _refresh(env, "bound-rp", token["refresh_token"], certificate)
    assert same.status_code == 200, same.text
    assert env.psc.verify(same.json()["access_token"])["cnf"] == \
        {"x5t#S256": thumbprint(certificate.leaf)}
    # the certificate rolled over (same DN, new key): psc (Keycloak) wants the bound one;
    # strict: the client's authentication binds its refresh token, the new one is bound
    renewed = env.software_certificate("bound-rp", "bound-rp-renewed")
    answer = _refresh(env, "bound-rp", same.json()["refresh_token"], renewed)
    if profile == "psc":
        assert answer.status_code == 401
        assert answer.json() == {"error": "unauthorized_client", "error_description": HOK}
    else:
        assert answer.status_code == 200, answer.text
        assert env.psc.verify(answer.json()["access_token"])["cnf"] == \
            {"x5t#S256": thumbprint(renewed.leaf)}


def test_public_client_refresh_needs_the_same_certificate(mtls_live, profile):
    env = mtls_live(profile)
    _bound_client(env, "public-rp", auth_method="none")
    mine = env.self_signed("public-rp")
    token = env.tokens("public-rp", mine)
    assert env.psc.verify(token["access_token"])["cnf"] == {"x5t#S256": thumbprint(mine.leaf)}
    assert _refresh(env, "public-rp", token["refresh_token"], mine).status_code == 200
    stolen = _refresh(env, "public-rp", token["refresh_token"], env.self_signed("thief"))
    assert stolen.status_code == (401 if profile == "psc" else 400)
    assert stolen.json()["error"] == ("unauthorized_client" if profile == "psc"
                                      else "invalid_grant")
    # and without any certificate the token endpoint refuses the bound client first
    assert _refresh(env, "public-rp", token["refresh_token"], None).status_code == 400
