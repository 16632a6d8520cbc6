"""``psc-idp directory nomenclature [TABLE] [--json]``: the code tables and their versions.

Without a table: one line per table (name, terminology, version, date, number of active codes);
with one: its codes and French labels, deprecated codes and unverified labels marked. ``--json``
prints the same as JSON for scripts. Reads only the packaged data files (no database, no app),
so it answers at once; an unknown table is a one-line refusal naming the known ones.
"""

from __future__ import annotations

import json
from typing import Any

import click


def _tables() -> Any:
    from . import nomenclature

    return nomenclature


@click.command("nomenclature")
@click.argument("table", required=False)
@click.option("--json", "as_json", is_flag=True, help="JSON output for scripts.")
def nomenclature_command(table: str | None, as_json: bool) -> None:
    """List the code tables (TRE_G15, TRE_R85, TRE_R21, TRE_R22…) or one table's codes."""
    nom = _tables()
    if table is None:
        if as_json:
            click.echo(json.dumps(nom.TABLE_INFO, ensure_ascii=False, indent=2))
            return
        for name, info in nom.TABLE_INFO.items():
            version = info["version"] or "version inconnue"
            scope = "complète" if info["complete"] else "extrait"
            click.echo(f"{name:<20} {info['terminology']:<36} {version:<15} "
                       f"{info['date'] or '-':<10} {info['codes']:>3} codes ({scope})")
        return
    if table == "profession":  # the check_code table: TRE_G15 and the RPPS+ TRE_R85 codes
        parts = ("profession_sante", "profession_rpps_plus")
        if as_json:
            click.echo(json.dumps({"table": "profession", "tables": [
                _document(nom, part) for part in parts]}, ensure_ascii=False, indent=2))
            return
        for part in parts:
            _show(nom, part, as_json)
        return
    if table not in nom.TABLE_INFO:
        raise click.ClickException(f"table inconnue « {table} » ; tables : "
                                   f"{', '.join(nom.TABLE_INFO)}, profession")
    _show(nom, table, as_json)


def _document(nom: Any, table: str) -> dict[str, Any]:
    return {**nom.TABLE_INFO[table], "table": table, "codes": nom.table_codes(table)}


def _show(nom: Any, table: str, as_json: bool) -> None:
    rows = nom.table_codes(table)
    if as_json:
        click.echo(json.dumps(_document(nom, table), ensure_ascii=False, indent=2))
        return
    info = nom.TABLE_INFO[table]
    click.echo(f"{table} : {info['terminology']} {info['version']} ({info['date']}), "
               f"OID {info['oid'] or 'inconnu'}")
    for row in rows:
        marks = []
        if row["status"] == "deprecated":
            marks.append("obsolète")
        if not row["verified"]:
            marks.append("libellé non vérifié")
        suffix = f"  [{', '.join(marks)}]" if marks else ""
        click.echo(f"{row['code']:<8} {row['label']}{suffix}")


COMMANDS: list[click.Command] = [nomenclature_command]
