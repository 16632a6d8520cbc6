"""CPU per ``query_client`` (one per request, as a login's requests make them) and per
``KeyStore.verify``, in-process (time.process_time over N calls). Not a test: run it by hand
before and after a change, on the same machine, in the same run when comparing.

    .venv/bin/python tests/caches/measure.py [--pg postgresql+psycopg://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import uuid

import sqlalchemy as sa

os.environ.setdefault("AUTHLIB_INSECURE_TRANSPORT", "1")


def _cpu(n: int, call) -> float:
    start = time.process_time()
    for _ in range(n):
        call()
    return (time.process_time() - start) / n * 1e6  # µs per call


def measure(url: str, keys_dir: str, n: int) -> dict[str, float]:
    from flask import g
    from joserfc import jwt
    from joserfc.jwk import KeySet

    from psc_idp.admin.clients import upsert_client
    from psc_idp.app import create_app
    from psc_idp.config import ClientSeed
    from psc_idp.db import db
    from psc_idp.oidc.models import Client
    from psc_idp.oidc.server import query_client
    from psc_idp.schema import upgrade

    app = create_app(mode="test", database_url=url, keys_dir=keys_dir,
                     instance_dir=tempfile.mkdtemp(), log_level="WARNING",
                     secret_key="m" * 40)
    upgrade(app)
    with app.app_context():
        seed = ClientSeed(client_id="measure", redirect_uris=["https://rp/cb"],
                          client_secret="s3cret-measure")  # noqa: S106
        upsert_client(seed, app.extensions["psc_idp"].settings, source="measure")
        db.session.commit()
    hub = app.extensions["psc_idp"].wakeups
    if hub.is_postgresql:  # the cache serves only once the listener hears other processes
        ensure = getattr(hub, "ensure_listening", None)
        if ensure is not None:
            ensure()
            deadline = time.monotonic() + 5
            while not hub.hears_other_processes() and time.monotonic() < deadline:
                time.sleep(0.05)

    def one_request() -> None:
        with app.app_context():
            client = query_client("measure")
            assert client is not None and client.client_id == "measure"
            g.pop("psc_clients", None)
            db.session.remove()

    def orm_request() -> None:  # what query_client did before the cache
        with app.app_context():
            client = db.session.get(Client, "measure")
            assert client is not None
            db.session.remove()

    def empty_request() -> None:
        with app.app_context():
            db.session.remove()

    keys = app.extensions["psc_idp"].keys
    token = keys.sign({"sub": "x", "exp": int(time.time()) + 3600})
    def verify_before() -> None:  # what KeyStore.verify did before: import the set each time
        jwt.decode(token, KeySet.import_key_set(keys.jwks()), algorithms=["RS256"])

    calls = {"query_client now": one_request, "ORM get (before)": orm_request,
             "empty request": empty_request, "KeyStore.verify now": lambda: keys.verify(token),
             "verify with the set imported per call (before)": verify_before}
    for call in calls.values():
        _cpu(50, call)  # warm up
    cpu = {name: _cpu(n, call) for name, call in calls.items()}
    empty = cpu.pop("empty request")
    result = {f"{name} (µs)": round(value - empty if "request" in name or "ORM" in name
                                    or "query_client" in name else value, 1)
              for name, value in cpu.items()}
    hub.close()
    with app.app_context():
        db.engine.dispose()
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=2000)
    parser.add_argument("--pg", default="")
    args = parser.parse_args()
    keys_dir = tempfile.mkdtemp()
    print("sqlite", measure(f"sqlite:///{tempfile.mkdtemp()}/m.db", keys_dir, args.n))
    if args.pg:
        name = f"psc_idp_measure_{uuid.uuid4().hex[:8]}"
        admin = sa.create_engine(args.pg, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        try:
            print("postgresql", measure(args.pg.rsplit("/", 1)[0] + "/" + name, keys_dir, args.n))
        finally:
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


if __name__ == "__main__":
    main()
