"""TLS for the tests: the provider served over https in a thread, and HTTPS endpoints with a
certificate from a *separate* test CA (an RP's own), so trust and refusal are both real.

``TlsLiveServer`` is ``tests.conftest.LiveServer`` with werkzeug's ``ssl_context``; the
provider's certificate is the one ``psc-idp serve`` would use (``pki.server.tls_files``), so a
client trusts ``<keys_dir>/pki/root-ca.crt`` exactly as an RP would.
"""

from __future__ import annotations

import ssl
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import make_server

from psc_idp.pki import LocalPki
from psc_idp.pki.server import generated_server_certificate, ssl_context, tls_files
from tests.conftest import free_port, on_a_free_port


class TlsLiveServer:
    """A WSGI app served over HTTPS on 127.0.0.1 in a thread."""

    def __init__(self, app: Any, port: int, context: ssl.SSLContext):
        self.app = app
        self.port = port
        self.base_url = f"https://127.0.0.1:{port}"
        try:
            self._server = make_server("127.0.0.1", port, app, threaded=True,
                                       ssl_context=context)
        except SystemExit as exc:
            raise OSError(f"port {port} is already in use") from exc
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    @property
    def issuer(self) -> str:
        return self.base_url + "/auth/realms/esante-wallet"

    @property
    def ca_file(self) -> str:
        """The file an RP trusts: the local authority's root."""
        settings = self.app.extensions["psc_idp"].settings
        return str(LocalPki.in_keys_dir(settings.keys_dir).root_cert_path)

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(timeout=5)


@pytest.fixture
def make_tls_live(make_app: Callable[..., Flask]) -> Iterator[Callable[..., TlsLiveServer]]:
    """``make_tls_live(**overrides)``: the provider over HTTPS, ``[tls] enabled``."""
    servers: list[TlsLiveServer] = []

    def start(**overrides: Any) -> TlsLiveServer:
        def serve(port: int) -> TlsLiveServer:
            settings = dict(overrides)
            settings.setdefault("public_url", f"https://127.0.0.1:{port}")
            settings["tls"] = {"enabled": True, **settings.get("tls", {})}
            app = make_app(**settings)
            return TlsLiveServer(app, port, ssl_context(*tls_files(
                app.extensions["psc_idp"].settings)))

        server = on_a_free_port(serve)
        servers.append(server)
        return server

    yield start
    from psc_idp import sse

    sse.close_all(timeout=10)
    for server in servers:
        server.stop()


class OtherCa:
    """A test CA of the RP's own (not psc-idp's): serves endpoints psc-idp must be told to
    trust."""

    def __init__(self, folder: Path):
        self.pki = LocalPki(folder)
        self.ca_file = str(self.pki.root_cert_path)
        self.cert, self.key = generated_server_certificate(self.pki, ["127.0.0.1", "localhost"])

    def serve(self, app: Any) -> TlsLiveServer:
        return TlsLiveServer(app, free_port(), ssl_context(self.cert, self.key))


@pytest.fixture
def other_ca(tmp_path: Path) -> OtherCa:
    return OtherCa(tmp_path / "rp-ca")
