"""The ``psc-idp`` command-line contract (README), run as relying services' CI runs it,
configured only by ``PSC_IDP_*`` variables.

Errors must be one clear line and a non-zero exit, never a traceback; secrets never printed.

``_run`` runs the command in this process (click's ``CliRunner``, ~0.1 s) with the same
environment, working folder and separate stdout/stderr as a subprocess, and shows an uncaught
exception as the traceback a subprocess would print. The console script itself runs in a real
subprocess (``_run(..., spawn=True)``, ~1 s each) in the tests that are the contract of
the installed command: ``--help``, ``python -m``, ``init`` twice (and on PostgreSQL) and
``session end`` (its back-channel delivery threads).
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import traceback
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from psc_idp.directory.demo_data import as_directory_document
from psc_idp.directory.national_id import make_rpps
from tests.app_close import close_app
from tests.conftest import PG_ADMIN_URL

PSC_IDP = Path(sys.executable).with_name("psc-idp")
SECRET = "cli-Secret-value-4242"


class Result:
    def __init__(self, proc: subprocess.CompletedProcess[str]):
        self.rc = proc.returncode
        self.out = proc.stdout
        self.err = proc.stderr

    def json(self) -> Any:
        return json.loads(self.out)

    def __repr__(self) -> str:
        return f"rc={self.rc}\nstdout={self.out[-1500:]}\nstderr={self.err[-1500:]}"


def _env(folder: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PSC_IDP_")}
    env.update({
        "PSC_IDP_DATABASE_URL": f"sqlite:///{folder}/x.db",
        "PSC_IDP_KEYS_DIR": str(folder / "keys"),
        "PSC_IDP_INSTANCE_DIR": str(folder),
        "PSC_IDP_MODE": "test",
        "PSC_IDP_LOG_LEVEL": "WARNING",
    })
    env.update(extra)
    return env


def _run(folder: Path, *args: str, command: list[str] | None = None,
         spawn: bool = False, **extra: str) -> Result:
    if command or spawn:
        return Result(subprocess.run([*(command or [str(PSC_IDP)]), *args],
                                      env=_env(folder, **extra), capture_output=True,
                                      text=True, timeout=180, cwd=folder))
    return _in_process(folder, args, _env(folder, **extra))


def _in_process(folder: Path, args: tuple[str, ...], env: dict[str, str]) -> Result:
    """``psc-idp *args`` through click's CliRunner: ``env`` replaces the process's ``PSC_IDP_*``
    variables for the call, ``folder`` is the working folder; the apps the command built have
    their database connections closed after it."""
    from click.testing import CliRunner

    import psc_idp.app
    from psc_idp.cli import main
    from psc_idp.directory.lookup import forget_cached_summaries

    changes: dict[str, str | None] = {k: None for k in os.environ
                                      if k.startswith("PSC_IDP_") and k not in env}
    changes.update({k: v for k, v in env.items() if os.environ.get(k) != v})
    built: list[Any] = []
    real_create_app = psc_idp.app.create_app

    def create_app(*a: Any, **kw: Any) -> Any:
        built.append(real_create_app(*a, **kw))
        return built[-1]

    forget_cached_summaries()  # a cache of this process, not of the command's database
    here = os.getcwd()
    os.chdir(folder)
    psc_idp.app.create_app = create_app  # type: ignore[assignment]
    try:
        outcome = CliRunner().invoke(main, list(args), env=changes, prog_name="psc-idp")
    finally:
        psc_idp.app.create_app = real_create_app  # type: ignore[assignment]
        os.chdir(here)
        for app in built:
            close_app(app)
    err = outcome.stderr
    if outcome.exception is not None and not isinstance(outcome.exception, SystemExit):
        err += "".join(traceback.format_exception(*outcome.exc_info))  # type: ignore[misc]
    return Result(subprocess.CompletedProcess(args, outcome.exit_code, outcome.stdout, err))



Cli = Callable[..., Result]


def _refused(result: Result, *words: str) -> None:
    """A clean refusal: non-zero exit, a message, no Python traceback."""
    assert result.rc != 0, result
    assert "Traceback" not in result.err, result
    text = (result.err + result.out).lower()
    for word in words:
        assert word.lower() in text, (word, result)


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One ``init`` for the module; each test works on a copy of it."""
    folder = tmp_path_factory.mktemp("cli-seed")
    result = _run(folder, "init")
    assert result.rc == 0, result
    return folder


def copied_instance(seeded: Path, tmp_path: Path, *prefix: str, **env: str) -> Cli:
    """A copy of the seeded instance for one test, and its command line: ``prefix`` before
    each call's arguments, ``env`` in its environment (``{folder}`` is the copy's path)."""
    folder = tmp_path / "instance"
    shutil.copytree(seeded, folder)
    fixed = {name: value.format(folder=folder) for name, value in env.items()}

    def run(*args: str, **extra: str) -> Result:
        return _run(folder, *prefix, *args, **{**fixed, **extra})

    run.folder = folder  # type: ignore[attr-defined]
    return run


@pytest.fixture
def cli(seeded: Path, tmp_path: Path) -> Iterator[Cli]:
    yield copied_instance(seeded, tmp_path)


def _clients(cli: Cli) -> dict[str, dict[str, Any]]:
    result = cli("client", "list", "--json")
    assert result.rc == 0, result
    return {c["client_id"]: c for c in result.json()}


# ----------------------------------------------------------------------------- init
def test_help_lists_the_contract_commands(tmp_path):
    result = _run(tmp_path, "--help", spawn=True)
    assert result.rc == 0, result
    for command in ("init", "serve", "client", "professional", "keys", "audit"):
        assert command in result.out


def test_python_dash_m_psc_idp_cli_runs_the_cli(tmp_path):
    """``python -m psc_idp.cli`` must run the commands, not exit 0 having done nothing."""
    result = _run(tmp_path, "--help", command=[sys.executable, "-m", "psc_idp.cli"])
    assert result.rc == 0, result
    assert "Usage" in result.out, result


def test_init_twice_is_idempotent_and_keys_are_private(tmp_path):
    first = _run(tmp_path, "init", spawn=True)
    assert first.rc == 0, first
    report = first.json()
    assert report["demo"] is True
    assert report["directory"]["professionals_created"] >= 20
    keys = tmp_path / "keys"
    keyset = json.loads((keys / "keyset.json").read_text())
    assert len(keyset["keys"]) == 1
    pems = sorted(keys.glob("signing-*.pem"))
    assert [p.name for p in pems] == [f"signing-{keyset['keys'][0]['kid']}.pem"]
    for private in [*pems, keys / "flask-secret.key"]:
        assert stat.S_IMODE(private.stat().st_mode) == 0o600, private
    pem_before = pems[0].read_bytes()

    second = _run(tmp_path, "init", spawn=True)
    assert second.rc == 0, second
    again = second.json()
    assert again["directory"]["professionals_created"] == 0
    assert again["directory"]["professionals_unchanged"] == \
        report["directory"]["professionals_created"]
    assert json.loads((keys / "keyset.json").read_text()) == keyset
    assert sorted(keys.glob("signing-*.pem")) == pems and pems[0].read_bytes() == pem_before
    listed = _run(tmp_path, "client", "list", "--json", spawn=True)
    assert [c["client_id"] for c in listed.json()] == ["psc-demo-mss", "psc-demo-rp"]


def test_bad_configuration_is_a_clean_error(cli):
    _refused(cli("client", "list", PSC_IDP_OIDC__CODE_LIFETIME="abc"), "configuration")
    _refused(cli("client", "list", PSC_IDP_MODE="staging"), "configuration", "mode")
    _refused(cli("client", "list", PSC_IDP_NO_SUCH_SETTING="1"), "no_such_setting")


# ----------------------------------------------------------------------------- clients
def test_client_add_and_list_never_print_the_secret(cli):
    added = cli("client", "add", "--client-id", "rp-one", "--client-secret", SECRET,
                "--redirect-uri", "http://127.0.0.1:7001/cb",
                "--redirect-uri", "https://rp.example/cb", "--name", "RP one")
    assert added.rc == 0, added
    assert added.json()["client_id"] == "rp-one"
    listed = cli("client", "list", "--json")
    clients = {c["client_id"]: c for c in listed.json()}
    one = clients["rp-one"]
    assert one["redirect_uris"] == ["http://127.0.0.1:7001/cb", "https://rp.example/cb"]
    assert one["token_endpoint_auth_method"] == "client_secret_basic"
    assert one["has_secret"] is True and one["name"] == "RP one"
    assert one["test_autologin"] is False and one["userinfo_signed_response_alg"] is None
    shown = cli("client", "show", "rp-one")
    plain = cli("client", "list")
    assert plain.rc == 0 and "rp-one" in plain.out
    for result in (added, listed, shown, plain):
        assert SECRET not in result.out + result.err
        assert "argon2" not in result.out + result.err
        assert "secret_hash" not in result.out
    # registering it again whole (--replace; plain add refuses other settings) keeps the secret
    again = cli("client", "add", "--client-id", "rp-one", "--client-secret", SECRET,
                "--redirect-uri", "http://127.0.0.1:7001/cb", "--replace")
    assert again.rc == 0 and again.json()["redirect_uris"] == ["http://127.0.0.1:7001/cb"]


def test_client_add_public_autologin_and_signed_userinfo(cli):
    public = cli("client", "add", "--client-id", "spa", "--redirect-uri", "http://127.0.0.1:7002/",
                 "--auth-method", "none")
    assert public.rc == 0, public
    auto = cli("client", "add", "--client-id", "ci-rp", "--client-secret", SECRET,
               "--redirect-uri", "http://127.0.0.1:7003/cb", "--test-autologin")
    assert auto.rc == 0, auto
    signed = cli("client", "add", "--client-id", "jwt-rp", "--client-secret", SECRET,
                 "--redirect-uri", "http://127.0.0.1:7004/cb", "--userinfo-signed",
                 "--post-logout-redirect-uri", "http://127.0.0.1:7004/")
    assert signed.rc == 0, signed
    clients = _clients(cli)
    assert clients["spa"]["token_endpoint_auth_method"] == "none"
    assert clients["spa"]["has_secret"] is False
    assert clients["ci-rp"]["test_autologin"] is True
    assert clients["jwt-rp"]["userinfo_signed_response_alg"] == "RS256"
    assert clients["jwt-rp"]["post_logout_redirect_uris"] == ["http://127.0.0.1:7004/"]


def test_client_show_and_remove(cli):
    assert cli("client", "add", "--client-id", "gone-soon", "--client-secret", SECRET,
               "--redirect-uri", "http://127.0.0.1:7005/cb").rc == 0
    shown = cli("client", "show", "gone-soon")
    assert shown.rc == 0 and shown.json()["client_id"] == "gone-soon"
    removed = cli("client", "remove", "gone-soon")
    assert removed.rc == 0 and "gone-soon" in removed.out
    assert "gone-soon" not in _clients(cli)
    _refused(cli("client", "show", "gone-soon"), "gone-soon")
    _refused(cli("client", "remove", "gone-soon"), "gone-soon")
    assert "psc-demo-rp" in _clients(cli)


@pytest.mark.parametrize("args,words", [
    (["--auth-method", "private_key_jwt"], ["jwks"]),
    (["--redirect-uri", "not-a-uri"], ["redirect"]),
    (["--redirect-uri", "ftp://rp.example/cb"], ["redirect"]),
    (["--redirect-uri", "http://rp.example/cb#fragment"], ["redirect"]),
    (["--client-secret", "", "--auth-method", "client_secret_basic"], ["secret"]),
    (["--post-logout-redirect-uri", "javascript:alert(1)"], ["redirect"]),
])
def test_client_add_errors_are_clean_and_write_nothing(cli, args, words):
    base = ["client", "add", "--client-id", "broken-rp"]
    if "--redirect-uri" not in args:
        base += ["--redirect-uri", "http://127.0.0.1:7006/cb"]
    if "--client-secret" not in args:
        base += ["--client-secret", SECRET]
    _refused(cli(*base, *args), *words)
    assert "broken-rp" not in _clients(cli)


def test_client_add_unknown_auth_method_is_a_usage_error(cli):
    result = cli("client", "add", "--client-id", "x", "--redirect-uri", "http://a/cb",
                 "--auth-method", "client_secret_jwt")
    assert result.rc == 2 and "Traceback" not in result.err
    assert "x" not in _clients(cli)


def test_production_mode_refuses_test_autologin(cli):
    result = cli("client", "add", "--client-id", "prod-auto", "--client-secret", SECRET,
                 "--redirect-uri", "https://rp.example/cb", "--test-autologin",
                 PSC_IDP_MODE="production")
    _refused(result)
    assert "prod-auto" not in _clients(cli)


def test_production_mode_test_autologin_refusal_is_explained(cli):
    """Production with a real (non-persona) setup: the refusal names the reason."""
    from psc_idp.admin.clients import ClientError, upsert_client
    from psc_idp.config import ClientSeed, Settings

    with pytest.raises(ClientError, match="autologin"):
        upsert_client(ClientSeed(client_id="p", client_secret="s",
                                 redirect_uris=["https://rp.example/cb"], test_autologin=True),
                      Settings(mode="production", authenticators={}), source="test")


# ----------------------------------------------------------------------------- directory
def test_professional_list_json(cli):
    result = cli("professional", "list", "--json")
    assert result.rc == 0, result
    people = result.json()
    assert len(people) >= 20
    for person in people:
        assert person["given_name"] and person["family_name"]
        assert person["practices"], person["national_id"]
        assert "contact_email" not in person
        if person["staff"]:  # structure staff (CPE/CPA/CDE holders): no RPPS, no profession
            assert person["rpps"] is None and "/" in person["national_id"]
            continue
        if person["rpps"] is None:  # ADELI (0…) and EDIT (ANS…) professionals have no RPPS
            assert person["national_id"].startswith(("0", "ANS")), person["national_id"]
        else:
            assert person["national_id"] == "8" + person["rpps"] and len(person["rpps"]) == 11
        assert all(p["profession_code"] for p in person["practices"])
    assert {"30B0168811/CPET00001", "500000001815646/CPAT00045"} <= {
        p["national_id"] for p in people if p["staff"]}
    assert "810099900010" in {p["national_id"] for p in people}
    assert any(p["profession_codes"] == ["10"] for p in people)


def _new_professional(serial: int) -> dict[str, Any]:
    doc = as_directory_document()
    person = json.loads(json.dumps(doc["professionals"][0]))
    person.update(rpps=make_rpps(serial), family_name=f"NOUVEAU{serial}",
                  given_name="Test", persona_label="from a file")
    return person


def test_professional_load_of_a_broken_file_writes_nothing(cli, tmp_path):
    before = cli("professional", "list", "--json").json()
    broken = tmp_path / "broken.json"
    broken.write_text('{"structures": [], "professionals": [ {"rpps": ')
    _refused(cli("professional", "load", str(broken)), "broken.json")

    good = _new_professional(777001)
    bad = _new_professional(777002)
    bad["rpps"] = bad["rpps"][:-1] + str((int(bad["rpps"][-1]) + 1) % 10)  # wrong check digit
    half = tmp_path / "half.json"
    half.write_text(json.dumps({"structures": [], "professionals": [good, bad]}))
    _refused(cli("professional", "load", str(half)), "half.json")
    for path in (tmp_path / "missing.json", tmp_path):
        assert cli("professional", "load", str(path)).rc != 0
    after = cli("professional", "list", "--json").json()
    assert after == before

    # the control: the good entry alone loads
    alone = tmp_path / "alone.json"
    alone.write_text(json.dumps({"structures": [], "professionals": [good]}))
    loaded = cli("professional", "load", str(alone))
    assert loaded.rc == 0, loaded
    ids = {p["national_id"] for p in cli("professional", "list", "--json").json()}
    assert "8" + good["rpps"] in ids and len(ids) == len(before) + 1


# ----------------------------------------------------------------------------- keys, audit
def test_keys_show_rotate_prune(cli):
    shown = cli("keys", "show")
    assert shown.rc == 0, shown
    jwks = shown.json()
    assert len(jwks["keys"]) == 1
    old_kid = jwks["keys"][0]["kid"]
    for key in jwks["keys"]:
        assert key["kty"] == "RSA" and key["alg"] == "RS256" and key["use"] == "sig"
        assert not {"d", "p", "q", "dp", "dq", "qi"} & set(key)
    rotated = cli("keys", "rotate")
    assert rotated.rc == 0, rotated
    new_kid = rotated.out.split()[-1]
    assert new_kid != old_kid
    after = cli("keys", "show").json()
    assert [k["kid"] for k in after["keys"]] == [old_kid, new_kid]
    pruned = cli("keys", "prune")
    assert pruned.rc == 0 and "1" in pruned.out
    assert [k["kid"] for k in cli("keys", "show").json()["keys"]] == [new_kid]
    keys_dir = cli.folder / "keys"  # type: ignore[attr-defined]
    assert not (keys_dir / f"signing-{old_kid}.pem").exists()


def test_audit_list_json(cli):
    assert cli("client", "add", "--client-id", "audited", "--client-secret", SECRET,
               "--redirect-uri", "http://127.0.0.1:7007/cb").rc == 0
    result = cli("audit", "list", "--json")
    assert result.rc == 0, result
    rows = result.json()
    assert rows[0]["event"] == "client.created" and rows[0]["client_id"] == "audited"
    assert rows[0]["details"]["source"] == "cli"
    assert {"directory.loaded", "client.created"} <= {r["event"] for r in rows}
    for row in rows:
        assert set(row) >= {"at", "event", "outcome", "subject", "client_id", "details"}
        assert row["at"].endswith("Z")
    assert SECRET not in result.out
    limited = cli("audit", "list", "--json", "--limit", "1")
    assert len(limited.json()) == 1
    assert cli("audit", "list").rc == 0


# ----------------------------------------------------------------------------- PostgreSQL
@pytest.fixture
def pg_url() -> Iterator[str]:
    name = f"psc_idp_cli_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :d"),
                {"d": name})
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


def test_init_and_client_list_on_postgresql(tmp_path, pg_url):
    first = _run(tmp_path, "init", PSC_IDP_DATABASE_URL=pg_url, spawn=True)
    assert first.rc == 0, first
    assert "postgres" in first.json()["database"]
    assert _run(tmp_path, "init", PSC_IDP_DATABASE_URL=pg_url).rc == 0
    added = _run(tmp_path, "client", "add", "--client-id", "pg-rp", "--client-secret", SECRET,
                 "--redirect-uri", "http://127.0.0.1:7008/cb", PSC_IDP_DATABASE_URL=pg_url)
    assert added.rc == 0, added
    listed = _run(tmp_path, "client", "list", "--json", PSC_IDP_DATABASE_URL=pg_url)
    assert listed.rc == 0, listed
    assert [c["client_id"] for c in listed.json()] == ["pg-rp", "psc-demo-mss", "psc-demo-rp"]
    people = _run(tmp_path, "professional", "list", "--json", PSC_IDP_DATABASE_URL=pg_url)
    assert len(people.json()) >= 20
    assert not (tmp_path / "x.db").exists()


# ----------------------------------------------------------------------------- SSO and logout
def test_client_add_logout_uris_and_consent(cli):
    added = cli("client", "add", "--client-id", "slo-rp", "--client-secret", SECRET,
                "--redirect-uri", "http://127.0.0.1:7010/cb",
                "--post-logout-redirect-uri", "http://127.0.0.1:7010/",
                "--backchannel-logout-uri", "http://127.0.0.1:7010/bc",
                "--backchannel-logout-session-required",
                "--frontchannel-logout-uri", "http://127.0.0.1:7010/fc",
                "--consent-required")
    assert added.rc == 0, added
    shown = cli("client", "show", "slo-rp").json()
    assert shown["post_logout_redirect_uris"] == ["http://127.0.0.1:7010/"]
    assert shown["backchannel_logout_uri"] == "http://127.0.0.1:7010/bc"
    assert shown["backchannel_logout_session_required"] is True
    assert shown["frontchannel_logout_uri"] == "http://127.0.0.1:7010/fc"
    assert shown["consent_required"] is True
    demo = _clients(cli)["psc-demo-mss"]
    assert demo["backchannel_logout_uri"] == "http://127.0.0.1:5003/backchannel-logout"
    assert demo["frontchannel_logout_uri"] == "http://127.0.0.1:5003/frontchannel-logout"


@pytest.mark.parametrize("args,words", [
    (["--backchannel-logout-uri", "not-a-uri"], ["logout uri"]),
    (["--frontchannel-logout-uri", "http://rp.example/fc#frag"], ["logout uri"]),
    (["--backchannel-logout-session-required"], ["backchannel-logout-uri"]),
])
def test_client_add_logout_uri_errors(cli, args, words):
    result = cli("client", "add", "--client-id", "bad-slo", "--client-secret", SECRET,
                 "--redirect-uri", "http://127.0.0.1:7011/cb", *args)
    _refused(result, *words)
    assert "bad-slo" not in _clients(cli)


def test_session_list_and_end(cli):
    """``session list`` shows a live session; ``session end`` tells its RP by back-channel."""
    from psc_idp.app import create_app
    from psc_idp.db import db
    from psc_idp.directory.lookup import find_by_identifier
    from psc_idp.sessions import establish_session, note_client
    from tests.conftest import LiveServer, free_port
    from tests.sso.conftest import Receiver

    receiver = Receiver()
    server = LiveServer(receiver, free_port())  # type: ignore[arg-type]
    try:
        assert cli("client", "add", "--client-id", "slo-rp", "--client-secret", SECRET,
                   "--redirect-uri", "http://127.0.0.1:7012/cb",
                   "--backchannel-logout-uri", server.base_url + "/bc").rc == 0
        app = create_app(database_url=f"sqlite:///{cli.folder}/x.db", mode="test",
                         keys_dir=str(cli.folder / "keys"), instance_dir=str(cli.folder))
        with app.test_request_context("/"):
            gp = find_by_identifier("810099900010")
            session, _ = establish_session(professional_id=gp.id, auth_time=1, acr="eidas1",
                                           amr=["sc"], auth_mode="CARD", authenticator="persona",
                                           previous=None)
            note_client(session, "slo-rp")
            db.session.commit()
            sid = session.id
            db.engine.dispose()
        listed = cli("session", "list", "--national-id", "810099900010", "--json")
        assert listed.rc == 0, listed
        assert [(s["sid"], [c["client_id"] for c in s["clients"]]) for s in listed.json()] == \
            [(sid, ["slo-rp"])]
        ended = cli("session", "end", sid, spawn=True)
        assert ended.rc == 0, ended
        assert f"ended {sid}" in ended.out and "slo-rp: delivered" in ended.out
        posts = receiver.wait_for(1)
        assert len(posts) == 1 and posts[0]["logout_token"].count(".") == 2
        assert cli("session", "list", "--json").json() == []
        _refused(cli("session", "end", sid), sid)
        _refused(cli("session", "list", "--national-id", "899999999999"), "no professional")
    finally:
        server.stop()
