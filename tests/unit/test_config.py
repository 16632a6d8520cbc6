"""Settings: defaults < TOML file (``PSC_IDP_CONFIG``) < ``PSC_IDP_*`` < explicit overrides;
every bad or unknown value is a ``ConfigError`` at start-up."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from psc_idp.config import (
    ClientSeed,
    ConfigError,
    OidcSettings,
    QuirkSettings,
    Settings,
    load_settings,
)

ROOT = Path(__file__).resolve().parents[2]


def _toml(tmp_path: Path, text: str) -> dict[str, str]:
    path = tmp_path / "psc-idp.toml"
    path.write_text(text, encoding="utf-8")
    return {"PSC_IDP_CONFIG": str(path)}


def test_defaults():
    s = load_settings(environ={})
    assert s.mode == "demo" and s.emulation_enabled and not s.is_production
    assert s.public_url == "http://127.0.0.1:5000"
    assert s.issuer == "http://127.0.0.1:5000/auth/realms/esante-wallet"
    assert s.wallet_base == s.public_url
    assert s.oidc == OidcSettings()
    assert s.oidc.access_token_lifetime == 120 and s.oidc.code_lifetime == 60
    assert s.oidc.default_acr == "eidas1"
    assert s.quirks == QuirkSettings()
    assert not any(dataclasses.asdict(s.quirks).values())
    assert s.authenticators == {"persona": {}, "card": {}, "ecps": {}, "ecps_otp": {}}
    assert s.clients == []
    assert s.session.idle_timeout == 1800 and s.session.lifetime == 36000
    assert s.resolved_database_url().startswith("sqlite:///")
    assert s.resolved_database_url().endswith("/instance/psc-idp.db")


def test_defaults_ignore_the_process_environment_when_given_one(monkeypatch):
    monkeypatch.setenv("PSC_IDP_MODE", "test")
    assert load_settings(environ={}).mode == "demo"
    assert load_settings(environ={"PSC_IDP_MODE": "test"}).mode == "test"


def test_toml_file(tmp_path):
    env = _toml(tmp_path, """
mode = "test"
public_url = "https://psc.example"
wallet_url = "https://wallet.psc.example"

[oidc]
code_lifetime = 30
access_token_lifetime = 300

[quirks]
allow_plain_pkce = true

[server]
port = 8080

[authenticators.persona]
auth_mode = "MOBILE"

[[clients]]
client_id = "svc"
client_secret = "svc-secret"
redirect_uris = ["https://svc.example/cb"]
test_autologin = true
""")
    s = load_settings(environ=env)
    assert s.mode == "test"
    assert s.issuer == "https://psc.example/auth/realms/esante-wallet"
    assert s.wallet_base == "https://wallet.psc.example"
    assert s.oidc.code_lifetime == 30 and s.oidc.access_token_lifetime == 300
    assert s.oidc.refresh_token_lifetime == 1800  # untouched default
    assert s.quirks.allow_plain_pkce is True and s.quirks.logout_without_state is None
    assert s.server.port == 8080 and s.server.host == "127.0.0.1"
    assert s.authenticators == {"persona": {"auth_mode": "MOBILE"}}
    assert s.clients == [ClientSeed(client_id="svc", client_secret="svc-secret",
                                    redirect_uris=["https://svc.example/cb"],
                                    test_autologin=True)]


def test_environment_overrides_the_file_and_overrides_win(tmp_path):
    env = _toml(tmp_path, 'mode = "test"\n[oidc]\ncode_lifetime = 30\nid_token_lifetime = 99\n')
    env.update({"PSC_IDP_OIDC__CODE_LIFETIME": "42", "PSC_IDP_MODE": "demo",
                "PSC_IDP_QUIRKS__LOGOUT_WITHOUT_STATE": "yes",
                "PSC_IDP_SERVER__PORT": "5055", "PSC_IDP_SESSION__SECURE_COOKIE": "off"})
    s = load_settings(environ=env)
    assert s.oidc.code_lifetime == 42 and isinstance(s.oidc.code_lifetime, int)
    assert s.oidc.id_token_lifetime == 99  # from the file, not touched by the environment
    assert s.mode == "demo"
    assert s.quirks.logout_without_state is True
    assert s.session.secure_cookie is False
    assert s.server.port == 5055 and s.public_url == "http://127.0.0.1:5055"
    s = load_settings({"oidc": {"code_lifetime": 7}, "mode": "test"}, environ=env)
    assert s.oidc.code_lifetime == 7 and s.mode == "test"
    assert s.oidc.id_token_lifetime == 99


@pytest.mark.parametrize("value,expected", [("1", True), ("true", True), ("YES", True),
                                            ("on", True), ("0", False), ("false", False),
                                            ("No", False), ("off", False)])
def test_boolean_spellings_from_the_environment(value, expected):
    s = load_settings(environ={"PSC_IDP_QUIRKS__ALLOW_PLAIN_PKCE": value})
    assert s.quirks.allow_plain_pkce is expected


def test_authenticators_from_a_comma_list():
    s = load_settings(environ={"PSC_IDP_AUTHENTICATORS": " persona , "})
    assert s.authenticators == {"persona": {}}


@pytest.mark.parametrize("env", [
    {"PSC_IDP_OIDC__CODE_LIFETIME": "abc"},
    {"PSC_IDP_OIDC__CODE_LIFETIME": "0"},
    {"PSC_IDP_OIDC__CODE_LIFETIME": "-5"},
    {"PSC_IDP_OIDC__CODE_LIFETIME": "601"},
    {"PSC_IDP_OIDC__ACCESS_TOKEN_LIFETIME": "1.5"},
    {"PSC_IDP_OIDC__REFRESH_TOKEN_LIFETIME": ""},
    {"PSC_IDP_SERVER__PORT": "http"},
    {"PSC_IDP_MODE": "staging"},
    {"PSC_IDP_MODE": "PRODUCTION"},
    {"PSC_IDP_PUBLIC_URL": "psc.example"},
    {"PSC_IDP_WALLET_URL": "ftp://wallet.example"},
    {"PSC_IDP_QUIRKS__ALLOW_PLAIN_PKCE": "maybe"},
    {"PSC_IDP_SESSION__SECURE_COOKIE": ""},
    {"PSC_IDP_OIDC": "30"},
])
def test_bad_environment_values_are_config_errors(env):
    with pytest.raises(ConfigError):
        load_settings(environ=env)


@pytest.mark.parametrize("text", [
    "mode = \"test\"\n[oidc\n",
    "oidc = 30\n",
    "[oidc]\ncode_lifetime = \"soon\"\n",
    "[oidc]\ncode_lifetime = 0\n",
    "clients = \"svc\"\n",
    "authenticators = 3\n",
    "[[clients]]\nclient_id = \"svc\"\nredirect_uris = \"https://svc.example/cb\"\n",
    "[[clients]]\nredirect_uris = [\"https://svc.example/cb\"]\n",
    "[[clients]]\nclient_id = \"svc\"\n",
], ids=["toml-syntax", "oidc-not-a-table", "int-as-word", "zero-lifetime", "clients-not-a-list",
        "authenticators-not-a-table", "client-redirect-uris-a-string", "client-without-id",
        "client-without-redirect-uris"])
def test_bad_file_values_are_config_errors(tmp_path, text):
    with pytest.raises(ConfigError):
        load_settings(environ=_toml(tmp_path, text))


def test_missing_config_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_settings(environ={"PSC_IDP_CONFIG": str(tmp_path / "nope.toml")})


@pytest.mark.parametrize("env,where", [
    ({"PSC_IDP_NO_SUCH_THING": "1"}, "no_such_thing"),
    ({"PSC_IDP_OIDC__NO_SUCH_THING": "1"}, "oidc.no_such_thing"),
    ({"PSC_IDP_QUIRKS__ALLOW_PLAIN": "1"}, "quirks.allow_plain"),
])
def test_unknown_environment_keys_are_config_errors(env, where):
    with pytest.raises(ConfigError, match=where.replace(".", r"\.")):
        load_settings(environ=env)


@pytest.mark.parametrize("text,where", [
    ("colour = \"blue\"\n", "colour"),
    ("[oidc]\ncode_lifetme = 30\n", "oidc.code_lifetme"),
    ("[[clients]]\nclient_id = \"a\"\nredirect_uris = []\nsecret = \"x\"\n", "secret"),
    ("[nope]\nx = 1\n", "nope"),
])
def test_unknown_file_keys_are_config_errors(tmp_path, text, where):
    with pytest.raises(ConfigError, match=where.replace(".", r"\.")):
        load_settings(environ=_toml(tmp_path, text))


def test_production_refuses_the_persona_authenticator():
    with pytest.raises(ConfigError, match="persona"):
        load_settings(environ={"PSC_IDP_MODE": "production"})
    with pytest.raises(ConfigError, match="persona"):
        load_settings({"mode": "production", "authenticators": {"persona": {"auth_mode": "CARD"}}},
                      environ={})


def test_production_refuses_test_autologin_clients():
    client = {"client_id": "svc", "client_secret": "s", "redirect_uris": ["https://s/cb"],
              "test_autologin": True}
    with pytest.raises(ConfigError, match="autologin"):
        load_settings({"mode": "production", "authenticators": {}, "clients": [client]},
                      environ={})
    ok = load_settings({"mode": "test", "clients": [client]}, environ={})
    assert ok.clients[0].test_autologin is True


def test_production_card_means_needs_a_certificate_listener():
    card = {"card": {}, "ecps": {}}
    with pytest.raises(ConfigError, match=r"card authenticator needs .*\[mtls\] enabled"):
        load_settings({"mode": "production", "authenticators": card}, environ={})
    assert load_settings({"mode": "production", "authenticators": card,
                          "mtls": {"enabled": True}}, environ={}).mtls_enabled
    behind_proxy = load_settings({"mode": "production", "authenticators": card,
                                  "proxy": {"trusted_hops": 1},
                                  "mtls": {"forwarded_certificate_header": "X-SSL-Client-Cert"}},
                                 environ={})
    assert not behind_proxy.mtls_enabled
    with pytest.raises(ConfigError, match="PSC_IDP_AUTHENTICATORS=ecps,ecps_otp"):
        load_settings(environ={"PSC_IDP_MODE": "production"})  # the hint leaves card out
    with pytest.raises(ConfigError, match="PSC_IDP_AUTHENTICATORS=card,ecps,ecps_otp"):
        load_settings({"mtls": {"enabled": True}}, environ={"PSC_IDP_MODE": "production"})


def test_production_without_persona_loads():
    s = load_settings({"mode": "production", "authenticators": {}}, environ={})
    assert s.is_production and not s.emulation_enabled


def test_validate_runs_on_settings_built_in_code():
    with pytest.raises(ConfigError):
        Settings(mode="nope").validate()
    Settings().validate()


def test_config_example_loads_and_holds_the_defaults():
    example = ROOT / "config.example.toml"
    loaded = load_settings(environ={"PSC_IDP_CONFIG": str(example)})
    defaults = load_settings(environ={})
    for name in ("mode", "public_url", "wallet_url", "database_url", "database_pool_size",
                 "keys_dir", "oidc",
                 "quirks", "fidelity", "session", "server", "demo_data", "demo_rp_url",
                 "clients", "tls", "proxy"):
        assert getattr(loaded, name) == getattr(defaults, name), name
    assert set(loaded.authenticators) == set(defaults.authenticators)


def test_postgresql_pools_as_many_connections_as_a_worker_has_threads():
    """SQLAlchemy's default pool (5) made a busy gthread worker open and close a PostgreSQL
    connection per request; SQLite keeps SQLAlchemy's defaults."""
    pg = "postgresql+psycopg://u@db/psc"
    assert Settings(database_url=pg).engine_options() == {
        "pool_recycle": 1800, "pool_size": 32, "max_overflow": 10}
    threads = load_settings({"database_url": pg, "server": {"threads": 8}}, environ={})
    assert threads.engine_options()["pool_size"] == 8
    capped = load_settings(environ={"PSC_IDP_DATABASE_URL": pg,
                                    "PSC_IDP_DATABASE_POOL_SIZE": "12"})
    assert capped.engine_options()["pool_size"] == 12
    assert Settings().engine_options() == {"pool_recycle": 1800}
    with pytest.raises(ConfigError):
        load_settings({"database_pool_size": -1}, environ={})


def test_fidelity_profile_follows_the_mode_unless_set():
    """Faithful by default: psc outside production, strict in production, either if set."""
    from psc_idp.fidelity import behaves, profile_of

    assert profile_of(load_settings(environ={})) == "psc"
    assert profile_of(load_settings({"mode": "production", "authenticators": {"ecps": {}}},
                                    environ={})) == "strict"
    strict = load_settings(environ={"PSC_IDP_FIDELITY__PROFILE": "strict"})
    assert profile_of(strict) == "strict" and not behaves(strict, "allow_plain_pkce")
    assert profile_of(strict, ClientSeed(client_id="c", redirect_uris=[],
                                         fidelity_profile="psc")) == "psc"
    forced = load_settings(environ={"PSC_IDP_FIDELITY__PROFILE": "strict",
                                    "PSC_IDP_QUIRKS__ALLOW_PLAIN_PKCE": "yes"})
    assert behaves(forced, "allow_plain_pkce") and not behaves(forced, "refresh_token_reuse")
    scopes = load_settings({"fidelity": {"default_scopes": ["profile", "email"]}}, environ={})
    assert scopes.fidelity.default_scopes == ["profile", "email"]


@pytest.mark.parametrize("env", [{"PSC_IDP_FIDELITY__PROFILE": "keycloak"},
                                 {"PSC_IDP_FIDELITY__USERINFO_SHAPE": "2022"}])
def test_fidelity_settings_are_checked(env):
    with pytest.raises(ConfigError, match="fidelity"):
        load_settings(environ=env)
