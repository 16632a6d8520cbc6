"""The first hour with the command line (issue 13): where the embedded default lives, an
uninitialised database named as such, ``postgres://`` URLs, ``client add`` refusing to replace
a client silently, ``client update``, and help texts. The real console script, as CI runs it."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import click
import pytest

from psc_idp.admin import cli as admin_cli
from psc_idp.config import load_settings
from tests.cli.test_cli_contract import (  # noqa: F401  (fixtures)
    PSC_IDP,
    SECRET,
    Result,
    _refused,
    cli,
    pg_url,
    seeded,
)

PROJECT = Path(__file__).resolve().parents[2]


def _bare(cwd: Path, *args: str, **extra: str) -> Result:
    """The console script with no folder or database setting at all, run from ``cwd``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PSC_IDP_")}
    env.update({"PSC_IDP_MODE": "test", "PSC_IDP_LOG_LEVEL": "WARNING", **extra})
    return Result(subprocess.run([str(PSC_IDP), *args], env=env, cwd=cwd, capture_output=True,
                                 text=True, timeout=180))


# ----------------------------------------------------------------------------- the default home
def test_default_home_is_the_checkout_not_the_current_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    settings = load_settings(environ={})
    assert settings.keys_dir == str(PROJECT / "keys")
    assert settings.resolved_database_url() == f"sqlite:///{PROJECT}/instance/psc-idp.db"
    home = load_settings(environ={"PSC_IDP_HOME": str(tmp_path / "h")})
    assert home.keys_dir == str(tmp_path / "h" / "keys")
    assert home.instance_dir == str(tmp_path / "h" / "instance")
    explicit = load_settings({"keys_dir": "k", "instance_dir": "i"},
                             environ={"PSC_IDP_HOME": str(tmp_path / "h")})
    assert (explicit.keys_dir, explicit.instance_dir) == ("k", "i")


def test_default_home_outside_a_checkout_is_the_user_data_folder(monkeypatch):
    from psc_idp import config

    monkeypatch.setattr(config, "__file__", "/nonexistent/site-packages/psc_idp/config.py")
    assert config.default_home({"XDG_DATA_HOME": "/data"}) == Path("/data/psc-idp")
    assert config.default_home({}) == Path.home() / ".local" / "share" / "psc-idp"
    settings = load_settings(environ={"XDG_DATA_HOME": "/data"})
    assert settings.keys_dir == "/data/psc-idp/keys"
    assert settings.resolved_database_url() == "sqlite:////data/psc-idp/instance/psc-idp.db"


def test_uninitialised_home_is_named_and_nothing_is_created(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    home = tmp_path / "home"
    for args in (["client", "list"], ["client", "show", "x"], ["professional", "list"],
                 ["audit", "list"], ["session", "list"]):
        result = _bare(elsewhere, *args, PSC_IDP_HOME=str(home))
        _refused(result, "database not initialised", "psc-idp init")
        assert len(result.err.strip().splitlines()) == 1, result
    assert list(elsewhere.iterdir()) == [] and not home.exists()

    assert _bare(elsewhere, "init", PSC_IDP_HOME=str(home)).rc == 0
    assert (home / "instance" / "psc-idp.db").is_file() and (home / "keys").is_dir()
    assert list(elsewhere.iterdir()) == []
    other = tmp_path / "other"
    other.mkdir()
    listed = _bare(other, "client", "list", "--json", PSC_IDP_HOME=str(home))
    assert listed.rc == 0, listed
    assert {c["client_id"] for c in listed.json()} == {"psc-demo-rp", "psc-demo-mss"}


def test_an_empty_database_file_is_not_initialised(tmp_path):
    (tmp_path / "empty.db").write_bytes(b"")
    result = _bare(tmp_path, "client", "list", PSC_IDP_DATABASE_URL=f"sqlite:///{tmp_path}/empty.db",
                   PSC_IDP_KEYS_DIR=str(tmp_path / "keys"))
    _refused(result, "database not initialised", "psc-idp init")


# ----------------------------------------------------------------------------- database URLs
def test_heroku_style_postgres_url_is_accepted(tmp_path, pg_url):  # noqa: F811
    heroku = "postgres://" + pg_url.split("://", 1)[1]
    env = {"PSC_IDP_DATABASE_URL": heroku, "PSC_IDP_HOME": str(tmp_path)}
    first = _bare(tmp_path, "init", **env)
    assert first.rc == 0, first
    assert first.json()["database"].startswith("postgresql+psycopg://")
    plain = _bare(tmp_path, "client", "list", "--json",
                  **{**env, "PSC_IDP_DATABASE_URL": "postgresql://" + heroku.split("://", 1)[1]})
    assert plain.rc == 0, plain
    assert len(plain.json()) == 2


@pytest.mark.parametrize("url", ["mysql://u:p@127.0.0.1/db", "nosuchdb://x", "not a url"])
def test_unusable_database_url_is_one_line(tmp_path, url):
    result = _bare(tmp_path, "client", "list", PSC_IDP_DATABASE_URL=url,
                   PSC_IDP_HOME=str(tmp_path))
    _refused(result, "database_url", "postgresql+psycopg://")
    assert len(result.err.strip().splitlines()) == 1, result


def test_unreachable_postgresql_is_one_line(tmp_path):
    result = _bare(tmp_path, "client", "list", PSC_IDP_HOME=str(tmp_path),
                   PSC_IDP_DATABASE_URL="postgres://postgres@127.0.0.1:5432/psc_idp_no_such_db")
    _refused(result, "unreachable", "psc_idp_no_such_db")
    assert len(result.err.strip().splitlines()) == 1, result


# ----------------------------------------------------------------------------- client add/update
def _add_full(cli, *extra: str) -> Result:  # noqa: F811
    return cli("client", "add", "--client-id", "full-rp", "--client-secret", SECRET,
               "--name", "Dossier de soins", "--redirect-uri", "http://127.0.0.1:7020/cb",
               "--post-logout-redirect-uri", "http://127.0.0.1:7020/",
               "--backchannel-logout-uri", "http://127.0.0.1:7020/bc", *extra)


def test_client_add_refuses_to_replace_silently(cli):  # noqa: F811
    assert _add_full(cli).rc == 0
    before = cli("client", "show", "full-rp").json()
    again = _add_full(cli)  # the same command twice (a CI script run again): nothing changes
    assert again.rc == 0, again
    assert cli("client", "show", "full-rp").json() == before

    other = cli("client", "add", "--client-id", "full-rp", "--client-secret", "other-secret-1",
                "--redirect-uri", "http://localhost:7020/cb")
    _refused(other, "already exists", "client update full-rp", "--replace", "--name",
             "--redirect-uri", "--post-logout-redirect-uri", "--backchannel-logout-uri",
             "--client-secret")
    assert "other-secret-1" not in other.err + other.out
    assert cli("client", "show", "full-rp").json() == before

    replaced = cli("client", "add", "--client-id", "full-rp", "--replace",
                   "--redirect-uri", "http://localhost:7020/cb")  # the secret is kept
    assert replaced.rc == 0, replaced
    shown = replaced.json()
    assert shown["name"] == "full-rp" and shown["redirect_uris"] == ["http://localhost:7020/cb"]
    assert shown["post_logout_redirect_uris"] == [] and shown["backchannel_logout_uri"] is None
    assert shown["has_secret"] is True
    events = [r["event"] for r in cli("audit", "list", "--json", "--limit", "3").json()]
    assert events[0] == "client.updated"


def test_client_update_changes_only_what_is_given(cli):  # noqa: F811
    assert _add_full(cli).rc == 0
    updated = cli("client", "update", "full-rp", "--redirect-uri", "http://localhost:7020/cb",
                  "--redirect-uri", "http://127.0.0.1:7020/cb", "--consent-required")
    assert updated.rc == 0, updated
    shown = updated.json()
    assert shown["redirect_uris"] == ["http://localhost:7020/cb", "http://127.0.0.1:7020/cb"]
    assert shown["consent_required"] is True and shown["name"] == "Dossier de soins"
    assert shown["post_logout_redirect_uris"] == ["http://127.0.0.1:7020/"]
    assert shown["backchannel_logout_uri"] == "http://127.0.0.1:7020/bc"
    # the secret was kept: the original settings plus the update, given again, change nothing
    same = _add_full(cli, "--redirect-uri", "http://localhost:7020/cb", "--consent-required")
    assert same.rc != 0 and "--redirect-uri" in same.err and "--client-secret" not in same.err

    cleared = cli("client", "update", "full-rp", "--backchannel-logout-uri", "",
                  "--no-post-logout-redirect-uri", "--no-consent-required", "--name", "DS")
    assert cleared.rc == 0, cleared
    shown = cleared.json()
    assert shown["backchannel_logout_uri"] is None and shown["post_logout_redirect_uris"] == []
    assert shown["consent_required"] is False and shown["name"] == "DS"

    new_secret = cli("client", "update", "full-rp", "--client-secret", "a-new-secret-77")
    assert new_secret.rc == 0 and "a-new-secret-77" not in new_secret.out + new_secret.err


def test_client_update_refusals(cli):  # noqa: F811
    _refused(cli("client", "update", "no-such-rp", "--name", "x"), "no client", "client add")
    nothing = cli("client", "update", "psc-demo-rp")
    assert nothing.rc == 2 and "nothing to change" in nothing.err
    _refused(cli("client", "update", "psc-demo-rp", "--redirect-uri", "not-a-uri"), "redirect")
    _refused(cli("client", "update", "psc-demo-rp", "--auth-method", "private_key_jwt"), "jwks")
    assert cli("client", "show", "psc-demo-rp").json()["token_endpoint_auth_method"] == \
        "client_secret_basic"


def test_init_keeps_reseeding_the_demo_clients(cli):  # noqa: F811
    assert cli("client", "update", "psc-demo-rp", "--name", "Renamed").rc == 0
    assert cli("init").rc == 0
    assert cli("client", "show", "psc-demo-rp").json()["name"] == "Dossier patient"


# ----------------------------------------------------------------------------- help texts
@pytest.mark.parametrize("command", ["add", "update"])
def test_every_client_option_is_described(command):
    cmd = admin_cli.client.commands[command]
    for param in cmd.params:
        if isinstance(param, click.Option):
            assert param.help, f"client {command} {param.opts} has no help"


def test_every_option_of_every_command_is_described():
    def walk(command: click.Command, path: str) -> None:
        if isinstance(command, click.Group):
            for name, sub in command.commands.items():
                walk(sub, f"{path} {name}")
            return
        for param in command.params:
            if isinstance(param, click.Option):
                assert param.help, f"{path} {param.opts} has no help"

    walk(admin_cli.main, "psc-idp")


def test_help_names_the_settings_variables(tmp_path):
    result = _bare(tmp_path, "--help")
    assert result.rc == 0, result
    for name in ("PSC_IDP_CONFIG", "PSC_IDP_MODE", "PSC_IDP_HOME", "PSC_IDP_DATABASE_URL",
                 "PSC_IDP_KEYS_DIR", "PSC_IDP_PUBLIC_URL", "PSC_IDP_<TABLE>__<NAME>",
                 "config.example.toml"):
        assert name in result.out, name


def test_production_refusing_the_persona_means_names_the_setting(tmp_path):
    result = _bare(tmp_path, "keys", "show", PSC_IDP_MODE="production",
                   PSC_IDP_HOME=str(tmp_path))
    _refused(result, "persona", "PSC_IDP_AUTHENTICATORS=ecps,ecps_otp", "[authenticators]",
             "PSC_IDP_MODE")
    assert len(result.err.strip().splitlines()) == 1, result
