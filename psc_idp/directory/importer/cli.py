"""``psc-idp directory import | imports | generate`` (docs/directory-import.md).

A refusal (another import running, a file that is no extraction) is one line on stderr and a
non-zero exit, never a traceback. ``import`` prints a summary on stderr (and a progress bar
when stderr is a terminal); ``--json`` prints the whole report on stdout.
"""

from __future__ import annotations

import json
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import click

FORMAT = click.Choice(["libreacces", "psc"])
SHOWN_REJECTIONS = 20


@click.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=FORMAT, default=None,
              help="Expected format; by default read from the header (``Nom de famille``: psc).")
@click.option("--savoir-faire", "savoir_faire", default=None,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="PS_LibreAcces_SavoirFaire_<ts>.txt, with a 2025 libreacces file.")
@click.option("--encoding", default=None,
              help="Force the encoding (e.g. cp1252); by default UTF-8, else cp1252 per line.")
@click.option("--batch-size", default=2000, show_default=True, type=click.IntRange(1, 100000),
              help="Lines per transaction (each one commits the progress with it).")
@click.option("--force", is_flag=True,
              help="Import again a file already imported in full (by default: skipped).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON on stdout.")
@click.option("--pause", default=0.0, hidden=True, type=float,
              help="Tests: seconds to sleep after each committed batch.")
def import_command(file: Path, fmt: str | None, savoir_faire: Path | None,
                   encoding: str | None, batch_size: int, force: bool, as_json: bool,
                   pause: float) -> None:
    """Import an Annuaire Santé extraction (PS_LibreAcces_Personne_activite or PSC's
    Extraction_ProSanteConnect_Personne_activite): resumable, idempotent."""
    from sqlalchemy.exc import SQLAlchemyError

    from ...admin.cli import _app
    from .run import ImportRefused, lease_from_env, run_import

    if encoding:
        try:
            "".encode(encoding)
        except LookupError:
            raise click.ClickException(f"encodage inconnu : {encoding}") from None
    app = _app(require_schema=True)
    with app.app_context():
        total = file.stat().st_size + (savoir_faire.stat().st_size if savoir_faire else 0)
        try:
            if sys.stderr.isatty() and not as_json:
                with click.progressbar(length=total, label="Import", file=sys.stderr) as bar:
                    report = run_import(file, fmt=fmt, savoir_faire=savoir_faire,
                                        encoding=encoding, batch_size=batch_size,
                                        lease=lease_from_env(), force=force, pause=pause,
                                        progress=bar.update)
            else:
                report = run_import(file, fmt=fmt, savoir_faire=savoir_faire,
                                    encoding=encoding, batch_size=batch_size,
                                    lease=lease_from_env(), force=force, pause=pause)
        except ImportRefused as exc:
            raise click.ClickException(str(exc)) from None
        except (OSError, UnicodeDecodeError, LookupError) as exc:
            raise click.ClickException(f"{file.name} : {exc}") from None
        except SQLAlchemyError as exc:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise click.ClickException(
                f"base de données : {first} — l'import est marqué en échec ; la même "
                "commande le reprendra au dernier lot validé") from None
    _summary(report.as_json())
    if as_json:
        click.echo(json.dumps(report.as_json(), ensure_ascii=False, indent=2))


def _summary(data: dict[str, Any]) -> None:
    """The human summary, on stderr."""
    echo = lambda text: click.echo(text, err=True)  # noqa: E731
    if data["status"] == "skipped":
        echo(f"import n° {data['import_id']} : fichier déjà importé en entier (import n° "
             f"{data['already_imported_as']}), rien à faire (--force pour le relire)")
        return
    resumed = f", repris à la ligne {data['resumed_from_line'] + 2}" \
        if data["resumed_from_line"] else ""
    echo(f"import n° {data['import_id']} ({data['format']}){resumed} : {data['lines']} lignes, "
         f"{data['accepted']} acceptées, {data['rejected']} rejetées, {data['changes']} "
         f"changement(s), {data['ended']} personne(s) sortie(s) de l'annuaire")
    for item in data["rejections"][:SHOWN_REJECTIONS]:
        echo(f"  ligne {item['line']} : {item['reason']}")
    if data["rejected"] > SHOWN_REJECTIONS:
        echo(f"  … et {data['rejected'] - SHOWN_REJECTIONS} autre(s) : psc-idp directory "
             f"imports --rejections {data['import_id']}")


@click.command("imports")
@click.option("--json", "as_json", is_flag=True, help="JSON on stdout.")
@click.option("--rejections", "rejections_of", type=int, default=None,
              help="List the rejected lines of this import instead (JSON lines).")
def imports_command(as_json: bool, rejections_of: int | None) -> None:
    """The import records, newest first (or one import's rejected lines)."""
    import sqlalchemy as sa

    from ...admin.cli import _app
    from ...db import db, utcnow
    from .models import DirectoryImport, DirectoryImportRejection
    from .run import lease_from_env

    app = _app(require_schema=True)
    with app.app_context():
        if rejections_of is not None:
            rows = db.session.execute(sa.select(
                DirectoryImportRejection.line_number, DirectoryImportRejection.reason).where(
                DirectoryImportRejection.import_id == rejections_of).order_by(
                DirectoryImportRejection.line_number))
            for line, reason in rows:
                click.echo(json.dumps({"line": line, "reason": reason}, ensure_ascii=False))
            return
        records = db.session.execute(sa.select(DirectoryImport).order_by(
            DirectoryImport.id.desc())).scalars().all()
        alive_after = utcnow() - timedelta(seconds=lease_from_env())
        data = [{
            "id": r.id, "format": r.format, "file": r.file_name, "sha256": r.file_sha256,
            "size": r.file_size, "status": r.status, "lines_done": r.lines_done,
            "alive": r.status == "running" and r.updated_at > alive_after,
            "byte_offset": r.byte_offset, "accepted": r.accepted, "rejected": r.rejected,
            "ended": r.ended, "started_at": r.started_at.isoformat(),
            "updated_at": r.updated_at.isoformat(),
            "finished_at": r.finished_at.isoformat() if r.finished_at else None,
        } for r in records]
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    if not data:
        click.echo("aucun import")
    for r in data:
        status = "interrompu" if r["status"] == "running" and not r["alive"] else r["status"]
        click.echo(f"{r['id']:>5}  {status:<10} {r['format']:<10} {r['lines_done']:>9} "
                   f"lignes  {r['accepted']:>9} acceptées  {r['rejected']:>7} rejetées  "
                   f"{r['ended']:>6} sorties  {r['started_at'][:19]}  {r['file']}")


@click.command("generate")
@click.option("--rows", required=True, type=click.IntRange(0), help="Data lines to write.")
@click.option("--format", "fmt", required=True, type=FORMAT,
              help="The layout to write: the public LibreAcces file or PSC's own extraction.")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The extraction file to write (pipe-separated, UTF-8).")
@click.option("--savoir-faire-out", default=None,
              type=click.Path(dir_okay=False, path_type=Path),
              help="libreacces: write the 2025 layout and its savoir-faire file here "
                   "(without it: the pre-2025 layout, savoir-faire inline).")
@click.option("--seed", default=1, show_default=True, type=int,
              help="The same seed writes the same file, byte for byte.")
@click.option("--malformed-every", default=0, type=click.IntRange(0),
              help="Spoil every K-th line (column count, code, RPPS key, date or mode).")
def generate_command(rows: int, fmt: str, out: Path, savoir_faire_out: Path | None,
                     seed: int, malformed_every: int) -> None:
    """Write a synthetic extraction file (deterministic for a seed), printing its counts."""
    from .generator import generate

    if savoir_faire_out is not None and fmt != "libreacces":
        raise click.ClickException("--savoir-faire-out ne s'emploie qu'avec --format "
                                   "libreacces (fichier 2025)")
    try:
        with out.open("w", encoding="utf-8", newline="\n") as f:
            if savoir_faire_out is not None:
                with savoir_faire_out.open("w", encoding="utf-8", newline="\n") as sf:
                    counts = generate(f, rows=rows, fmt=fmt, seed=seed, savoir_faire_out=sf,
                                      malformed_every=malformed_every)
            else:
                counts = generate(f, rows=rows, fmt=fmt, seed=seed,
                                  malformed_every=malformed_every)
    except OSError as exc:
        raise click.ClickException(f"{exc.filename or out}: {exc.strerror or exc}") from None
    click.echo(json.dumps({"out": str(out), "format": fmt, "seed": seed,
                           "savoir_faire_out": str(savoir_faire_out) if savoir_faire_out
                           else None, **counts}, ensure_ascii=False))


COMMANDS: list[click.Command] = [import_command, imports_command, generate_command]
