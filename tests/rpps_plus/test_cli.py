"""``psc-idp rpps-plus`` in-process (click's CliRunner) on both backends, and one subprocess
run for the contract (JSON out, one-line refusals, exit status, never a traceback)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from psc_idp.admin import cli
from psc_idp.db import db
from psc_idp.directory.national_id import is_valid_rpps
from psc_idp.rpps_plus import service
from psc_idp.rpps_plus.form import check_registration
from tests.rpps_plus.helpers import EHPAD, IME, MANAGER_ID, NOBODY_ID, form

PSC_IDP = Path(sys.executable).with_name("psc-idp")


@pytest.fixture
def setup(make_app, backend, keys_dir, tmp_path, monkeypatch):
    app = make_app()
    env = {"PSC_IDP_DATABASE_URL": backend[1], "PSC_IDP_MODE": "test",
           "PSC_IDP_KEYS_DIR": str(keys_dir), "PSC_IDP_INSTANCE_DIR": str(tmp_path / "inst"),
           "PSC_IDP_SECRET_KEY": "test-secret-" + "x" * 32, "PSC_IDP_LOG_LEVEL": "WARNING"}
    apps: list[Any] = []
    real_app = cli._app

    def tracked(*args: Any, **kwargs: Any) -> Any:
        made = real_app(*args, **kwargs)
        apps.append(made)
        return made

    monkeypatch.setattr(cli, "_app", tracked)

    def run(*args: str) -> Any:
        return CliRunner().invoke(cli.main, ["rpps-plus", *args], env=env)

    def submit(**changes: str) -> str:
        with app.app_context():
            data, _ = check_registration(form(**changes))
            return service.submit(service.find_structure(EHPAD), MANAGER_ID, data).uid

    yield run, submit, env
    for made in apps:
        with made.app_context():
            db.engine.dispose()


def ok(result: Any) -> Any:
    assert result.exit_code == 0, (result.exit_code, result.output)
    return json.loads(result.output)


def refused(result: Any, words: str) -> None:
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output and isinstance(result.exception, SystemExit)
    assert words in result.output and len(result.output.strip().splitlines()) == 1


def test_habilitations(setup):
    run, _, _ = setup
    granted = ok(run("habilitation", "grant", "--national-id", NOBODY_ID, "--structure", IME,
                     "--kind", "autorite"))
    assert granted == {"national_id": NOBODY_ID, "structure": IME,
                       "kind": "autorite_enregistrement", "created": True}
    assert ok(run("habilitation", "grant", "--national-id", NOBODY_ID, "--structure", IME,
                  "--kind", "autorite"))["created"] is False
    listed = ok(run("habilitation", "list", "--json"))
    assert {"national_id": NOBODY_ID, "structure": IME, "kind": "autorite_enregistrement"} in \
        [{k: h[k] for k in ("national_id", "structure", "kind")} for h in listed]
    text = run("habilitation", "list").output
    assert f"{EHPAD}" in text and MANAGER_ID in text
    refused(run("habilitation", "grant", "--national-id", "899999999999", "--structure", IME,
                "--kind", "gestionnaire"), "Personne inconnue")
    refused(run("habilitation", "grant", "--national-id", NOBODY_ID, "--structure", "F0",
                "--kind", "gestionnaire"), "Structure inconnue")
    assert run("habilitation", "grant", "--national-id", NOBODY_ID, "--structure", IME,
               "--kind", "chef").exit_code == 2


def test_list_show_validate_refuse(setup):
    run, submit, _ = setup
    first, second = submit(), submit(family_name="Bernard")
    pending = ok(run("list", "--status", "submitted", "--json"))
    assert {r["uid"] for r in pending} == {first, second}
    assert "contact_email" not in pending[0]  # listings leave the contact data out
    shown = ok(run("show", first))
    assert shown["contact_mobile"] == "+33612345678" and shown["status"] == "submitted"
    validated = ok(run("validate", first))
    assert validated["status"] == "validated" and is_valid_rpps(validated["rpps"])
    assert validated["national_id"] == "8" + validated["rpps"]
    assert validated["decided_by"] == "operator"
    refused(run("validate", first), "déjà été traitée")
    done = ok(run("refuse", second, "--reason", "Doublon"))
    assert done["status"] == "refused" and done["refusal_reason"] == "Doublon"
    refused(run("refuse", second, "--reason", "encore"), "déjà été traitée")
    refused(run("validate", "no-such-uid"), "Demande inconnue")
    assert [r["uid"] for r in ok(run("list", "--status", "validated", "--json"))] == [first]
    assert first in run("list").output
    assert run("list", "--status", "other").exit_code == 2


def test_subprocess_contract(setup):
    _, submit, env = setup
    uid = submit()
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("PSC_IDP_")} | env
    shown = subprocess.run([str(PSC_IDP), "rpps-plus", "validate", uid], env=full_env,
                           capture_output=True, text=True, timeout=60, check=False)
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["status"] == "validated"
    again = subprocess.run([str(PSC_IDP), "rpps-plus", "validate", uid], env=full_env,
                           capture_output=True, text=True, timeout=60, check=False)
    assert again.returncode == 1 and "Traceback" not in again.stderr
    assert again.stderr.strip().startswith("Error: Cette demande a déjà été traitée")
