"""How the ``list`` commands print: ``--json`` one JSON array (every field, for scripts),
otherwise one short line a row (for people)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

import click


def dumps(data: Any) -> str:
    """The commands' JSON: French kept as is, indented, dates as text."""
    return json.dumps(data, ensure_ascii=False, indent=2, default=str)


def echo_listing(rows: Iterable[dict[str, Any]], as_json: bool,
                 line: Callable[[dict[str, Any]], str]) -> None:
    rows = list(rows)
    if as_json:
        click.echo(dumps(rows))
        return
    for row in rows:
        click.echo(line(row))
