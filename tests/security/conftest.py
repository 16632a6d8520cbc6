"""``postgresql_only`` tests exist for the PostgreSQL backend alone (a server connection to
drop, say): their SQLite variant is deselected at collection, never collected and skipped."""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    kept, dropped = [], []
    for item in items:
        callspec = getattr(item, "callspec", None)
        on_sqlite = callspec is not None and callspec.params.get("backend") == "sqlite"
        (dropped if on_sqlite and item.get_closest_marker("postgresql_only") else kept).append(
            item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept
