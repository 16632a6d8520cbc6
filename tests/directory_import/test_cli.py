"""The commands: ``directory generate | import | imports`` in-process (CliRunner), and as real
processes: killed mid-file then rerun (same directory as one clean run, a progress bar on a
terminal), and two imports started together (one refused)."""

from __future__ import annotations

import json
import os
import pty
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from flask import Flask

from psc_idp.cli import main
from psc_idp.db import db
from psc_idp.directory.importer.models import DirectoryImport
from psc_idp.directory.importer.run import run_import
from tests.app_close import close_app

from .helpers import dump, make_file, rejections, wipe_directory

PSC_IDP = Path(sys.executable).with_name("psc-idp")


@pytest.fixture
def env(app: Flask, backend: tuple[str, str], keys_dir: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """The settings of a command on the test database; the apps in-process commands build
    are closed at the end (PostgreSQL connections must not outlive the test)."""
    from psc_idp.admin import cli as admin_cli

    built: list[Flask] = []
    real = admin_cli._app

    def tracked(*args: Any, **kw: Any) -> Flask:
        built.append(real(*args, **kw))
        return built[-1]

    monkeypatch.setattr(admin_cli, "_app", tracked)
    base = {k: v for k, v in os.environ.items() if not k.startswith(("PSC_IDP_", "PSC_IMPORT"))}
    base.update({"PSC_IDP_DATABASE_URL": backend[1], "PSC_IDP_KEYS_DIR": str(keys_dir),
                 "PSC_IDP_INSTANCE_DIR": str(tmp_path / "instance"), "PSC_IDP_MODE": "test",
                 "PSC_IDP_LOG_LEVEL": "WARNING", "PSC_IDP_SECRET_KEY": "t" * 40})
    yield base
    for made in built:
        close_app(made)


def _cli(env: dict[str, str], *args: str):  # noqa: ANN202
    result = CliRunner().invoke(main, ["directory", *args], env=env, catch_exceptions=False)
    return result


def _records(app: Flask) -> list[DirectoryImport]:
    with app.app_context():
        return list(db.session.scalars(sa.select(DirectoryImport).order_by(DirectoryImport.id)))


def test_generate_import_imports(app: Flask, env: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "PS_LibreAcces_Personne_activite_202501010000.txt"
    sf = tmp_path / "PS_LibreAcces_SavoirFaire_202501010000.txt"
    made = _cli(env, "generate", "--rows", "120", "--format", "libreacces", "--out", str(out),
                "--savoir-faire-out", str(sf), "--seed", "4", "--malformed-every", "50")
    assert made.exit_code == 0, made.output
    assert json.loads(made.stdout)["rows"] == 120 and json.loads(made.stdout)["malformed"] == 2
    done = _cli(env, "import", str(out), "--savoir-faire", str(sf), "--json")
    assert done.exit_code == 0, done.output
    report = json.loads(done.stdout)
    assert (report["status"], report["rejected"]) == ("done", 2)
    assert [r["line"] for r in report["rejections"]] == [51, 101]
    assert done.stderr.startswith(f"import n° {report['import_id']} (libreacces)")
    assert "ligne 51 : " in done.stderr and "[" not in done.stderr  # no bar off a terminal
    listed = json.loads(_cli(env, "imports", "--json").stdout)
    assert [(r["id"], r["status"], r["lines_done"], r["alive"]) for r in listed] == \
        [(report["import_id"], "done", report["lines"], False)]
    lines = _cli(env, "imports", "--rejections", str(report["import_id"])).stdout.splitlines()
    assert [json.loads(x)["line"] for x in lines] == [51, 101]
    again = _cli(env, "import", str(out), "--savoir-faire", str(sf))
    assert again.exit_code == 0 and "déjà importé" in again.stderr


def test_refusals_are_one_line(app: Flask, env: dict[str, str], tmp_path: Path) -> None:
    junk = tmp_path / "junk.txt"
    junk.write_text("a|b|c|\n1|2|3|\n", encoding="utf-8")
    result = _cli(env, "import", str(junk))
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [
        "Error: junk.txt : en-tête non reconnu : colonne « Identification nationale PP » "
        "absente (est-ce une extraction de l'Annuaire Santé ?)"]
    path, _ = make_file(tmp_path, "p.txt", rows=3)
    wrong = _cli(env, "import", str(path), "--format", "libreacces")
    assert wrong.exit_code == 1 and "au format « psc »" in wrong.stderr
    assert "Traceback" not in wrong.stderr + result.stderr
    assert _records(app) == []


def _wait_for(check, timeout: float = 60.0) -> None:  # noqa: ANN001
    end = time.monotonic() + timeout
    while not check():
        if time.monotonic() > end:
            raise AssertionError("condition not reached")
        time.sleep(0.05)


def test_killed_import_rerun_gives_the_same_directory(app: Flask, env: dict[str, str],
                                                      tmp_path: Path) -> None:
    path, _ = make_file(tmp_path, "kill.txt", rows=1500, malformed_every=97)
    args = [str(PSC_IDP), "directory", "import", str(path), "--batch-size", "100"]
    proc = subprocess.Popen([*args, "--pause", "0.3"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        _wait_for(lambda: any(r.lines_done > 0 for r in _records(app)))
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    killed = _records(app)[0]
    assert killed.status == "running" and 0 < killed.lines_done < 1500
    time.sleep(1.2)  # the killed import's lease (1 s in the rerun's view) runs out
    master, slave = pty.openpty()
    rerun = subprocess.Popen(args, env={**env, "PSC_IMPORT_LEASE_SECONDS": "1"},
                             stdout=subprocess.DEVNULL, stderr=slave)
    os.close(slave)
    shown = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        shown += chunk
    os.close(master)
    assert rerun.wait(timeout=120) == 0, shown.decode(errors="replace")
    text = shown.decode()
    assert f"repris à la ligne {killed.lines_done + 2}" in text
    assert "Import" in text and "100%" in text  # the progress bar, on a terminal
    records = _records(app)
    assert [(r.id, r.status, r.lines_done, r.rejected) for r in records] == \
        [(killed.id, "done", 1500, 15)]
    result, reasons = dump(app), rejections(app, killed.id)
    wipe_directory(app)
    with app.app_context():
        clean = run_import(path, batch_size=100)
    assert dump(app) == result
    assert rejections(app, clean.import_id) == reasons and len(reasons) == 15


def test_two_imports_at_once_one_is_refused(app: Flask, env: dict[str, str], tmp_path: Path
                                           ) -> None:
    """Started together on two files: the database lock lets exactly one run."""
    procs = []
    for name, seed in (("a.txt", 1), ("b.txt", 2)):
        path, _ = make_file(tmp_path, name, rows=300, seed=seed)
        procs.append(subprocess.Popen(
            [str(PSC_IDP), "directory", "import", str(path), "--batch-size", "50",
             "--pause", "2"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            text=True))
    try:
        _wait_for(lambda: any(p.poll() is not None for p in procs), timeout=120)
        loser = next(p for p in procs if p.poll() is not None)
        assert loser.returncode == 1
        assert "un import est déjà en cours" in loser.stderr.read()  # type: ignore[union-attr]
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGKILL)
            p.wait()
            if p.stderr:
                p.stderr.close()
    records = _records(app)
    assert len(records) == 1 and records[0].status == "running"
