"""Negative tests: every refusal has its protocol error, and nothing answers 500.

Helpers shared by the modules of this package: a server watcher that remembers every 5xx the
provider produced (asserted empty at teardown), client registration, raw authorization URLs.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import secrets
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlencode

import requests
from flask import Flask

from tests.psc_actions import DEMO_CLIENT, PscActions, query

DEMO_ID, DEMO_SECRET, DEMO_REDIRECT = DEMO_CLIENT


def watch_server_errors(app: Flask) -> list[str]:
    """Record every response >= 500 the app sends (handled exceptions included)."""
    seen: list[str] = []

    @app.after_request
    def _remember(response: Any) -> Any:
        from flask import request

        if response.status_code >= 500:
            seen.append(f"{response.status_code} {request.method} {request.path}")
        return response

    return seen


def _fast_stop(server: Any) -> None:
    """Stop the werkzeug server now rather than at its next 0.5 s poll: ask for the shutdown,
    then poke the listening socket so its select() returns. The harness's own ``stop()`` later
    finds it already stopped."""
    inner = getattr(server, "_server", None)
    if inner is None:
        return
    stopper = threading.Thread(target=inner.shutdown, daemon=True)
    stopper.start()
    while stopper.is_alive():
        with contextlib.suppress(OSError):
            socket.create_connection(("127.0.0.1", server.port), timeout=0.2).close()
        stopper.join(0.02)


def guarded_live(make_live: Callable[..., Any]) -> Iterator[Callable[..., Any]]:
    """A ``make_live`` whose servers must never have answered 5xx by the end of the test."""
    watched: list[list[str]] = []
    servers: list[Any] = []

    def start(**overrides: Any) -> Any:
        server = make_live(**overrides)
        servers.append(server)
        watched.append(watch_server_errors(server.app))
        return server

    yield start
    for server in servers:
        _fast_stop(server)
    errors = [e for w in watched for e in w]
    assert not errors, f"the provider answered 5xx: {errors}"


def register(app: Flask, **kwargs: Any) -> None:
    from psc_idp.admin.clients import upsert_client
    from psc_idp.config import ClientSeed
    from psc_idp.db import db

    with app.app_context():
        upsert_client(ClientSeed(**kwargs), app.extensions["psc_idp"].settings, source="test")
        db.session.commit()


def s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(
        b"=").decode()


def auth_params(**overrides: Any) -> dict[str, str]:
    """A valid PSC authorization request for the demo client; ``None`` values are dropped."""
    verifier = secrets.token_urlsafe(48)
    params: dict[str, Any] = {
        "response_type": "code", "client_id": DEMO_ID, "redirect_uri": DEMO_REDIRECT,
        "scope": "openid scope_all", "acr_values": "eidas1", "state": secrets.token_urlsafe(12),
        "nonce": secrets.token_hex(16), "code_challenge": s256(verifier),
        "code_challenge_method": "S256",
    }
    params.update(overrides)
    return {k: v for k, v in params.items() if v is not None}


def authorize_url(psc: PscActions, params: dict[str, str] | list[tuple[str, str]]) -> str:
    return psc.metadata["authorization_endpoint"] + "?" + urlencode(params)


def assert_error_page(response: requests.Response, status: int = 400,
                      error: str | None = None) -> None:
    """A browser error page: no redirect anywhere, the status asked, HTML with the error code."""
    assert response.status_code == status, (response.status_code, response.text[:300])
    assert "Location" not in response.headers
    assert response.headers["Content-Type"].startswith("text/html")
    if error:
        assert f'id="error-code" data-error="{error}"' in response.text


def assert_redirect_error(response: requests.Response, error: str, issuer: str,
                          state: str | None = None, target: str = DEMO_REDIRECT
                          ) -> dict[str, str]:
    """A 302 back to the registered redirect URI with the OAuth error, state and iss."""
    assert response.status_code == 302, (response.status_code, response.text[:300])
    location = response.headers["Location"]
    assert location.split("?", 1)[0] == target
    params = query(location)
    assert params["error"] == error, params
    assert "code" not in params
    assert params["iss"] == issuer
    if state is not None:
        assert params.get("state") == state
    return params


def assert_json_error(response: requests.Response, status: int, error: str) -> dict[str, Any]:
    assert response.status_code == status, (response.status_code, response.text[:300])
    assert response.headers["Content-Type"].startswith("application/json"), \
        response.headers["Content-Type"]
    body = response.json()
    assert body["error"] == error, body
    return body


__all__ = ["DEMO_ID", "DEMO_REDIRECT", "DEMO_SECRET", "assert_error_page", "assert_json_error",
           "assert_redirect_error", "auth_params", "authorize_url", "guarded_live", "register",
           "s256", "watch_server_errors"]
