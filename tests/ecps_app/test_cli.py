"""The ``ecps-app`` console script, run for real (a subprocess) against a live provider.

The contract external checks rely on: ``activate`` reads both codes from the outbox,
``approve`` / ``deny`` wait for the next login and print its binding code, ``otp`` prints the
current TOTP code; refusals are one line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from psc_idp.credentials import ecps
from psc_idp.db import db
from psc_idp.directory.lookup import find_by_national_id
from tests.ecps.test_mobile_api import GP, NURSE, PIN, push_login, status_of

SCRIPT = Path(sys.executable).with_name("ecps-app")
EXIT_NOTHING_PENDING = 3


def binding_code_of(live, challenge_id: str) -> str:
    with live.app.app_context():
        from psc_idp.credentials.models import EcpsChallenge

        return db.session.get(EcpsChallenge, challenge_id).binding_code


class Cli:
    """``ecps-app --server <live> --home <tmp> ...``, with no ECPS_APP_* from the shell."""

    def __init__(self, server: str, home: Path) -> None:
        self.server, self.home = server, home
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("ECPS_APP_")}

    def argv(self, *args: str) -> list[str]:
        if not SCRIPT.exists():
            pytest.fail(f"{SCRIPT} is missing: reinstall the package (pip install -e .)")
        return [str(SCRIPT), "--server", self.server, "--home", str(self.home), *args]

    def __call__(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """The command in this process (click's CliRunner: ~0.05 s where a subprocess takes
        ~1 s), stdout and stderr apart, an uncaught exception shown as its traceback; ``start``
        and ``test_environment_defaults`` run the console script itself."""
        import traceback

        from click.testing import CliRunner

        from clients.ecps_app.cli import main

        argv = self.argv(*args)[1:]
        changes = {k: None for k in os.environ if k not in self.env}
        outcome = CliRunner().invoke(main, argv, env=changes, prog_name="ecps-app")
        err = outcome.stderr
        if outcome.exception is not None and not isinstance(outcome.exception, SystemExit):
            err += "".join(traceback.format_exception(*outcome.exc_info))  # type: ignore[misc]
        return subprocess.CompletedProcess(argv, outcome.exit_code, outcome.stdout, err)

    def start(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(self.argv(*args), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=self.env)


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, (result.returncode, result.stdout, result.stderr)
    return result.stdout


def refused(result: subprocess.CompletedProcess[str], code: int = 1) -> str:
    """Non-zero, one ``ecps-app: …`` line on stderr, no traceback."""
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ecps-app: "), result.stderr
    return lines[0]


@pytest.fixture
def cli(live, tmp_path) -> Cli:
    return Cli(live.base_url, tmp_path / "home")


@pytest.fixture
def activated(cli) -> Cli:
    out = ok(cli("activate", "--national-id", GP, "--pin", PIN))
    assert re.match(rf"activated {GP}: device [0-9a-f-]{{36}} \(usable\)", out), out
    return cli


@pytest.mark.one_backend
def test_activate_then_card_devices_status(live, activated, tmp_path):
    state = json.loads((activated.home / f"{GP}.json").read_text())
    assert set(state) >= {"device_id", "device_token", "otp_secret", "private_key_pem"}
    assert oct((activated.home / f"{GP}.json").stat().st_mode & 0o777) == "0o600"

    card = ok(activated("card", "--national-id", GP, "--qr", str(tmp_path / "qr.svg")))
    assert "Camille LEROY" in card and GP in card and GP[1:] in card and "Médecin" in card
    assert "usable" in card and "valid until" in card
    assert (tmp_path / "qr.svg").read_bytes().startswith(b"<?xml")

    devices = ok(activated("devices", "--national-id", GP))
    assert devices.startswith(f"* {state['device_id']}  usable")

    status = ok(activated("status"))  # --national-id may be left out: one professional here
    assert f"{GP}  device {state['device_id']}  usable" in status

    as_json = json.loads(ok(activated("--json", "card")))
    assert as_json["national_id"] == GP and as_json["qr_svg_base64"]


@pytest.mark.one_backend
def test_approve_waits_for_the_next_login_and_prints_its_binding_code(live, activated):
    pushed: list[str] = []
    timer = threading.Timer(1.0, lambda: pushed.append(push_login(live, GP, "Dossier patient")))
    process = activated.start("approve", "--national-id", GP, "--pin", PIN, "--wait", "30")
    timer.start()
    out, err = process.communicate(timeout=40)
    timer.join()
    assert process.returncode == 0, (out, err)
    [challenge_id] = pushed
    code = binding_code_of(live, challenge_id)
    assert out.strip() == (f"approved: Dossier patient - binding code {code} - "
                           f"challenge {challenge_id}")
    assert status_of(live, challenge_id) == "approved"


@pytest.mark.one_backend
def test_deny(live, activated):
    challenge_id = push_login(live, GP)
    out = ok(activated("deny", "--national-id", GP, "--pin", PIN, "--wait", "5"))
    assert out.startswith("denied: ") and f"binding code {binding_code_of(live, challenge_id)}" \
        in out
    assert status_of(live, challenge_id) == "denied"


@pytest.mark.one_backend
def test_approve_only_the_binding_code_given(live, activated):
    first = push_login(live, GP, "Premier service", binding_code="17")
    second = push_login(live, GP, "Second service", binding_code="42")
    wanted = binding_code_of(live, second)
    assert wanted == "42" and binding_code_of(live, first) == "17"
    out = ok(activated("--json", "approve", "--pin", PIN, "--binding-code", wanted,
                       "--wait", "2"))
    assert json.loads(out)["challenge_id"] == second
    assert status_of(live, first) == "pending" and status_of(live, second) == "approved"


def test_wrong_pin_exits_non_zero_with_the_providers_message(live, activated):
    challenge_id = push_login(live, GP)
    line = refused(activated("approve", "--national-id", GP, "--pin", "9999", "--wait", "5"))
    code = binding_code_of(live, challenge_id)
    assert line == (f"ecps-app: invalid_pin: Wrong PIN. (HTTP 403) (binding code {code}, "
                    f"challenge {challenge_id})")
    assert status_of(live, challenge_id) == "pending"


@pytest.mark.one_backend
def test_nothing_pending_exits_non_zero_after_the_wait(live, activated):
    line = refused(activated("approve", "--national-id", GP, "--pin", PIN, "--wait", "1"),
                   EXIT_NOTHING_PENDING)
    assert line == f"ecps-app: no login request for {GP} within 1 s"
    refused(activated("deny", "--national-id", GP, "--pin", PIN, "--wait", "0"),
            EXIT_NOTHING_PENDING)


@pytest.mark.one_backend
def test_otp_prints_a_code_the_provider_accepts(live, activated):
    out = ok(activated("otp", "--national-id", GP))
    assert re.fullmatch(r"\d{6}\n", out)
    with live.app.app_context():
        device = ecps.verify_otp(find_by_national_id(GP), out.strip())
        db.session.commit()
    assert device.id == json.loads((activated.home / f"{GP}.json").read_text())["device_id"]


@pytest.mark.one_backend
def test_revoke_another_device(live, activated, tmp_path):
    tablet = Cli(live.base_url, tmp_path / "tablet")
    ok(tablet("activate", "--national-id", GP, "--pin", "4321", "--device-name", "tablette"))
    tablet_id = json.loads((tablet.home / f"{GP}.json").read_text())["device_id"]
    listed = ok(activated("devices", "--national-id", GP))
    assert tablet_id in listed and "tablette" in listed

    out = ok(activated("revoke", "--national-id", GP, "--device-id", tablet_id))
    assert out.strip() == f"revoked {tablet_id} (tablette)"
    assert f"  {tablet_id}  revoked " in ok(activated("devices", "--national-id", GP))
    assert f"{GP}  device {tablet_id}  revoked" in ok(tablet("status"))
    line = refused(tablet("approve", "--national-id", GP, "--pin", "4321", "--wait", "1"))
    assert line == "ecps-app: invalid_token: Unknown or revoked device. (HTTP 401)"


@pytest.mark.one_backend
def test_refusals_are_one_line(live, cli, tmp_path):
    assert refused(cli("activate", "--national-id", "899999999999", "--pin", PIN)) == \
        "ecps-app: unknown_professional: Unknown national identifier. (HTTP 404)"
    assert refused(cli("activate", "--national-id", NURSE, "--pin", "12")) == \
        "ecps-app: invalid_pin: The PIN must be 4 to 8 digits. (HTTP 400)"
    assert refused(cli("otp", "--national-id", GP)).startswith(
        f"ecps-app: no e-CPS activated for {GP} in ")
    unreachable = Cli("http://127.0.0.1:9", tmp_path / "home")
    assert refused(unreachable("activate", "--national-id", GP, "--pin", PIN)) == \
        "ecps-app: cannot reach the provider at http://127.0.0.1:9"
    usage = cli("otp")  # no --national-id and nothing activated: a usage error
    assert usage.returncode == 2 and "--national-id is required" in usage.stderr


@pytest.mark.one_backend
def test_environment_defaults(live, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("ECPS_APP_")}
    env.update(ECPS_APP_SERVER=live.base_url, ECPS_APP_HOME=str(tmp_path / "env-home"))
    result = subprocess.run([str(SCRIPT), "activate", "--national-id", GP, "--pin", PIN],
                            capture_output=True, text=True, env=env, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "env-home" / f"{GP}.json").exists()


@pytest.mark.one_backend
def test_sessions_listed_and_ended(live, activated):
    from tests.psc_actions import PscActions

    browser = PscActions(live.issuer)
    _, tokens = browser.full_login()
    sid = browser.verify(tokens["id_token"])["sid"]
    listed = ok(activated("--json", "sessions", "--national-id", GP))
    assert [s["sid"] for s in json.loads(listed)] == [sid]
    assert sid in ok(activated("sessions", "--national-id", GP))
    assert ok(activated("end-session", "--national-id", GP, "--sid", sid)).strip() == \
        f"ended {sid}"
    assert ok(activated("sessions", "--national-id", GP)).strip() == "no open session"
    line = refused(activated("end-session", "--national-id", GP, "--sid", sid))
    assert "not_found" in line or "No such" in line
