"""``psc-idp directory``: the emulated Annuaire Santé from the command line (docs/directory.md).

The group only gathers commands; each lives beside the logic it drives: import and generate
(``directory/importer/cli.py``), nomenclatures (``directory/nomenclature_cli.py``), DMP access by
role (``directory/dmp_cli.py``), professionals, situations and structures on the admin API's
functions (``directory/manage_cli.py``). Contract for scripts: JSON on stdout where a command
prints data, one line on stderr and a non-zero exit on refusal, never a traceback.
"""

from __future__ import annotations

import click

from ..directory import dmp_cli, manage_cli, nomenclature_cli
from ..directory.importer import cli as import_cli


@click.group()
def directory() -> None:
    """The directory: import extractions, nomenclatures, DMP access by role, professionals."""


for _module in (import_cli, nomenclature_cli, dmp_cli, manage_cli):
    for _command in _module.COMMANDS:
        directory.add_command(_command)
