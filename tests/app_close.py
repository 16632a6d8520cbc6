"""Closing a provider app a test built: its wake-up listener (the LISTEN connection, on
PostgreSQL) and its connection pool, so hundreds of apps do not exhaust PostgreSQL's
connections."""

from __future__ import annotations

from flask import Flask

from psc_idp.db import db


def close_app(app: Flask) -> None:
    app.extensions["psc_idp"].wakeups.close()
    with app.app_context():
        db.engine.dispose()
