"""Fixtures for the cache tests: a second provider instance on the same database (as a second
process or host would be: its own engine, its own wake-up listener), the CLI in-process, and
a statement counter."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import event

from psc_idp.app import create_app
from psc_idp.db import db
from tests.app_close import close_app


def wait_until(predicate: Callable[[], Any], seconds: float = 10.0) -> Any:
    """Poll ``predicate`` until it is truthy (a bounded wait, not a timing assertion)."""
    deadline = time.monotonic() + seconds
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(0.02)


def hearing(app: Flask) -> bool:
    """Start the app's listener (PostgreSQL) and wait until it hears other processes."""
    hub = app.extensions["psc_idp"].wakeups
    if not hub.is_postgresql:
        return False
    hub.ensure_listening()
    assert wait_until(hub.hears_other_processes), "the wake-up listener did not connect"
    return True


@pytest.fixture
def other_instance(backend: tuple[str, str], keys_dir: Path, tmp_path: Path
                   ) -> Iterator[Callable[..., Flask]]:
    """``other_instance(**overrides)``: another app on the current test's database, without
    wiping it (``make_app`` must have built the first one)."""
    _, url = backend
    built: list[Flask] = []

    def build(**overrides: Any) -> Flask:
        settings: dict[str, Any] = {
            "mode": "test", "database_url": url, "keys_dir": str(keys_dir),
            "instance_dir": str(tmp_path / f"instance-{len(built)}"), "log_level": "WARNING",
            "secret_key": "test-secret-" + "x" * 32}
        settings.update(overrides)
        app = create_app(**settings)
        built.append(app)
        return app

    yield build
    for app in built:
        close_app(app)


class StatementLog:
    """Every SQL statement an app's engine runs while ``recording``."""

    def __init__(self) -> None:
        self.statements: list[str] = []
        self.recording = False

    def __call__(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if self.recording:
            self.statements.append(statement)

    def client_selects(self) -> list[str]:
        return [s for s in self.statements if "FROM oidc_client" in s]


@pytest.fixture
def statement_log() -> Iterator[Callable[[Flask], StatementLog]]:
    attached: list[tuple[Any, StatementLog]] = []

    def attach(app: Flask) -> StatementLog:
        log = StatementLog()
        with app.app_context():
            engine = db.engine
        event.listen(engine, "before_cursor_execute", log)
        attached.append((engine, log))
        return log

    yield attach
    for engine, log in attached:
        event.remove(engine, "before_cursor_execute", log)


@pytest.fixture
def run_cli(backend: tuple[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
            ) -> Iterator[Callable[..., Any]]:
    """``run_cli(keys_dir, *args)``: a ``psc-idp`` command in-process (CliRunner) on the
    current test's database: another app, as the command's own process would have; its
    connections are closed after the test."""
    from click.testing import CliRunner

    from psc_idp.admin import cli

    _, url = backend
    made: list[Flask] = []
    real_app = cli._app

    def recording_app(*args: Any, **kwargs: Any) -> Flask:
        app = real_app(*args, **kwargs)
        made.append(app)
        return app

    monkeypatch.setattr(cli, "_app", recording_app)

    def run(keys: Path, *args: str) -> Any:
        env = {"PSC_IDP_MODE": "test", "PSC_IDP_DATABASE_URL": url,
               "PSC_IDP_KEYS_DIR": str(keys), "PSC_IDP_HOME": str(tmp_path / "cli-home"),
               "PSC_IDP_INSTANCE_DIR": str(tmp_path / "cli-instance"),
               "PSC_IDP_SECRET_KEY": "test-secret-" + "y" * 32, "PSC_IDP_LOG_LEVEL": "WARNING"}
        result = CliRunner().invoke(cli.main, list(args), env=env, catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result

    yield run
    for app in made:
        close_app(app)
