"""``psc-idp rpps-plus``: habilitations on structures and RPPS+ registrations, for the
operator (docs/rpps-plus.md). The same service as the portal's pages; every command prints
JSON (``list`` and ``habilitation list`` with ``--json``, else one line per row), every refusal
is one line on stderr and a non-zero exit, never a traceback. Everything is audited.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click

OPERATOR = "operator"
"""``decided_by`` of a decision taken from the command line."""


@contextmanager
def _rpps_app() -> Iterator[None]:
    from ..admin.cli import _app
    from ..db import db
    from .service import RppsPlusError

    app = _app(require_schema=True)
    with app.app_context():
        try:
            yield
        except RppsPlusError as exc:
            db.session.rollback()
            raise click.ClickException(exc.message) from None


def _echo(data: Any) -> None:
    from ..admin.listing import dumps

    click.echo(dumps(data))


@click.group("rpps-plus")
def rpps_plus() -> None:
    """RPPS+ (seed 004): structure habilitations and registrations of professionals."""


@rpps_plus.group("habilitation")
def habilitation() -> None:
    """Who may register (gestionnaire) and who validates (autorite) on a structure."""


@habilitation.command("grant")
@click.option("--national-id", required=True, help="The person's national id (8+RPPS, or a "
              "structure staff id such as 30B0168811/CDET00001).")
@click.option("--structure", required=True, help="The structure's technical id (F+FINESS…).")
@click.option("--kind", required=True, type=click.Choice(["gestionnaire", "autorite"]),
              help="gestionnaire: registers and ends situations; autorite: validates.")
def habilitation_grant(national_id: str, structure: str, kind: str) -> None:
    """Habilitate a person on a structure (granting twice changes nothing)."""
    from ..db import db
    from .service import grant_habilitation

    with _rpps_app():
        row, created = grant_habilitation(national_id, structure, kind, granted_by=OPERATOR)
        db.session.commit()
        _echo({"national_id": row.national_id, "structure": structure.strip(),
               "kind": row.kind, "created": created})


@habilitation.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def habilitation_list(as_json: bool) -> None:
    """Every habilitation, by structure."""
    from ..admin.listing import echo_listing
    from .service import list_habilitations

    with _rpps_app():
        rows = list_habilitations()
    echo_listing(rows, as_json, lambda h: f"{h['structure']:16} {h['kind']:24} "
                                          f"{h['national_id']}")


@rpps_plus.command("list")
@click.option("--status", type=click.Choice(["submitted", "validated", "refused"]),
              default=None, help="Only registrations with this status.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def registration_list(status: str | None, as_json: bool) -> None:
    """Registrations, newest first."""
    from ..admin.listing import echo_listing
    from .service import describe, list_registrations

    with _rpps_app():
        rows = [describe(r, contact=False) for r in list_registrations(status)]
    echo_listing(rows, as_json, lambda r: f"{r['uid']}  {r['status']:9} {r['structure']:16} "
                                          f"{r['family_name']} {r['given_names']}"
                                          f"{'  ' + r['national_id'] if r['national_id'] else ''}")


@rpps_plus.command("show")
@click.argument("uid")
def registration_show(uid: str) -> None:
    """One registration as JSON, contact data included."""
    from .service import describe, get_registration

    with _rpps_app():
        _echo(describe(get_registration(uid)))


@rpps_plus.command("validate")
@click.argument("uid")
def registration_validate(uid: str) -> None:
    """Validate as the operator: RPPS number, practice and situation; prints the result."""
    from .service import describe, validate

    with _rpps_app():
        _echo(describe(validate(uid, decided_by=OPERATOR), contact=False))


@rpps_plus.command("refuse")
@click.argument("uid")
@click.option("--reason", required=True, help="Why (kept with the registration, audited).")
def registration_refuse(uid: str, reason: str) -> None:
    """Refuse as the operator."""
    from .service import describe, refuse

    with _rpps_app():
        _echo(describe(refuse(uid, reason, decided_by=OPERATOR), contact=False))


COMMANDS: list[click.Command] = [rpps_plus]
