"""``psc-idp admin-key create|list|revoke``: credentials of the directory admin API.

A key is printed once, at creation (JSON); the database keeps its SHA-256 digest only. Refusals
are one line on stderr and a non-zero exit. docs/admin-api.md.
"""

from __future__ import annotations

import click

from .listing import dumps, echo_listing


@click.group("admin-key")
def admin_key() -> None:
    """Keys of the directory admin API (/api/admin/directory)."""


@admin_key.command("create")
@click.option("--label", required=True, help="Who or what uses the key (shown in lists).")
def create(label: str) -> None:
    """Create a key and print it once, as JSON: store it now, it cannot be shown again."""
    from ..db import db
    from .api_keys import ApiKeyError, create_key
    from .cli import _app

    with _app(require_schema=True).app_context():
        try:
            new = create_key(label)
        except ApiKeyError as exc:
            raise click.ClickException(str(exc)) from None
        db.session.commit()
        click.echo(dumps({"key_id": new.key_id, "key": new.key, "label": new.label,
                          "authorization": f"Bearer {new.key}"}))


@admin_key.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON array (every field).")
def list_command(as_json: bool) -> None:
    """Every key (never the secret): id, label, creation, revocation."""
    from .api_keys import key_json, list_keys
    from .cli import _app

    with _app(require_schema=True).app_context():
        rows = [key_json(row) for row in list_keys()]
    echo_listing(rows, as_json, lambda r: f"{r['key_id']}  {r['label']}  "
                 f"{'révoquée ' + r['revoked_at'] if r['revoked_at'] else 'active'}")


@admin_key.command("revoke")
@click.argument("key_id")
def revoke(key_id: str) -> None:
    """Revoke KEY_ID: it is refused (401) from now on."""
    from ..db import db
    from .api_keys import ApiKeyError, key_json, revoke_key
    from .cli import _app

    with _app(require_schema=True).app_context():
        try:
            row = revoke_key(key_id)
        except ApiKeyError as exc:
            db.session.rollback()
            raise click.ClickException(str(exc)) from None
        db.session.commit()
        click.echo(dumps(key_json(row)))


COMMANDS: list[click.Command] = [admin_key]
