"""``psc-idp directory can-read`` and ``dmp-matrix``: DMP access by RPPS+ role (docs/dmp-access.md).

``can-read`` exit codes, a contract for scripts: 0 the role may read the type, 1 it may not
(the JSON on stdout says ``"allowed": false``), 2 an unknown role or document type (one French
line on stderr, nothing on stdout).
"""

from __future__ import annotations

import json
import sys

import click

EXIT_ALLOWED, EXIT_REFUSED, EXIT_UNKNOWN = 0, 1, 2


@click.command("can-read")
@click.option("--role", required=True, help="Le rôle RPPS+ : GENR08 à GENR12.")
@click.option("--document-type", required=True,
              help="Le type de document DMP : son code (11488-4, DOCPAT03…) ou son libellé "
                   "exact.")
def can_read_command(role: str, document_type: str) -> None:
    """May ROLE read DOCUMENT_TYPE in the DMP? Exit 0 yes, 1 no, 2 unknown role or type."""
    from .dmp_access import UnknownDocumentType, UnknownRole, can_read, role_code
    from .dmp_access import document_type as find_type

    try:
        allowed = can_read(role, document_type)
        code, found = role_code(role), find_type(document_type)
    except (UnknownRole, UnknownDocumentType) as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(EXIT_UNKNOWN)
    click.echo(json.dumps({"role": code, "document_type": found.code, "label": found.label,
                           "allowed": allowed}, ensure_ascii=False))
    sys.exit(EXIT_ALLOWED if allowed else EXIT_REFUSED)


@click.command("dmp-matrix")
@click.option("--json", "as_json", is_flag=True, help="The whole matrix as JSON.")
def dmp_matrix(as_json: bool) -> None:
    """The document types each RPPS+ role may read in the DMP (seed 004)."""
    from ..admin.listing import dumps
    from .dmp_access import matrix_json

    data = matrix_json()
    if as_json:
        click.echo(dumps(data))
        return
    labels = {t["code"]: t["label"] for t in data["document_types"]}
    for role in data["roles"]:
        click.echo(f"{role['code']}  {role['label']} ({len(role['documents'])} types)")
        for code in role["documents"]:
            click.echo(f"    {code:<34} {labels[code]}")


COMMANDS: list[click.Command] = [can_read_command, dmp_matrix]
