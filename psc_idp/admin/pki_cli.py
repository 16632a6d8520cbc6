"""``psc-idp pki``: the local TEST authority and the emulated IGC-Santé (docs/cards.md)."""

from __future__ import annotations

import json

import click
from flask import Flask


def ensure_pki(app: Flask) -> dict[str, str]:
    """The local TEST authority (and, with TLS on, the server certificate): made once."""
    from ..pki import LocalPki, PkiError
    from ..pki.server import tls_files

    settings = app.extensions["psc_idp"].settings
    try:
        described = LocalPki.in_keys_dir(settings.keys_dir).ensure().describe()
        if settings.tls.enabled:
            cert, key = tls_files(settings)
            described.update(server_cert=str(cert.resolve()), server_key=str(key.resolve()))
    except (OSError, PkiError) as exc:
        raise click.ClickException(f"local authority (keys_dir/pki): {exc}") from exc
    return described



@click.group()
def pki() -> None:
    """The local TEST certificate authority (TLS, signing keys, emulated IGC-Santé)."""


@pki.command("show")
def pki_show() -> None:
    """The CA certificates' paths (the file to trust: root_ca) and the server certificate."""
    from .cli import _app

    app = _app()
    click.echo(json.dumps(ensure_pki(app), indent=2, ensure_ascii=False))
