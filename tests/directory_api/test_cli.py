"""``psc-idp admin-key``, ``directory professional|situation|structure``, ``can-read`` and
``dmp-matrix`` in this process (click's CliRunner) on the test app; one subprocess contract
test for ``can-read``'s exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner

from psc_idp.admin import cli
from psc_idp.audit import AuditEvent
from psc_idp.db import db

from .apihelp import GP, HOSPITAL, STAFF, Api

PSC_IDP = Path(sys.executable).with_name("psc-idp")


@pytest.fixture
def run(app, monkeypatch):
    monkeypatch.setattr(cli, "_app", lambda **_: app)

    def invoke(*args: str):
        return CliRunner().invoke(cli.main, list(args), catch_exceptions=False)

    return invoke


def test_admin_key_create_list_revoke(app, run):
    created = run("admin-key", "create", "--label", "intégration CI")
    assert created.exit_code == 0, created.output
    key = json.loads(created.output)
    assert key["key"].startswith(key["key_id"] + ".") and key["label"] == "intégration CI"
    assert Api(app).get("/professionals", key=key["key"]).status_code == 200

    listed = json.loads(run("admin-key", "list", "--json").output)
    assert [k["key_id"] for k in listed] == [key["key_id"]]  # never the secret
    assert "key" not in listed[0] and listed[0]["revoked_at"] is None
    assert key["key_id"] in run("admin-key", "list").output

    assert run("admin-key", "create", "--label", "another").exit_code == 0
    revoked = run("admin-key", "revoke", key["key_id"])
    assert revoked.exit_code == 0 and json.loads(revoked.output)["revoked_at"]
    again = run("admin-key", "revoke", key["key_id"])
    assert again.exit_code == 1 and "déjà révoquée" in again.output
    assert run("admin-key", "revoke", "dak_nope").exit_code == 1
    assert run("admin-key", "create", "--label", " ").exit_code == 1
    assert Api(app).get("/professionals", key=key["key"]).status_code == 401  # another key


def test_professional_show_and_end(app, run):
    shown = run("directory", "professional", "show", GP, "--json")
    assert shown.exit_code == 0
    assert json.loads(shown.output)["national_id"] == GP
    text = run("directory", "professional", "show", STAFF).output
    assert STAFF in text and "situation" in text
    unknown = run("directory", "professional", "show", "899999999999")
    assert unknown.exit_code == 1 and "inconnu" in unknown.output
    assert "Traceback" not in unknown.output

    ended = run("directory", "professional", "end", GP, "--ended-on", "2026-02-01")
    assert ended.exit_code == 0 and json.loads(ended.output)["ended_on"] == "2026-02-01"
    twice = run("directory", "professional", "end", GP)
    assert twice.exit_code == 1 and "déjà" in twice.output
    bad = run("directory", "professional", "end", GP, "--ended-on", "demain")
    assert bad.exit_code == 1 and "AAAA-MM-JJ" in bad.output
    with app.app_context():
        actors = [e.details.get("actor") for e in db.session.query(AuditEvent).filter_by(
            event="directory.professional_ended")]
    assert actors == ["cli"]


def test_situation_add_and_end(run):
    added = run("directory", "situation", "add", GP, "--structure", HOSPITAL,
                "--profession", "10", "--role", "FON-33", "--genre", "GENR01", "--mode", "S",
                "--started-on", "2025-09-01")
    assert added.exit_code == 0, added.output
    situation = json.loads(added.output)
    assert situation["structure"] == HOSPITAL and situation["started_on"] == "2025-09-01"
    duplicate = run("directory", "situation", "add", GP, "--structure", HOSPITAL,
                    "--profession", "10", "--role", "FON-33", "--genre", "GENR01",
                    "--mode", "S")
    assert duplicate.exit_code == 1 and "existe déjà" in duplicate.output
    bad = run("directory", "situation", "add", GP, "--structure", HOSPITAL,
              "--profession", "10", "--genre", "GENR42")
    assert bad.exit_code == 1 and "genre" in bad.output

    ended = run("directory", "situation", "end", str(situation["id"]))
    # today by default (a situation ended today is active until the day is over, as in the
    # model)
    assert ended.exit_code == 0
    assert json.loads(ended.output)["ended_on"] == date.today().isoformat()
    assert run("directory", "situation", "end", str(situation["id"])).exit_code == 1
    assert run("directory", "situation", "end", "999999").exit_code == 1


def test_structure_list_show_add(run):
    listed = json.loads(run("directory", "structure", "list", "--json").output)
    assert HOSPITAL in [s["technical_id"] for s in listed]
    assert HOSPITAL in run("directory", "structure", "list").output
    shown = json.loads(run("directory", "structure", "show", HOSPITAL).output)
    assert shown["sector_code"] == "SA01"
    added = run("directory", "structure", "add", "--technical-id", "R424242", "--name",
                "CABINET TEST", "--sector", "SA07")
    assert added.exit_code == 0, added.output
    assert json.loads(added.output)["technical_id"] == "R424242"
    assert run("directory", "structure", "add", "--technical-id", "R424242",
               "--name", "X").exit_code == 1
    former = run("directory", "structure", "add", "--technical-id", "300000001815646",
                 "--name", "X")
    assert former.exit_code == 1 and "ancien identifiant" in former.output


def test_can_read_and_matrix_in_process():
    runner = CliRunner()
    allowed = runner.invoke(cli.main, ["directory", "can-read", "--role", "GENR11",
                                       "--document-type", "Prescription de soins infirmiers"])
    assert allowed.exit_code == 0
    assert json.loads(allowed.output) == {
        "role": "GENR11", "document_type": "PRESC-INF",
        "label": "Prescription de soins infirmiers", "allowed": True}
    refused = runner.invoke(cli.main, ["directory", "can-read", "--role", "GENR09",
                                       "--document-type", "11488-4"])
    assert refused.exit_code == 1 and json.loads(refused.output)["allowed"] is False
    matrix = json.loads(runner.invoke(cli.main, ["directory", "dmp-matrix", "--json"]).output)
    assert [r["code"] for r in matrix["roles"]] == [f"GENR{n:02d}" for n in range(8, 13)]
    text = runner.invoke(cli.main, ["directory", "dmp-matrix"]).output
    assert "GENR12" in text and "Attestation d'hébergement" in text


def test_can_read_exit_codes_contract(tmp_path):
    """The installed ``psc-idp``: 0 allowed, 1 refused (JSON on stdout), 2 unknown (French
    line on stderr, nothing on stdout). No database is needed."""
    def call(role: str, document_type: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(PSC_IDP), "directory", "can-read", "--role", role,
                               "--document-type", document_type], capture_output=True,
                              text=True, timeout=60, cwd=tmp_path)

    yes = call("GENR12", "ATTEST-HEBGT")
    assert yes.returncode == 0 and json.loads(yes.stdout)["allowed"] is True
    no = call("GENR08", "Attestation d'hébergement")
    assert no.returncode == 1 and json.loads(no.stdout)["allowed"] is False
    role = call("GENR13", "ATTEST-HEBGT")
    assert role.returncode == 2 and role.stdout == "" and "rôle RPPS+ inconnu" in role.stderr
    kind = call("GENR12", "Ordonnance")
    assert kind.returncode == 2 and "type de document DMP inconnu" in kind.stderr
