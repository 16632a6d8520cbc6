"""``psc-idp professional load`` and ``professional list --json`` with structure staff, through
the real console script (a subprocess, as operators and scripts run it)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from psc_idp.directory import demo_data

PSC_IDP = Path(sys.executable).parent / "psc-idp"


def _run(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PSC_IDP_")}
    env.update({
        "PSC_IDP_DATABASE_URL": f"sqlite:///{folder}/x.db",
        "PSC_IDP_KEYS_DIR": str(folder / "keys"), "PSC_IDP_INSTANCE_DIR": str(folder),
        "PSC_IDP_MODE": "test", "PSC_IDP_LOG_LEVEL": "WARNING",
    })
    return subprocess.run([str(PSC_IDP), *args], env=env, capture_output=True, text=True,
                          timeout=180, cwd=folder)


def test_staff_loaded_from_a_file_are_listed(tmp_path: Path) -> None:
    assert _run(tmp_path, "init").returncode == 0
    doc = demo_data.as_directory_document(include_staff=True)
    path = tmp_path / "staff.json"
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    loaded = _run(tmp_path, "professional", "load", str(path))
    assert loaded.returncode == 0, loaded.stderr
    counts = json.loads(loaded.stdout)  # init loaded the staff already: the file keeps them
    assert counts["professionals_created"] + counts["professionals_unchanged"] + \
        counts["professionals_updated"] >= len(demo_data.DEMO_STAFF)

    listed = _run(tmp_path, "professional", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    people: dict[str, dict[str, Any]] = {p["national_id"]: p for p in json.loads(listed.stdout)}
    for national_id, card_type in demo_data.DEMO_CARD_HOLDERS.items():
        person = people[national_id]
        if card_type in ("CPE", "CPA", "CDE"):
            assert person["rpps"] is None and person["staff"] is True
            assert person["profession_codes"] == []
            assert person["practices"][0]["profession_code"] == ""
        else:
            assert person["rpps"] and person["staff"] is False
    text = _run(tmp_path, "professional", "list")
    assert demo_data.CPA_STAFF_ID in text.stdout and "FERNANDES" in text.stdout

    # a broken staff id is refused whole, naming the file and the entry
    doc["professionals"][-1]["staff_national_id"] = "500000001815647/CPAT00045"
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    refused = _run(tmp_path, "professional", "load", str(path))
    assert refused.returncode != 0 and "Traceback" not in refused.stderr
    assert "staff_national_id" in refused.stderr and "staff.json" in refused.stderr
