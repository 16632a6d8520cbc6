"""RFC 8705 client authentication with real TLS handshakes on the mTLS listener:
``tls_client_auth`` (IGC-Santé software certificates, by subject DN or SAN) and
``self_signed_tls_client_auth`` (the certificate's key among the client's registered keys)."""

from __future__ import annotations

import pytest
import requests

from psc_idp.audit.trail import AuditEvent
from psc_idp.db import db
from psc_idp.oidc.mtls_auth import jwks_from_file
from tests.psc_actions import GP

from .conftest import ORGANISATION, MtlsLive

DN = f"CN=mtls-rp,O={ORGANISATION},C=FR"
REFUSED = {"psc": ("unauthorized_client", "Invalid client or Invalid client credentials"),
           "strict": ("invalid_client", "Client authentication failed.")}


def _tls_client(env: MtlsLive, client_id: str = "mtls-rp", **fields) -> None:
    fields.setdefault("tls_client_auth_subject_dn", DN)
    env.register(client_id=client_id, auth_method="tls_client_auth", test_autologin=True,
                 **fields)


def _certificate_refusals(env: MtlsLive, client_id: str) -> list[dict]:
    with env.app.app_context():
        rows = db.session.scalars(db.select(AuditEvent).where(
            AuditEvent.event == "token.refused", AuditEvent.client_id == client_id)).all()
        return [r.details for r in rows if r.details.get("stage") == "client_certificate"]


@pytest.mark.one_backend
def test_code_flow_with_tls_client_auth_on_the_alias(mtls_live):
    env = mtls_live()
    _tls_client(env)
    certificate = env.software_certificate("mtls-rp")
    token = env.tokens("mtls-rp", certificate)
    assert token["token_type"] == "Bearer"
    claims = env.psc.verify(token["access_token"])
    assert claims["azp"] == "mtls-rp" and claims["preferred_username"] == GP
    assert "cnf" not in claims  # not registered for bound tokens
    assert env.psc.verify(token["id_token"])["aud"] == "mtls-rp"
    # an unbound token is a plain bearer token: userinfo on the plain listener answers
    info = requests.get(env.psc.metadata["userinfo_endpoint"], timeout=10,
                        headers={"Authorization": f"Bearer {token['access_token']}"})
    assert info.status_code == 200


@pytest.mark.one_backend
def test_subject_dn_compared_as_a_name_not_as_a_string(mtls_live):
    env = mtls_live()
    _tls_client(env, tls_client_auth_subject_dn=f"cn=mtls-rp,  o={ORGANISATION.upper()}, c=fr")
    assert "access_token" in env.tokens("mtls-rp", env.software_certificate("mtls-rp"))


@pytest.mark.one_backend
def test_tls_client_auth_by_san(mtls_live):
    env = mtls_live()
    env.register(client_id="san-rp", auth_method="tls_client_auth", test_autologin=True,
                 tls_client_auth_san="dns:RP.example.test")
    # the certificate's CN is another client's: the SAN is what this client registered
    assert "access_token" in env.tokens("san-rp", env.software_certificate("someone-else"))
    env.register(client_id="san-rp2", auth_method="tls_client_auth", test_autologin=True,
                 tls_client_auth_san="dns:other.example.test")
    refused = env.token_request("san-rp2", env.software_certificate("san-rp2"))
    assert refused.status_code == 401


@pytest.mark.one_backend
@pytest.mark.parametrize("case", ["wrong_dn", "foreign_ca", "revoked", "no_certificate",
                                  "plain_listener"])
def test_refused_certificates(mtls_live, profile, case):
    env = mtls_live(profile)
    _tls_client(env)
    url = None
    certificate = None
    reason = ""
    if case == "wrong_dn":
        certificate, reason = env.software_certificate("another-rp"), "subject DN"
    elif case == "foreign_ca":
        certificate, reason = env.foreign_certificate("mtls-rp"), "unknown_authority"
    elif case == "revoked":
        from cryptography import x509

        from psc_idp.pki.register import revoke_certificate, serial_hex

        certificate = env.software_certificate("mtls-rp")
        with env.app.app_context():
            assert revoke_certificate(serial_hex(certificate.leaf),
                                      x509.ReasonFlags.key_compromise)
            db.session.commit()
        reason = "revoked"
    elif case == "no_certificate":
        reason = "no client certificate"
    else:  # the right certificate, but on the plain listener: no handshake, no certificate
        certificate = env.software_certificate("mtls-rp")
        url, reason = env.psc.metadata["token_endpoint"], "not on the mTLS listener"
    answer = env.token_request("mtls-rp", certificate, url)
    assert answer.status_code == 401, answer.text
    error, description = REFUSED[profile]
    assert answer.json() == {"error": error, "error_description": description}
    refusals = _certificate_refusals(env, "mtls-rp")
    assert refusals and reason in refusals[-1]["reason"], refusals


@pytest.mark.one_backend
def test_a_secret_from_a_tls_client_is_refused(mtls_live):
    env = mtls_live()
    _tls_client(env)
    certificate = env.software_certificate("mtls-rp")
    answer = requests.post(env.alias("token_endpoint"), timeout=10, cert=certificate.pair,
                           verify=str(env.root_file), auth=("mtls-rp", "guess"),
                           data={"grant_type": "authorization_code", "code": "x",
                                 "redirect_uri": "http://127.0.0.1:5997/cb"})
    assert answer.status_code == 401


@pytest.mark.one_backend
def test_self_signed_tls_client_auth(mtls_live, profile):
    env = mtls_live(profile)
    mine = env.self_signed("ss-rp")
    env.register(client_id="ss-rp", auth_method="self_signed_tls_client_auth",
                 test_autologin=True, jwks=jwks_from_file(mine.cert_file.read_text()))
    assert "access_token" in env.tokens("ss-rp", mine)
    # another key: refused; the registered key in a certificate out of its dates: refused
    for other, reason in ((env.self_signed("ss-rp"), "registered keys"),):
        answer = env.token_request("ss-rp", other)
        assert answer.status_code == 401
        assert answer.json()["error"] == REFUSED[profile][0]
        assert reason in _certificate_refusals(env, "ss-rp")[-1]["reason"]


@pytest.mark.one_backend
def test_self_signed_certificate_out_of_its_dates_is_refused(mtls_live):
    env = mtls_live()
    expired = env.self_signed("old-rp", days=2, start_days=-10)
    env.register(client_id="old-rp", auth_method="self_signed_tls_client_auth",
                 test_autologin=True, jwks=jwks_from_file(expired.cert_file.read_text()))
    assert env.token_request("old-rp", expired).status_code == 401
    assert "validity" in _certificate_refusals(env, "old-rp")[-1]["reason"]


@pytest.mark.one_backend
def test_introspection_and_revocation_by_certificate(mtls_live, profile):
    env = mtls_live(profile)
    _tls_client(env)
    certificate = env.software_certificate("mtls-rp")
    token = env.tokens("mtls-rp", certificate)
    answer = env.introspect("mtls-rp", certificate, token["access_token"])
    assert answer.status_code == 200 and answer.json()["active"] is True
    # the plain endpoint cannot see a certificate
    plain = requests.post(env.psc.metadata["introspection_endpoint"], timeout=10,
                          data={"token": token["access_token"], "client_id": "mtls-rp"})
    assert plain.status_code == 401
    assert plain.json()["error"] == ("invalid_request" if profile == "psc" else "invalid_client")
    revoked = requests.post(env.alias("revocation_endpoint"), timeout=10,
                            cert=certificate.pair, verify=str(env.root_file),
                            data={"token": token["refresh_token"], "client_id": "mtls-rp"})
    assert revoked.status_code == 200
    again = requests.post(env.alias("introspection_endpoint"), timeout=10,
                          cert=certificate.pair, verify=str(env.root_file),
                          data={"token": token["access_token"], "client_id": "mtls-rp"})
    assert again.json() == {"active": False}


@pytest.mark.one_backend
def test_ciba_by_certificate(mtls_live):
    env = mtls_live()
    _tls_client(env)
    certificate = env.software_certificate("mtls-rp")
    answer = requests.post(env.alias("backchannel_authentication_endpoint"), timeout=10,
                           cert=certificate.pair, verify=str(env.root_file),
                           data={"client_id": "mtls-rp", "scope": "openid scope_all",
                                 "login_hint": GP, "binding_message": "42",
                                 "channel": "MOBILE"})
    # authenticated: the request reaches the professional (the demo GP has no e-CPS device)
    assert answer.status_code == 403, answer.text
    assert answer.json()["error"] == "access_denied"
    refused = requests.post(env.alias("backchannel_authentication_endpoint"), timeout=10,
                            verify=str(env.root_file),
                            data={"client_id": "mtls-rp", "scope": "openid scope_all",
                                  "login_hint": GP, "binding_message": "42"})
    assert refused.status_code == 401
