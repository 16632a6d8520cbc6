"""``psc-idp pki``: the local TEST authority and the emulated IGC-Santé (docs/pki.md)."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import click
from flask import Flask


def ensure_pki(app: Flask) -> dict[str, Any]:
    """The local TEST authority, the emulated IGC-Santé's two issuing CAs (and, with TLS on,
    the server certificate): made once."""
    from ..pki import LocalPki, PkiError
    from ..pki.igc_sante import IgcSante
    from ..pki.server import tls_files

    settings = app.extensions["psc_idp"].settings
    try:
        described: dict[str, Any] = LocalPki.in_keys_dir(settings.keys_dir).ensure().describe()
        described.update(IgcSante.from_settings(settings).ensure().describe())
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
    """The CA certificates' paths (the file to trust: root_ca), the emulated IGC-Santé's
    issuing CAs and CRL URLs, and the server certificate."""
    from .cli import _app

    app = _app()
    click.echo(json.dumps(ensure_pki(app), indent=2, ensure_ascii=False))


@pki.command("issue-software-cert")
@click.option("--client-id", required=True,
              help="The OIDC client the certificate authenticates (its subject CN). The client "
                   "need not be registered yet.")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Folder to write client.crt (certificate then issuing CA), client.key "
                   "(mode 0600) and ca.crt (the root to trust).")
@click.option("--organisation", default="",
              help="The structure's name (subject O); default: the client's name, else its id.")
@click.option("--host", "hosts", multiple=True,
              help="A DNS name or IP address for a server certificate too (subjectAltName, EKU "
                   "serverAuth); repeat for several.")
@click.option("--days", default=1095, show_default=True, type=click.IntRange(1, 3650),
              help="Validity in days (IGC-Santé's software certificates last three years).")
def pki_issue_software_cert(client_id: str, out_dir: str, organisation: str,
                            hosts: tuple[str, ...], days: int) -> None:
    """Issue a structure's software certificate ("certificat logiciel") from the emulated
    IGC-Santé ORGANISATIONS CA, register it and print it as JSON."""
    from .cli import _app

    client_id = client_id.strip()
    if not client_id or len(client_id) > 64:
        raise click.ClickException("--client-id must be 1 to 64 characters")
    app = _app(require_schema=True)
    click.echo(json.dumps(issue_software_files(app, client_id, Path(out_dir), organisation,
                                               list(hosts), days), indent=2,
                          ensure_ascii=False))


def issue_software_files(app: Flask, client_id: str, folder: Path, organisation: str = "",
                         hosts: list[str] | None = None, days: int = 1095) -> dict[str, Any]:
    """Key, certificate, register row and audit row; the files are written before the commit,
    so a failed commit leaves files for a certificate nobody registered (harmless: unknown
    certificates are not trusted for client authentication) rather than the reverse."""
    from cryptography.hazmat.primitives import hashes

    from ..audit import record
    from ..db import db
    from ..oidc.models import Client
    from ..pki import PkiError
    from ..pki.authority import new_key, write_key, write_pem
    from ..pki.igc_sante import ORGANISATIONS, IgcSante
    from ..pki.register import register_certificate, serial_hex

    settings = app.extensions["psc_idp"].settings
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise click.ClickException(f"cannot create {folder}: {exc.strerror or exc}") from exc
    with app.app_context():
        client = db.session.get(Client, client_id)
        name = organisation or (client.name if client is not None and client.name else "")
        try:
            igc = IgcSante.from_settings(settings)
            key = new_key()
            certificate = igc.issue_software_certificate(
                client_id=client_id, organisation=name or client_id,
                public_key=key.public_key(), lifetime_days=days, hosts=hosts or ())
            chain = igc.chain(ORGANISATIONS)
            cert_file, key_file, ca_file = (folder / "client.crt", folder / "client.key",
                                            folder / "ca.crt")
            write_key(key_file, key)
            write_pem(cert_file, [certificate, chain[0]])
            write_pem(ca_file, [chain[1]])
        except (OSError, PkiError, ValueError) as exc:
            raise click.ClickException(f"cannot issue the certificate: {exc}") from exc
        kind = "software_server" if hosts else "software_client"
        register_certificate(certificate, authority=ORGANISATIONS, kind=kind,
                             client_id=client_id)
        digest = certificate.fingerprint(hashes.SHA256())
        record("pki.certificate_issued", client_id=client_id, serial=serial_hex(certificate),
                   kind=kind, authority=ORGANISATIONS, client_registered=client is not None,
                   hosts=list(hosts or ()))
        db.session.commit()
    return {
        "serial": serial_hex(certificate),
        "subject": certificate.subject.rfc4514_string(),
        "sha256": digest.hex(),
        "x5t#S256": base64.urlsafe_b64encode(digest).rstrip(b"=").decode(),
        "not_after": certificate.not_valid_after_utc.isoformat().replace("+00:00", "Z"),
        "cert_file": str(cert_file.resolve()),
        "key_file": str(key_file.resolve()),
        "ca_file": str(ca_file.resolve()),
        "client_registered": client is not None,
    }


REASONS = ("unspecified", "key_compromise", "affiliation_changed", "superseded",
           "cessation_of_operation", "privilege_withdrawn")


@pki.command("revoke")
@click.argument("serial")
@click.option("--reason", type=click.Choice(REASONS), default="unspecified", show_default=True,
              help="The CRL reason code (RFC 5280).")
def pki_revoke(serial: str, reason: str) -> None:
    """Revoke a software certificate of the emulated IGC-Santé by its serial (hex, as
    issue-software-cert prints it). Card certificates are revoked with the card:
    ``psc-idp card lost SERIAL``."""
    from cryptography import x509

    from ..audit import record
    from ..db import db
    from ..pki.models import IssuedCertificate
    from ..pki.register import revoke_certificate
    from .cli import _app

    key = serial.strip().lower().removeprefix("0x").lstrip("0") or "0"
    app = _app(require_schema=True)
    with app.app_context():
        row = db.session.get(IssuedCertificate, key)
        if row is None:
            raise click.ClickException(f"no certificate with serial {serial!r} in the register")
        if row.kind.startswith("card_"):
            raise click.ClickException(f"{key} is a card certificate (card {row.card_serial}): "
                                       f"revoke the card with `psc-idp card lost "
                                       f"{row.card_serial}`")
        if not revoke_certificate(key, x509.ReasonFlags[reason]):
            raise click.ClickException(f"certificate {key} is already revoked")
        record("pki.certificate_revoked", client_id=row.client_id or "", serial=key,
               reason=reason, authority=row.authority, kind=row.kind)
        db.session.commit()
    click.echo(json.dumps({"serial": key, "revoked": True, "reason": reason}))
