"""Card reader fixtures: real card folders from the provider's card issuer, and the provider
served over HTTP with its client-certificate listener (real TLS handshakes) on another port.

- ``card_setup``: the provider (``make_live``, so SQLite and PostgreSQL) plus its mTLS
  listener; ``card_setup.issue(national_id, name, **kw)`` writes a card folder under
  ``card_setup.cards_dir`` with PIN 1234 and PUK 12345678 (``psc_idp.credentials.cards``).
- ``run_reader(*args)``: the ``card-reader`` command, in this process through click's
  ``CliRunner`` (~0.05 s where a subprocess takes ~1 s): the same environment (the
  ``PSC_IDP_``, ``CARD_READER_`` and ``REQUESTS_CA`` variables removed, ``env`` added), separate
  stdout and stderr, an uncaught exception shown as the traceback a subprocess prints.
  ``run_reader(*args, spawn=True)`` runs the console script in a subprocess: the contract of
  the installed command, kept in a few tests.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from psc_idp.pki import LocalPki
from tests.conftest import LiveServer, free_port
from tests.listener import ListenerLive

CARD_READER = Path(sys.executable).with_name("card-reader")
PIN, PUK = "1234", "12345678"
GP = "810099900010"  # Camille LEROY, médecin généraliste (demo directory)


@dataclass
class CardSetup(ListenerLive):
    cards_dir: Path
    folders: list[Path] = field(default_factory=list)

    @property
    def provider(self) -> LiveServer:
        return self.live

    @property
    def ca_file(self) -> str:
        return str(self.root)

    def issue(self, national_id: str = GP, name: str = "cps", **kwargs: Any) -> Path:
        from psc_idp.credentials.cards import issue_card

        kwargs.setdefault("pin", PIN)
        kwargs.setdefault("puk", PUK)
        folder = self.cards_dir / name
        with self.app.app_context():
            issue_card(national_id=national_id, out=folder, **kwargs)
        self.folders.append(folder)
        return folder

    def serial(self, folder: Path) -> str:
        from psc_idp.credentials.card_chip import read_meta

        return str(read_meta(folder)["serial"])

    def lost(self, folder: Path) -> None:
        from psc_idp.credentials.cards import declare_lost

        with self.app.app_context():
            declare_lost(self.serial(folder))

    def authorize_url(self, **params: Any) -> tuple[Any, Any, Any]:
        """(PscActions, the demo RP's OAuth2Session, AuthorizationStart)."""
        from tests.psc_actions import PscActions

        psc = PscActions(self.provider.issuer)
        rp = psc.client()
        return psc, rp, psc.start(rp, **params)


def _start_listener(app: Any) -> Any:
    from psc_idp.admin.serve import mtls_arguments, start_mtls

    return start_mtls(app, mtls_arguments(app))


@pytest.fixture
def make_card_setup(make_live: Callable[..., LiveServer], tmp_path: Path
                    ) -> Iterator[Callable[..., CardSetup]]:
    """``make_card_setup(**provider settings)``: a provider and its mTLS listener."""
    listeners: list[Any] = []

    def start(**overrides: Any) -> CardSetup:
        for attempt in range(5):
            provider = make_live(mtls={"port": free_port()}, **overrides)
            try:
                listener = _start_listener(provider.app)
                break
            except (OSError, RuntimeError, SystemExit):  # port taken meanwhile: another one
                if attempt == 4:
                    raise
        listeners.append(listener)
        cards_dir = tmp_path / f"cards{len(listeners)}"
        cards_dir.mkdir()
        settings = provider.app.extensions["psc_idp"].settings
        return CardSetup(provider, listener, LocalPki.in_keys_dir(settings.keys_dir).root_cert_path,
                         cards_dir)

    try:
        yield start
    finally:
        for listener in listeners:
            listener.stop()


@pytest.fixture
def card_setup(make_card_setup: Callable[..., CardSetup]) -> CardSetup:
    return make_card_setup()


@pytest.fixture
def card_folder(make_app: Callable[..., Any], tmp_path: Path) -> Path:
    """A real card folder (PIN 1234, PUK 12345678) issued by a provider app, no server."""
    from psc_idp.credentials.cards import issue_card

    app = make_app()
    folder = tmp_path / "card"
    with app.app_context():
        issue_card(national_id=GP, out=folder, pin=PIN, puk=PUK)
    return folder


@pytest.fixture
def run_reader() -> Callable[..., subprocess.CompletedProcess[str]]:
    def run(*args: str, env: dict[str, str] | None = None, spawn: bool = False
            ) -> subprocess.CompletedProcess[str]:
        import os

        environ = {k: v for k, v in os.environ.items()
                   if not k.startswith(("PSC_IDP_", "CARD_READER_", "REQUESTS_CA"))}
        environ.update(env or {})
        if spawn:
            return subprocess.run([str(CARD_READER), *args], capture_output=True, text=True,
                                  timeout=120, env=environ)
        return _in_process(args, environ)

    return run


def _in_process(args: tuple[str, ...], environ: dict[str, str]
                ) -> subprocess.CompletedProcess[str]:
    import os
    import traceback

    from click.testing import CliRunner

    from clients.card_reader.cli import main

    changes: dict[str, str | None] = {k: None for k in os.environ if k not in environ}
    changes.update({k: v for k, v in environ.items() if os.environ.get(k) != v})
    outcome = CliRunner().invoke(main, list(args), env=changes, prog_name="card-reader")
    err = outcome.stderr
    if outcome.exception is not None and not isinstance(outcome.exception, SystemExit):
        err += "".join(traceback.format_exception(*outcome.exc_info))  # type: ignore[misc]
    return subprocess.CompletedProcess(args, outcome.exit_code, outcome.stdout, err)
