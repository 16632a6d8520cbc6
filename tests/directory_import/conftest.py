"""Fixtures of the import tests: an app without the demo directory (the import's own data)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    return make_app(demo=False)
