"""``psc-idp card``: CPx cards (issue, list, show, lost, renew, replace). docs/cards.md."""

from __future__ import annotations

import click


@click.group()
def card() -> None:
    """CPx cards of the emulated card issuer (virtual cards for ``card-reader``)."""
