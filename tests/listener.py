"""A live provider plus its client-certificate listener (``start_listener`` on a free port,
as ``psc-idp serve`` starts it): what the card tests and the RFC 8705 tests both run against."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Flask

from tests.conftest import LiveServer


@dataclass
class ListenerLive:
    """A live provider and its client-certificate listener (same app, its own port)."""

    live: LiveServer
    listener: Any
    root: Path
    """The local TEST root: what clients trust for the listener's server certificate."""

    @property
    def app(self) -> Flask:
        return self.live.app

    @property
    def settings(self) -> Any:
        return self.app.extensions["psc_idp"].settings

    @property
    def mtls_base(self) -> str:
        return self.settings.mtls_base


def attach_listener(live: LiveServer) -> tuple[Any, Path]:
    """``start_listener`` on a free port for ``live``'s app, as ``psc-idp serve`` does;
    ``settings.mtls_base`` (hence discovery's aliases) then names it. Returns (listener, the
    TEST root to trust)."""
    from psc_idp.mtls.listener import start_listener
    from psc_idp.pki import LocalPki
    from psc_idp.pki.igc_sante import IgcSante
    from psc_idp.pki.server import tls_files

    settings = live.app.extensions["psc_idp"].settings
    cert, key = tls_files(settings)
    with live.app.app_context():
        names = IgcSante.from_settings(settings).client_ca_names()
    listener = start_listener(live.app, "127.0.0.1", 0, cert, key, client_ca_names=names,
                              threads=4)
    settings.mtls.port = listener.port  # settings.mtls_base follows
    return listener, LocalPki.in_keys_dir(settings.keys_dir).root_cert_path
