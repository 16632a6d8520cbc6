"""SSO and single-logout fixtures: relying parties' logout endpoints as real HTTP servers.

``Receiver`` is a tiny WSGI app standing in for an RP's back-channel logout endpoint: it records
every POST and answers with scripted statuses (500 then 200, say).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from flask import Flask

from psc_idp.admin.clients import upsert_client
from psc_idp.config import ClientSeed
from psc_idp.db import db
from tests.conftest import LiveServer, free_port
from tests.psc_actions import PscActions

SECRET = "sso-test-secret"  # noqa: S105 (a test client's secret)


@dataclass
class Receiver:
    """Records back-channel logout POSTs; answers ``statuses`` in turn, then 200."""

    statuses: list[int] = field(default_factory=list)
    received: list[dict[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> list[bytes]:
        from werkzeug.wrappers import Request

        request = Request(environ)
        with self.lock:
            self.received.append({"path": request.path, "method": request.method,
                                  **request.form.to_dict()})
            status = self.statuses.pop(0) if self.statuses else 200
        start_response(f"{status} X", [("Content-Type", "text/plain"),
                                       ("Cache-Control", "no-store")])
        return [b""]

    def wait_for(self, count: int, timeout: float = 15.0) -> list[dict[str, str]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.received) >= count:
                    return list(self.received)
            time.sleep(0.02)
        with self.lock:
            return list(self.received)


@pytest.fixture
def receivers() -> Iterator[Callable[..., tuple[Receiver, str]]]:
    """Start RP logout endpoints: ``start(statuses)`` → (receiver, base URL)."""
    servers: list[LiveServer] = []

    def start(statuses: list[int] | None = None) -> tuple[Receiver, str]:
        receiver = Receiver(statuses=list(statuses or []))
        try:
            server = LiveServer(receiver, free_port())  # type: ignore[arg-type]
        except OSError:  # the port was taken meanwhile: one more try on another
            server = LiveServer(receiver, free_port())  # type: ignore[arg-type]
        servers.append(server)
        return receiver, server.base_url

    yield start
    for server in servers:
        server.stop()


def register(app: Flask, client_id: str, port: int = 7100, **extra: Any) -> tuple[str, str, str]:
    """Register a confidential client; returns (client_id, secret, redirect_uri)."""
    redirect_uri = f"http://127.0.0.1:{port}/callback"
    with app.app_context():
        upsert_client(ClientSeed(client_id=client_id, client_secret=SECRET,
                                 redirect_uris=[redirect_uri],
                                 post_logout_redirect_uris=[f"http://127.0.0.1:{port}/"],
                                 name=extra.pop("name", client_id), **extra),
                      app.extensions["psc_idp"].settings, source="test")
        db.session.commit()
    return client_id, SECRET, redirect_uri


def wait_until(condition: Callable[[], Any], timeout: float = 15.0) -> Any:
    """Poll ``condition`` until it returns something truthy (bounded; no timing asserted)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(0.05)


@pytest.fixture
def psc(live: LiveServer) -> PscActions:
    return PscActions(live.issuer)
