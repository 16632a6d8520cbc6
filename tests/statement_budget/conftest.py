"""A served provider with the statement counter attached (benchmarks/statements.py)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from benchmarks.statements import Login, Measurement, StatementCounter, measure


@pytest.fixture
def login(make_live, tmp_path) -> Login:
    live = make_live()
    return Login(live.base_url, live.app, tmp_path, StatementCounter(live.app))


@pytest.fixture
def counted(login: Login, backend, tmp_path_factory: pytest.TempPathFactory
            ) -> Callable[[str], Measurement]:
    """``counted(kind)``: the kind warmed up then measured; the counts are printed and written
    to <pytest basetemp>/statement-budget/<backend>-<kind>.json, to lower a budget easily."""

    def run(kind: str) -> Measurement:
        measurement = measure(login, kind)
        folder = Path(tmp_path_factory.getbasetemp()) / "statement-budget"
        folder.mkdir(exist_ok=True)
        out = folder / f"{backend[0]}-{kind}.json"
        out.write_text(json.dumps(measurement.as_dict(), indent=2))
        print(f"{measurement.report(with_statements=False)}\n(written to {out})")
        return measurement

    return run
