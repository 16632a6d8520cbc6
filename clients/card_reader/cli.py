"""``card-reader``: the virtual reader's command line (see README.md)."""

from __future__ import annotations

import click


@click.group()
def main() -> None:
    """The virtual card reader and CPS middleware."""
