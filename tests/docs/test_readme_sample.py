"""The README's relying-party quickstart runs as written (issue 13 item 15).

The Python sample is the fenced block right after ``<!-- sample: rp-quickstart -->`` in README.md,
run unchanged as a subprocess with the project's Python against a live provider; only its base
URL changes, through the ``PSC_BASE`` variable the sample reads. The client it uses is registered
by the README's own ``psc-idp client add`` line (the block after
``<!-- commands: rp-quickstart -->``), run through the real console script against the live
provider's database, as a newcomer runs it against ``scripts/run``'s.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from psc_idp.admin.clients import upsert_client
from psc_idp.config import ClientSeed
from psc_idp.db import db

README = Path(__file__).resolve().parents[2] / "README.md"
PSC_IDP = Path(sys.executable).with_name("psc-idp")
GP = "810099900010"


def _block_after(marker: str, language: str) -> str:
    text = README.read_text(encoding="utf-8")
    assert marker in text, f"README.md has no {marker!r}"
    found = re.search(r"```" + language + r"\n(.*?)\n```", text[text.index(marker):], re.S)
    assert found, f"no ```{language} block after {marker!r}"
    return found.group(1) + "\n"


def sample() -> str:
    return _block_after("<!-- sample: rp-quickstart -->", "python")


def command_lines() -> list[list[str]]:
    """The quickstart's shell lines, continuation lines joined and comments dropped."""
    joined = _block_after("<!-- commands: rp-quickstart -->", "sh").replace("\\\n", " ")
    return [shlex.split(line, comments=True) for line in joined.splitlines()
            if shlex.split(line, comments=True)]


def _client_add_args() -> list[str]:
    lines = [argv for argv in command_lines() if argv[:3] == [".venv/bin/psc-idp", "client", "add"]]
    assert len(lines) == 1, command_lines()
    return lines[0][1:]


def _run_sample(tmp_path: Path, base_url: str) -> str:
    script = tmp_path / "rp.py"
    script.write_text(sample(), encoding="utf-8")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PSC_", "AUTHLIB_", "REQUESTS_CA"))}
    env["PSC_BASE"] = base_url
    proc = subprocess.run([sys.executable, str(script)], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def _assert_gp_printed(out: str) -> None:
    assert f"national id: {GP}" in out, out
    assert "profession: 10" in out, out
    assert "structure: CABINET DU DR CAMILLE LEROY" in out, out


def test_sample_is_short_and_reads_only_psc_base():
    code = sample()
    assert len(code.splitlines()) <= 32, "the README promises a short sample"
    assert 'os.environ.get("PSC_BASE", "http://127.0.0.1:5000")' in code
    # the command line registers the very client the sample uses
    args = _client_add_args()
    for needle in ("--test-autologin", "my-rp", "my-rp-secret", "http://127.0.0.1:8080/callback"):
        assert needle in args
        assert needle.startswith("--") or f'"{needle}"' in code


@pytest.mark.one_backend
def test_readme_command_registers_the_client_and_the_sample_signs_in(make_live, backend,
                                                                       keys_dir, tmp_path):
    """The README's ``client add`` line (real console script) then the sample, unchanged."""
    live = make_live()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PSC_IDP_")}
    env.update({
        "PSC_IDP_DATABASE_URL": backend[1], "PSC_IDP_KEYS_DIR": str(keys_dir),
        "PSC_IDP_INSTANCE_DIR": str(tmp_path / "cli"), "PSC_IDP_MODE": "test",
        "PSC_IDP_PUBLIC_URL": live.base_url, "PSC_IDP_LOG_LEVEL": "WARNING",
    })
    proc = subprocess.run([str(PSC_IDP), *_client_add_args()], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    registered = json.loads(proc.stdout)
    assert registered["client_id"] == "my-rp" and registered["test_autologin"] is True

    _assert_gp_printed(_run_sample(tmp_path, live.base_url))


@pytest.mark.one_backend
def test_sample_runs_unchanged_in_the_strict_profile(make_live, tmp_path):
    """The default (psc) profile is the test above; the strict one must not break the sample."""
    live = make_live(fidelity={"profile": "strict"})
    app = live.app
    with app.app_context():
        upsert_client(ClientSeed(client_id="my-rp", client_secret="my-rp-secret",
                                 redirect_uris=["http://127.0.0.1:8080/callback"],
                                 test_autologin=True),
                      app.extensions["psc_idp"].settings, source="test")
        db.session.commit()
    _assert_gp_printed(_run_sample(tmp_path, live.base_url))
