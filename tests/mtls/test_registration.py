"""Registering RFC 8705 clients: ``psc-idp client add/update/show/list`` through the console
script, the config file's clients, and what a registration refuses."""

from __future__ import annotations

import pytest

from tests.cli import test_cli_contract
from tests.cli.test_cli_contract import _refused

seeded, cli = test_cli_contract.seeded, test_cli_contract.cli  # fixtures: a copied instance

REDIRECT = "http://127.0.0.1:5997/cb"


def test_tls_client_auth_round_trip(cli):
    add = ("client", "add", "--client-id", "cli-rp", "--redirect-uri", REDIRECT,
           "--auth-method", "tls_client_auth", "--tls-subject-dn", "CN=cli-rp,O=Clinique,C=FR",
           "--tls-bound-tokens")
    added = cli(*add)
    assert added.rc == 0, added
    shown = added.json()
    assert shown["token_endpoint_auth_method"] == "tls_client_auth"
    assert shown["tls_client_auth_subject_dn"] == "CN=cli-rp,O=Clinique,C=FR"
    assert shown["tls_client_auth_san"] is None
    assert shown["tls_client_certificate_bound_access_tokens"] is True
    assert shown["has_secret"] is False
    assert cli(*add).rc == 0  # the same command again changes nothing
    changed = cli(*add[:-1], "--no-tls-bound-tokens")
    _refused(changed, "already exists", "--tls-bound-tokens")

    updated = cli("client", "update", "cli-rp", "--tls-san", "dns:rp.example",
                  "--no-tls-bound-tokens")
    assert updated.rc == 0, updated
    assert updated.json()["tls_client_auth_san"] == "dns:rp.example"
    assert updated.json()["tls_client_auth_subject_dn"] is None  # one expected name
    assert updated.json()["tls_client_certificate_bound_access_tokens"] is False
    listed = {c["client_id"]: c for c in cli("client", "list", "--json").json()}
    assert listed["cli-rp"]["tls_client_auth_san"] == "dns:rp.example"
    assert cli("client", "show", "cli-rp").json()["token_endpoint_auth_method"] == \
        "tls_client_auth"
    # back to a secret: the certificate names go
    back = cli("client", "update", "cli-rp", "--auth-method", "client_secret_basic",
               "--client-secret", "cli-rp-secret-1234")
    assert back.rc == 0, back
    assert back.json()["tls_client_auth_san"] is None and back.json()["has_secret"] is True


def test_self_signed_with_the_certificate_as_jwks(cli):
    out = cli.folder / "cert"
    issued = cli("pki", "issue-software-cert", "--client-id", "ss-cli", "--out", str(out))
    assert issued.rc == 0, issued
    added = cli("client", "add", "--client-id", "ss-cli", "--redirect-uri", REDIRECT,
                "--auth-method", "self_signed_tls_client_auth",
                "--jwks", str(out / "client.crt"))
    assert added.rc == 0, added
    keys = added.json()["jwks"]["keys"]
    assert len(keys) == 2 and all(k["kty"] == "EC" and "x5c" in k for k in keys)
    assert "d" not in keys[0]


@pytest.mark.parametrize("args, words", [
    (("--auth-method", "tls_client_auth"), ("tls_client_auth needs", "--tls-subject-dn")),
    (("--auth-method", "tls_client_auth", "--tls-subject-dn", "not a DN"), ("RFC 4514",)),
    (("--auth-method", "tls_client_auth", "--tls-san", "ftp:rp.example"), ("SAN must be",)),
    (("--auth-method", "tls_client_auth", "--tls-san", "ip:300.1.1.1"), ("IP address",)),
    (("--auth-method", "tls_client_auth", "--tls-san", "dns:a", "--tls-subject-dn", "CN=a"),
     ("not both",)),
    (("--client-secret", "s3cret-value-1234", "--tls-subject-dn", "CN=a"),
     ("for --auth-method tls_client_auth",)),
    (("--auth-method", "self_signed_tls_client_auth"), ("--jwks",)),
])
def test_refused_registrations(cli, args, words):
    result = cli("client", "add", "--client-id", "bad-rp", "--redirect-uri", REDIRECT, *args)
    _refused(result, *words)
    assert "bad-rp" not in {c["client_id"] for c in cli("client", "list", "--json").json()}


def test_unreadable_jwks_file_is_a_usage_error(cli):
    junk = cli.folder / "junk.json"
    junk.write_text("{not json")
    _refused(cli("client", "add", "--client-id", "bad-rp", "--redirect-uri", REDIRECT,
                 "--auth-method", "self_signed_tls_client_auth", "--jwks", str(junk)),
             "--jwks", "neither")


def test_config_file_clients(make_app):
    from psc_idp.db import db
    from psc_idp.oidc.models import Client

    app = make_app(clients=[{
        "client_id": "conf-rp", "redirect_uris": [REDIRECT], "auth_method": "tls_client_auth",
        "tls_client_auth_subject_dn": "CN=conf-rp,O=Clinique,C=FR",
        "tls_client_certificate_bound_access_tokens": True}])
    with app.app_context():
        client = db.session.get(Client, "conf-rp")
        assert client.token_endpoint_auth_method == "tls_client_auth"
        assert client.tls_client_auth_subject_dn == "CN=conf-rp,O=Clinique,C=FR"
        assert client.tls_client_certificate_bound_access_tokens is True
        assert client.authenticates_by_certificate
