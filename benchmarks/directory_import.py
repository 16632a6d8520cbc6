"""Benchmark of ``psc-idp directory import``: lines/s and peak memory on SQLite and PostgreSQL.

Generates synthetic ``PS_LibreAcces_Personne_activite`` files (``psc-idp directory
generate``), imports each into a fresh database per backend in a child process, and reads the
child's own resource usage (``os.wait4``: peak RSS, CPU). Memory must stay flat as the file
grows: compare the peak RSS of 100 k and 1 M lines. The floor of any ``psc-idp`` command
(Flask app, SQLAlchemy, models) is measured too, with ``psc-idp directory imports``.

    .venv/bin/python benchmarks/directory_import.py --rows 100000,1000000
    .venv/bin/python benchmarks/directory_import.py --rows 100000 --backends sqlite

PostgreSQL: ``--pg`` is an admin URL (default the local server's ``test`` database); a
database ``psc_idp_bench_<pid>`` is created and dropped for each run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

PSC_IDP = str(Path(sys.executable).with_name("psc-idp"))
MIGRATE = """
import sys
from psc_idp.app import create_app
from psc_idp.schema import upgrade
app = create_app(mode="test", database_url=sys.argv[1], secret_key="b" * 40,
                 keys_dir=sys.argv[2], log_level="WARNING")
upgrade(app)
"""


def _env(url: str, work: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PSC_IDP_")}
    env.update({"PSC_IDP_DATABASE_URL": url, "PSC_IDP_KEYS_DIR": str(work / "keys"),
                "PSC_IDP_INSTANCE_DIR": str(work), "PSC_IDP_MODE": "test",
                "PSC_IDP_LOG_LEVEL": "WARNING", "PSC_IDP_SECRET_KEY": "b" * 40})
    return env


def measured(args: list[str], env: dict[str, str]) -> dict[str, Any]:
    """Run a child; its wall time, CPU time, peak RSS (its own, from wait4) and stdout."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.monotonic()
        proc = subprocess.Popen(args, env=env, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.monotonic() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{stderr[-2000:]}")
    return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime,
            "rss_mb": usage.ru_maxrss / 1024, "stdout": stdout}


class Database:
    """A fresh database per run (SQLite file or PostgreSQL database), migrated."""

    def __init__(self, backend: str, work: Path, pg_admin: str) -> None:
        self.backend, self.work, self.pg_admin = backend, work, pg_admin
        if backend == "sqlite":
            path = work / "bench.db"
            for suffix in ("", "-wal", "-shm"):
                Path(str(path) + suffix).unlink(missing_ok=True)
            self.url = f"sqlite:///{path}"
        else:
            self.name = f"psc_idp_bench_{os.getpid()}"
            self._admin(f'DROP DATABASE IF EXISTS "{self.name}"', f'CREATE DATABASE "{self.name}"')
            self.url = pg_admin.rsplit("/", 1)[0] + "/" + self.name
        subprocess.run([sys.executable, "-c", MIGRATE, self.url, str(work / "keys")],
                       check=True, capture_output=True)

    def _admin(self, *statements: str) -> None:
        import sqlalchemy as sa

        engine = sa.create_engine(self.pg_admin, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            for statement in statements:
                conn.execute(sa.text(statement))
        engine.dispose()

    def drop(self) -> None:
        if self.backend == "postgresql":
            self._admin(f'DROP DATABASE IF EXISTS "{self.name}"')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", default="100000,1000000",
                        help="comma-separated line counts (default 100000,1000000)")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--format", default="libreacces", choices=("libreacces", "psc"))
    parser.add_argument("--batch-size", default="2000")
    parser.add_argument("--workdir", default=None, help="where files go (default a temp dir)")
    parser.add_argument("--reimport", action="store_true",
                        help="also time a second import of the same file (--force: 0 changes)")
    opts = parser.parse_args()
    work = Path(opts.workdir or tempfile.mkdtemp(prefix="psc-idp-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    results = []
    for rows in (int(r) for r in opts.rows.split(",")):
        path = work / f"PS_LibreAcces_Personne_activite_{rows}.txt"
        made = measured([PSC_IDP, "directory", "generate", "--rows", str(rows), "--format",
                         opts.format, "--out", str(path), "--seed", "1"], os.environ.copy())
        print(f"generated {rows} lines ({path.stat().st_size / 1e6:.0f} MB) in "
              f"{made['wall']:.0f} s, peak RSS {made['rss_mb']:.0f} MB", flush=True)
        for backend in opts.backends.split(","):
            db = Database(backend, work, opts.pg)
            try:
                env = _env(db.url, work)
                floor = measured([PSC_IDP, "directory", "imports"], env)
                runs = [("import", [])] + ([("re-import", ["--force"])] if opts.reimport else [])
                for label, extra in runs:
                    run = measured([PSC_IDP, "directory", "import", str(path), "--json",
                                    "--batch-size", opts.batch_size, *extra], env)
                    report = json.loads(run["stdout"])
                    row = {"backend": backend, "run": label, "lines": report["lines"],
                           "changes": report["changes"], "wall_s": round(run["wall"], 1),
                           "lines_per_s": round(report["lines"] / run["wall"]),
                           "cpu_s": round(run["cpu"], 1),
                           "lines_per_cpu_s": round(report["lines"] / run["cpu"]),
                           "peak_rss_mb": round(run["rss_mb"]),
                           "floor_rss_mb": round(floor["rss_mb"])}
                    results.append(row)
                    print(json.dumps(row), flush=True)
            finally:
                db.drop()
        path.unlink()
    print("\n| backend | run | lines | wall (s) | lines/s | CPU (s) | lines/CPU-s | peak RSS "
          "(MB) | `psc-idp` floor RSS (MB) |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        print(f"| {r['backend']} | {r['run']} | {r['lines']:,} | {r['wall_s']} | "
              f"{r['lines_per_s']:,} | {r['cpu_s']} | {r['lines_per_cpu_s']:,} | "
              f"{r['peak_rss_mb']} | {r['floor_rss_mb']} |")


if __name__ == "__main__":
    main()
