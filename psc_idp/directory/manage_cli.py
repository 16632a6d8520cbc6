"""``psc-idp directory professional|situation|structure``: one record at a time, on the same
functions as the admin API (``directory/manage.py``), so both validate and audit alike.

Contract for scripts: JSON on stdout (``show`` and ``list`` without ``--json`` print short lines
for people), a refusal is one French line on stderr and exit 1, never a traceback. The
top-level ``psc-idp professional list|load|reload-demo`` are unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

import click

from ..admin.listing import dumps, echo_listing


@contextmanager
def _directory() -> Iterator[None]:
    """The app's context; refusals become one-line errors, changes are committed."""
    from ..admin.cli import _app
    from ..db import db
    from .manage import ManageError

    with _app(require_schema=True).app_context():
        try:
            yield
        except ManageError as exc:
            db.session.rollback()
            raise click.ClickException(exc.description) from None
        db.session.commit()


def _date(value: str | None, name: str) -> date | None:
    from .manage import parse_date

    return parse_date(value, name)


ACTOR = "cli"


# ----------------------------------------------------------------------------- professional

@click.group()
def professional() -> None:
    """One professional: show, end (the admin API's functions)."""


@professional.command("show")
@click.argument("national_id")
@click.option("--json", "as_json", is_flag=True, help="Every field as JSON.")
def professional_show(national_id: str, as_json: bool) -> None:
    """A professional with practices, situations and other identifiers."""
    from .manage import get_professional, professional_json

    with _directory():
        data = professional_json(get_professional(national_id))
    if as_json:
        click.echo(dumps(data))
        return
    ended = f" (sorti le {data['ended_on']})" if data["ended_on"] else ""
    click.echo(f"{data['national_id']}  {data['family_name']} {data['given_name']}{ended}")
    for other in data["other_ids"]:
        click.echo(f"  autre identifiant {other['origin']} {other['identifier']}")
    for practice in data["practices"]:
        click.echo(f"  profession {practice['profession_code']} "
                   f"(catégorie {practice['category_code'] or '-'})")
        for s in practice["situations"]:
            state = "active" if s["active"] else f"terminée le {s['ended_on']}"
            click.echo(f"    situation {s['id']}  {s['structure']} {s['structure_name']}  "
                       f"rôle {s['role_code'] or '-'}  genre {s['activity_kind_code'] or '-'}  "
                       f"mode {s['mode_code'] or '-'}  {state}")


@professional.command("end")
@click.argument("national_id")
@click.option("--ended-on", default=None, help="AAAA-MM-JJ (aujourd'hui par défaut).")
def professional_end(national_id: str, ended_on: str | None) -> None:
    """The professional leaves the directory (ended, never deleted): no login succeeds."""
    from .manage import end_professional, get_professional, professional_json

    with _directory():
        row = end_professional(national_id, ended_on=_date(ended_on, "--ended-on"), actor=ACTOR)
        data = professional_json(get_professional(row.national_id))
    click.echo(dumps(data))


# ----------------------------------------------------------------------------- situation

@click.group()
def situation() -> None:
    """Practice situations: add one in a structure, end one."""


@situation.command("add")
@click.argument("national_id")
@click.option("--structure", required=True, help="Identifiant technique : R…, F+FINESS, C+SIRET.")
@click.option("--profession", required=True, help="codeProfession (10, 60, 313…).")
@click.option("--category", default=None, help="codeCategorieProfessionnelle (C par défaut).")
@click.option("--role", default=None, help="codeRole (TRE_R21, ex. FON-33).")
@click.option("--genre", default=None,
              help="codeGenreActivite (TRE_R22 ; GENR08 à GENR12 : rôles RPPS+).")
@click.option("--mode", default=None, help="codeModeExercice : L, S, B.")
@click.option("--sector", default=None, help="codeSecteurDactivite (celui de la structure).")
@click.option("--started-on", default=None, help="AAAA-MM-JJ.")
def situation_add(national_id: str, **options: str | None) -> None:
    """Add a situation to NATIONAL_ID (refused if the same one is active)."""
    from .manage import add_situation, situation_json

    data = {name: value for name, value in options.items() if value is not None}
    with _directory():
        row = add_situation(national_id, data, actor=ACTOR)
        out = {"national_id": row.practice.professional.national_id,
               "profession_code": row.practice.profession_code, **situation_json(row)}
    click.echo(dumps(out))


@situation.command("end")
@click.argument("situation_id", type=int)
@click.option("--ended-on", default=None, help="AAAA-MM-JJ (aujourd'hui par défaut).")
def situation_end(situation_id: int, ended_on: str | None) -> None:
    """End situation SITUATION_ID (its id is in `professional show`)."""
    from .manage import end_situation, situation_json

    with _directory():
        row = end_situation(situation_id, ended_on=_date(ended_on, "--ended-on"), actor=ACTOR)
        out = {"national_id": row.practice.professional.national_id,
               "profession_code": row.practice.profession_code, **situation_json(row)}
    click.echo(dumps(out))


# ----------------------------------------------------------------------------- structure

@click.group()
def structure() -> None:
    """Structures: list, show, add."""


@structure.command("list")
@click.option("--name", default=None, help="Partie de la raison sociale.")
@click.option("--sector", default=None, help="Code secteur (SAxx).")
@click.option("--json", "as_json", is_flag=True, help="One JSON array (every field).")
def structure_list(name: str | None, sector: str | None, as_json: bool) -> None:
    """Structures by technical id (all of them, page by page)."""
    from .manage import MAX_PAGE, list_structures, structure_json

    rows: list[dict[str, Any]] = []
    with _directory():
        while True:
            total, page = list_structures(name=name, sector=sector, offset=len(rows),
                                          limit=MAX_PAGE)
            rows += [structure_json(s) for s in page]
            if not page or len(rows) >= total:
                break
    line: Callable[[dict[str, Any]], str] = \
        lambda s: f"{s['technical_id']}  {s['name']}  {s['sector_code'] or '-'}"  # noqa: E731
    echo_listing(rows, as_json, line)


@structure.command("show")
@click.argument("technical_id")
def structure_show(technical_id: str) -> None:
    """One structure, as JSON."""
    from .manage import get_structure, structure_json

    with _directory():
        data = structure_json(get_structure(technical_id))
    click.echo(dumps(data))


@structure.command("add")
@click.option("--technical-id", required=True, help="R…, F+FINESS ou C+SIRET.")
@click.option("--name", required=True, help="Raison sociale du site.")
@click.option("--sector", "sector_code", default=None, help="Code secteur (SAxx).")
@click.option("--finess-site", default=None, help="FINESS du site.")
@click.option("--finess-legal", default=None, help="FINESS juridique.")
@click.option("--siret", default=None, help="SIRET du site.")
@click.option("--postal-code", default=None, help="Code postal du site.")
@click.option("--commune-code", default=None, help="Code INSEE de la commune.")
@click.option("--former-id", default=None, help="Ancien identifiant : 3+SIRET ou 4+RPPS+nnn.")
def structure_add(**options: str | None) -> None:
    """Create a structure (refused if the technical id exists)."""
    from .manage import create_structure, structure_json

    data = {name: value for name, value in options.items() if value is not None}
    with _directory():
        data = structure_json(create_structure(data, actor=ACTOR))
    click.echo(dumps(data))


COMMANDS: list[click.Command] = [professional, situation, structure]
