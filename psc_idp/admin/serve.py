"""Running the provider: Flask's threaded server, or gunicorn with N workers (production).

gunicorn runs ``gthread`` workers: ``server.threads`` threads per process. The e-CPS waits
(the phone's and the login page's long-polls and event streams) hold a thread each for up to a
minute; with ``sync`` workers each would hold a whole process, so a few waiting logins starved
everything else, and a stream longer than gunicorn's ``timeout`` got its worker killed (a sync
worker only reports alive between requests). See docs/architecture.md for the measurements.
"""

from __future__ import annotations

import signal
from typing import Any

import click
from flask import Flask

from .. import sse
from ..db import db


def banner(app: Flask, host: str, port: int) -> str:
    settings = app.extensions["psc_idp"].settings
    from ..oidc import urls

    lines = [
        f"psc-idp ({settings.mode}) listening on http://{host}:{port}",
        f"  issuer     {settings.issuer}",
        f"  discovery  {urls.absolute(settings.public_url, urls.DISCOVERY_PSC)}",
        f"  authorize  {urls.absolute(settings.wallet_base, urls.WALLET_AUTHORIZE)}",
    ]
    if settings.emulation_enabled:
        lines.append(f"  demo RP    {settings.demo_rp_url}/  (client psc-demo-rp)")
        lines.append(f"  demo RP 2  {settings.demo_rp2_url}/  (client psc-demo-mss)")
    return "\n".join(lines)


def run(app: Flask, host: str, port: int, workers: int) -> None:
    click.echo(banner(app, host, port), err=True)
    if workers and workers > 0:
        _run_gunicorn(app, host, port, workers)
    else:
        app.run(host=host, port=port, threaded=True, use_reloader=False, debug=False)


def _run_gunicorn(app: Flask, host: str, port: int, workers: int) -> None:
    from gunicorn.app.base import BaseApplication

    class Standalone(BaseApplication):  # type: ignore[misc]
        def __init__(self, application: Flask, options: dict[str, Any]):
            self.application = application
            self.options = options
            super().__init__()

        def load_config(self) -> None:
            for key, value in self.options.items():
                self.cfg.set(key, value)

        def load(self) -> Flask:
            return self.application

    def post_worker_init(worker: Any) -> None:
        # On SIGTERM (a stop or a restart) the worker waits for its requests: end the event
        # streams at once (they send `end` {"reason": "closing"}; clients reconnect) instead
        # of holding the stop for up to a minute.
        previous = signal.getsignal(signal.SIGTERM)

        def on_term(signum: int, frame: Any) -> None:
            sse.close_all_now()
            if callable(previous):
                previous(signum, frame)

        signal.signal(signal.SIGTERM, on_term)

    def post_fork(server: Any, worker: Any) -> None:
        # Connections opened by the master must not be shared by the forked workers.
        with app.app_context():
            db.engine.dispose(close=False)

    server = app.extensions["psc_idp"].settings.server
    Standalone(app, {"bind": f"{host}:{port}", "workers": workers,
                     "worker_class": server.worker_class, "threads": server.threads,
                     "accesslog": None, "errorlog": "-", "timeout": 60,
                     "keepalive": 5, "post_fork": post_fork,
                     "post_worker_init": post_worker_init,
                     # gunicorn's control socket is per user by default: several servers
                     # on one machine (tests, benchmarks) would fight over it.
                     "control_socket_disable": True}).run()
