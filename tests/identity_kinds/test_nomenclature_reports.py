"""The nomenclature versions where an operator sees them: ``psc-idp init``'s report and the
``psc-idp directory nomenclature`` command as a subprocess (the installed entry point)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from flask import Flask

from psc_idp.admin.cli import initialise
from psc_idp.directory.nomenclature import TABLE_INFO, table_versions

PSC_IDP = Path(sys.executable).with_name("psc-idp")


def test_init_reports_the_tables_versions(make_app: Callable[..., Flask]) -> None:
    app = make_app(demo=False)
    report = initialise(app, False)
    assert report["nomenclatures"] == table_versions()
    assert report["nomenclatures"]["genre_activite"] == "TRE_R22_GenreActivite 20240329120000"
    assert report["nomenclatures"]["role_prise_charge"].startswith("TRE_R85_RolePriseCharge ")


def test_the_command_as_installed(tmp_path: Path) -> None:
    done = subprocess.run([str(PSC_IDP), "directory", "nomenclature", "--json"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == TABLE_INFO
    refused = subprocess.run([str(PSC_IDP), "directory", "nomenclature", "TRE_G15"],
                             cwd=tmp_path, capture_output=True, text=True, timeout=60,
                             check=False)
    assert refused.returncode == 1 and refused.stdout == ""
    assert refused.stderr.startswith("Error: table inconnue « TRE_G15 »")
    assert "Traceback" not in refused.stderr
