from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask

from .apihelp import Api, new_key


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    return make_app()


@pytest.fixture
def api(app: Flask) -> Api:
    """The API with a key (the usual case: test mode with one key created)."""
    _, key = new_key(app)
    return Api(app, key)
