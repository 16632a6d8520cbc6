"""Browser fixtures: the provider and the demo relying service over HTTP, driven by Chromium.

- ``chromium``: one headless Debian Chromium for the session (``/usr/bin/chromium``; Playwright's
  own browser download is never used — ``scripts/ensure-chromium`` installs the package).
- ``page``: a fresh browser context (no cookies) and page per test.
- ``psc``: the provider served by ``make_live`` (so on SQLite *and* PostgreSQL) with its demo
  client ``psc-demo-rp`` registered for a demo RP served in a thread on another free port.
  ``psc.add_rp(...)`` registers and serves a second relying service (SSO tests).
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import CHROMIUM, CHROMIUM_ARGS, LiveServer, free_port  # noqa: F401

SCREENSHOTS_DIR = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
TIMEOUT_MS = 10_000


@contextlib.contextmanager
def fresh_page(chromium: Any, width: int = 1280, height: int = 900, *,
               timeout_ms: int = TIMEOUT_MS, no_js_errors: bool = True) -> Iterator[Any]:
    """A fresh browser context (no cookies) and page, French; with ``no_js_errors`` a
    JavaScript error on the page fails the test."""
    context = chromium.new_context(locale="fr-FR", viewport={"width": width, "height": height})
    context.set_default_timeout(timeout_ms)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        yield page
        assert not (no_js_errors and errors), errors  # no JavaScript error on the page
    finally:
        context.close()


@pytest.fixture
def page(chromium: Any) -> Iterator[Any]:
    with fresh_page(chromium, no_js_errors=False) as page:
        yield page


def phone_sized_page(chromium: Any) -> contextlib.AbstractContextManager[Any]:
    """A fresh context at a phone's size (the virtual e-CPS page); a JavaScript error on the
    page fails the test."""
    return fresh_page(chromium, 390, 844)


@dataclass
class BrowserSetup:
    """A provider (``provider``) and the demo relying service (``rp``) wired to each other."""

    provider: LiveServer
    rp: LiveServer
    servers: list[LiveServer] = field(default_factory=list)

    @property
    def issuer(self) -> str:
        return self.provider.issuer

    def add_rp(self, client_id: str, secret: str, title: str) -> LiveServer:
        """Register another client at the provider and serve a demo RP for it."""
        from psc_idp.admin.clients import upsert_client
        from psc_idp.config import ClientSeed
        from psc_idp.db import db

        port = free_port()
        base = f"http://127.0.0.1:{port}"
        app = self.provider.app
        with app.app_context():
            upsert_client(ClientSeed(client_id=client_id, name=title, client_secret=secret,
                                     redirect_uris=[base + "/callback"],
                                     post_logout_redirect_uris=[base + "/"]),
                          app.extensions["psc_idp"].settings, source="test")
            db.session.commit()
        server = serve_demo_rp(self.issuer, port, CLIENT_ID=client_id, CLIENT_SECRET=secret,
                               TITLE=title)
        self.servers.append(server)
        return server


def serve_demo_rp(issuer: str, port: int, **settings: Any) -> LiveServer:
    from clients.demo_rp.app import create_app
    from clients.demo_rp.settings import Settings

    # A Settings object, not a mapping: PSC_DEMO_RP_* variables of the shell must not leak in.
    rp_settings = Settings(ISSUER=issuer, PUBLIC_URL=f"http://127.0.0.1:{port}", PORT=port,
                           SECRET_KEY=os.urandom(16).hex(), **settings)
    return LiveServer(create_app(rp_settings), port)


@pytest.fixture
def psc(make_live: Callable[..., LiveServer]) -> Iterator[BrowserSetup]:
    rp_port = free_port()
    provider = make_live(demo_rp_url=f"http://127.0.0.1:{rp_port}")
    rp = serve_demo_rp(provider.issuer, rp_port)
    setup = BrowserSetup(provider, rp, [rp])
    yield setup
    # Each shutdown waits out werkzeug's 0.5 s poll: stop them all at once (the provider too;
    # make_live's own stop() afterwards returns at once on a server already shut down).
    stops = [threading.Thread(target=server.stop) for server in [provider, *setup.servers]]
    for thread in stops:
        thread.start()
    for thread in stops:
        thread.join()


@pytest.fixture
def screenshot() -> Callable[[Any, str], None]:
    """``screenshot(page, "name")`` writes docs/screenshots/name.png when PSC_TEST_SCREENSHOTS=1
    (by hand, for the README); otherwise nothing, so a read-only checkout passes.

    Not ``PSC_IDP_*``: the provider reads every ``PSC_IDP_*`` variable as one of its settings and
    refuses unknown ones (hence also ``PSC_TEST_PG`` / ``PSC_TEST_BACKENDS``)."""

    def take(page: Any, name: str) -> None:
        if os.environ.get("PSC_TEST_SCREENSHOTS") != "1":
            return
        SCREENSHOTS_DIR.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS_DIR / f"{name}.png"), full_page=False)

    return take
