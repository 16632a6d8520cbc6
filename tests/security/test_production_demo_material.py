"""Issue 11, finding 8: production refuses demo material.

A database initialised with ``--demo`` and then served in production mode kept the demo client
whose secret is in the repository (it can introspect any token) and activatable demo personas;
``serve`` neither refused nor warned. Now ``psc-idp serve`` in production stops with a message
naming ``psc-idp demo-data remove``, which removes them (and what refers to them).
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from click.testing import CliRunner

from psc_idp.admin import cli
from psc_idp.db import db
from psc_idp.oidc import urls
from tests.negative import register
from tests.security.flows import GP, tokens


@pytest.fixture
def demo_database(make_app) -> Any:
    """A test-mode database with the demo data and some use of it: a persona's login (session,
    grant, tokens), an e-CPS activation started, an operator's own client."""
    app = make_app(demo=True)
    tokens(app, app.test_client())
    started = app.test_client().post("/api/mobile/v1/activations", json={"national_id": GP})
    assert started.status_code in (200, 201), started.get_data(as_text=True)
    register(app, client_id="hospital-rp", client_secret="hospital-secret-4242",
             redirect_uris=["https://hospital.example/cb"])
    return app


@pytest.fixture
def psc_idp(backend, keys_dir, tmp_path, monkeypatch):
    """Run ``psc-idp`` commands in this process, configured like a production deployment
    (TOML file + PSC_IDP_CONFIG) on the test database; ``serve`` is stopped before listening."""
    _, url = backend
    config = tmp_path / "production.toml"
    config.write_text(
        f'mode = "production"\ndatabase_url = "{url}"\nkeys_dir = "{keys_dir}"\n'
        f'instance_dir = "{tmp_path / "instance"}"\npublic_url = "https://idp.example"\n'
        f'secret_key = "{"s" * 40}"\nlog_level = "WARNING"\n'
        '[authenticators.ecps]\n[authenticators.ecps_otp]\n', encoding="utf-8")
    served: list[tuple[Any, ...]] = []
    apps: list[Any] = []
    monkeypatch.setattr("psc_idp.admin.serve.run", lambda *args: served.append(args))
    real_app = cli._app

    def tracked(**overrides: Any) -> Any:
        app = real_app(**overrides)
        apps.append(app)
        return app

    monkeypatch.setattr(cli, "_app", tracked)

    def run(*args: str, mode: str = "production") -> Any:
        env = {"PSC_IDP_CONFIG": str(config), "PSC_IDP_MODE": mode}
        result = CliRunner().invoke(cli.main, list(args), env=env, catch_exceptions=False)
        result.served = list(served)
        served.clear()
        return result

    yield run
    for app in apps:
        with app.app_context():
            db.engine.dispose()


def _demo_rows(app: Any) -> tuple[list[str], list[str]]:
    from psc_idp.admin.demo_material import find

    with app.app_context():
        found = find(db.session)
        return found.clients, found.professionals


def test_serve_in_production_refuses_demo_material_then_runs_once_removed(
        demo_database, psc_idp):
    refused = psc_idp("serve", "--no-init")
    assert refused.exit_code != 0 and not refused.served, refused.output
    assert "psc-idp demo-data remove" in refused.output, refused.output
    assert "psc-demo-rp" in refused.output and "personas" in refused.output, refused.output
    assert "Traceback" not in refused.output

    removed = psc_idp("demo-data", "remove")
    assert removed.exit_code == 0, removed.output
    report = json.loads(removed.output)
    assert report["clients"] == ["psc-demo-mss", "psc-demo-rp"]
    assert GP in report["professionals"] and len(report["professionals"]) >= 20
    for table in ("professional", "practice", "idp_session", "oidc_grant", "oidc_token",
                  "ecps_activation"):
        assert report["rows"].get(table), (table, report["rows"])

    assert _demo_rows(demo_database) == ([], [])
    served = psc_idp("serve", "--no-init")
    assert served.exit_code == 0, served.output
    assert len(served.served) == 1  # it went on to listen

    again = psc_idp("demo-data", "remove")  # idempotent
    assert again.exit_code == 0 and json.loads(again.output)["clients"] == []


def test_removal_keeps_everything_else(demo_database, psc_idp):
    from psc_idp.audit import AuditEvent
    from psc_idp.oidc.models import Client

    with demo_database.app_context():
        audit_rows = db.session.query(AuditEvent).count()
    assert psc_idp("demo-data", "remove").exit_code == 0
    with demo_database.app_context():
        assert db.session.get(Client, "hospital-rp") is not None
        assert db.session.query(AuditEvent).count() > audit_rows  # kept, and the removal added
        events = {e for (e,) in db.session.query(AuditEvent.event)}
        assert {"client.removed", "directory.demo_removed"} <= events
    # the demo client's secret no longer opens anything: at once on PostgreSQL (the removal's
    # NOTIFY empties every app's client cache), within the 1 s client-cache lifetime on SQLite
    # (no NOTIFY: the command ran on another app, as another process would; docs/caching.md)
    deadline = time.monotonic() + 5
    while True:
        answer = demo_database.test_client().post(urls.INTROSPECT, data={"token": "x"},
                                                  auth=("psc-demo-rp", "demo-rp-secret"))
        if answer.status_code != 200 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert answer.status_code == 401


def test_demo_and_test_modes_still_serve_demo_data(demo_database, psc_idp):
    result = psc_idp("serve", "--no-init", mode="test")
    assert result.exit_code == 0, result.output
    assert len(result.served) == 1
    assert _demo_rows(demo_database)[0] == ["psc-demo-mss", "psc-demo-rp"]


def test_production_without_demo_material_serves(make_app, psc_idp):
    make_app(demo=False)
    result = psc_idp("serve", "--no-init")
    assert result.exit_code == 0, result.output
    assert len(result.served) == 1


def test_the_refusal_names_the_command_in_french():
    from psc_idp.admin.demo_material import DemoMaterial

    message = DemoMaterial(clients=["psc-demo-rp"], professionals=[GP]).refusal()
    assert message.startswith("mode production")
    assert "« psc-idp demo-data remove »" in message
