"""The e-CPS app backend: a versioned JSON API (``/api/mobile/v1``) described by OpenAPI 3.1."""

from __future__ import annotations

from typing import Any

from flask import Flask

from .api import bp

__all__ = ["init_app"]


def init_app(app: Flask, provider: Any) -> None:
    app.register_blueprint(bp)
