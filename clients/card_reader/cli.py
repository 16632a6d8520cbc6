"""``card-reader``: the virtual reader's command line (see README.md).

    card-reader --card DIR login --authorize-url URL --pin PIN [--ca-file PATH]
    card-reader --card DIR status
    card-reader --card DIR unblock --puk PUK --new-pin PIN
    card-reader --card DIR change-pin --pin OLD --new-pin NEW
    card-reader serve --cards-dir DIR [--host H] [--port P] [--ca-file PATH]

Exit status: 0 done (``login``: the service's redirect with ``?code=`` is the last line of
stdout); 1 refused by the provider or unreadable card; 2 usage error; 3 wrong PIN (tries left
on stderr); 4 card blocked (``login`` abandons the login: the service's ``error=access_denied``
redirect is the last line of stdout); 5 card refused by the provider (its reason code and
sentence); 6 TLS or network failure.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from psc_idp.credentials.card_chip import Chip, ChipError

from .middleware import EXIT_REFUSED, EXIT_USAGE, ReaderError, chip_refusal

F = TypeVar("F", bound=Callable[..., Any])
STATUS_KEYS = ("serial", "type", "national_id", "not_after", "pin_tries_left",
               "puk_tries_left", "blocked")


class CardReaderError(click.ClickException):
    """One line ``card-reader: …`` on stderr and the exit code the README documents."""

    def __init__(self, message: str, exit_code: int = EXIT_REFUSED) -> None:
        super().__init__(message)
        self.exit_code = exit_code

    def show(self, file: Any = None) -> None:
        click.echo(f"card-reader: {self.format_message()}", err=True)


def chip_errors(func: F) -> F:
    """The chip's refusals as one French line and an exit code; never a traceback."""
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ChipError as exc:
            refusal = chip_refusal(exc)
            if refusal.exit_code == EXIT_USAGE:
                raise click.UsageError(refusal.message) from None
            raise CardReaderError(refusal.message, refusal.exit_code) from None
        except OSError as exc:
            raise CardReaderError(f"Carte illisible : {exc}", EXIT_REFUSED) from None
    return wrapper  # type: ignore[return-value]


def _chip(ctx: click.Context) -> Chip:
    folder = ctx.obj.get("card") if ctx.obj else None
    if folder is None:
        raise click.UsageError("--card DIR is required before this command "
                               "(card-reader --card DIR ...)", ctx)
    return Chip.open(Path(folder))


EPILOG = """\b
Exit status: 0 done (login: the service's redirect with ?code= is the last line);
1 refused by the provider or unreadable card; 2 usage error; 3 wrong PIN or PUK;
4 card blocked (login: the service's error=access_denied redirect is the last line);
5 card refused by the provider (reason code and sentence); 6 TLS or network failure."""


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
             epilog=EPILOG)
@click.option("--card", type=click.Path(file_okay=False, path_type=Path), envvar="CARD_READER_CARD",
              default=None, help="The virtual card's folder (what `psc-idp card issue --out` "
                                 "wrote); $CARD_READER_CARD by default.")
@click.pass_context
def main(ctx: click.Context, card: Path | None) -> None:
    """The virtual card reader and CPS middleware: a virtual CPx card for scripts (login,
    status, unblock, change-pin) and a page for people (serve)."""
    ctx.obj = {"card": card}


@main.command()
@click.option("--authorize-url", required=True,
              help="The relying service's authorization URL (with its redirect_uri).")
@click.option("--pin", required=True, envvar="CARD_READER_PIN",
              help="The card's PIN (4 digits), checked by the chip; $CARD_READER_PIN by "
                   "default.")
@click.option("--ca-file", type=click.Path(dir_okay=False, exists=True), default=None,
              help="PEM file the provider's TLS certificates are verified with (default: the "
                   "trust anchor card.json names, else $REQUESTS_CA_BUNDLE or the system's).")
@click.pass_context
@chip_errors
def login(ctx: click.Context, authorize_url: str, pin: str, ca_file: str | None) -> None:
    """Follow the authorization URL, present the card in the TLS handshake and print the
    service's redirect (with ?code=) as the last line."""
    from .login import login as run_login

    folder = ctx.obj.get("card")
    if folder is None:
        raise click.UsageError("--card DIR is required before login", ctx)
    try:
        final = run_login(Path(folder), authorize_url, pin, ca_file)
    except ReaderError as exc:
        if exc.final_url:
            click.echo(exc.final_url)
        if exc.exit_code == 2:
            raise click.UsageError(exc.message, ctx) from None
        raise CardReaderError(exc.message, exc.exit_code) from None
    click.echo(final)


@main.command()
@click.pass_context
@chip_errors
def status(ctx: click.Context) -> None:
    """The card as JSON: serial, type, national id, validity, tries left, blocked."""
    info = _chip(ctx).info()
    click.echo(json.dumps({k: info.get(k) for k in STATUS_KEYS}, indent=2, ensure_ascii=False,
                          default=str))


def _new_pin_command(name: str, code: click.Option) -> Callable[[F], click.Command]:
    """A command that gives the chip a code (``code``) and a new PIN."""
    def decorate(func: F) -> click.Command:
        wrapped = chip_errors(click.pass_context(func))
        new_pin = click.option("--new-pin", required=True, help="The new PIN (4 digits).")
        return main.command(name)(code(new_pin(wrapped)))  # type: ignore[arg-type]
    return decorate


def _done(ctx: click.Context, change: Callable[[Chip], None], message: str) -> None:
    """``change`` on the card in --card, then ``message`` with the card's serial."""
    chip = _chip(ctx)
    change(chip)
    click.echo(message.format(serial=chip.info().get("serial")))


@_new_pin_command("unblock", click.option("--puk", required=True,
                                          help="The card's PUK (8 digits)."))
def unblock(ctx: click.Context, puk: str, new_pin: str) -> None:
    """Unblock the card with its PUK and set a new PIN (the PIN counter starts again)."""
    _done(ctx, lambda chip: chip.unblock(puk, new_pin),
          "Carte {serial} débloquée : nouveau code PIN enregistré.")


@_new_pin_command("change-pin", click.option("--pin", required=True, help="The current PIN."))
def change_pin(ctx: click.Context, pin: str, new_pin: str) -> None:
    """Change the card's PIN (the current one is checked by the chip)."""
    _done(ctx, lambda chip: chip.change_pin(pin, new_pin),
          "Code PIN de la carte {serial} modifié.")


@main.command()
@click.option("--cards-dir", required=True, type=click.Path(file_okay=False, exists=True,
                                                            path_type=Path),
              help="Folder whose sub-folders are virtual cards (the reader's slot).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=5004, show_default=True, type=click.IntRange(1, 65535),
              help="Port to listen on.")
@click.option("--ca-file", type=click.Path(dir_okay=False, exists=True), default=None,
              help="PEM file the provider's TLS certificates are verified with (default: "
                   "each card's trust anchor, else $REQUESTS_CA_BUNDLE or the system's).")
def serve(cards_dir: Path, host: str, port: int, ca_file: str | None) -> None:
    """The reader's page for people: "Insérez votre carte, saisissez le code PIN"."""
    from .web import create_app

    app = create_app(cards_dir, ca_file=ca_file)
    click.echo(f"card-reader: page on http://{host}:{port}/ (cards in {cards_dir})", err=True)
    app.run(host=host, port=port, threaded=True, use_reloader=False)


if __name__ == "__main__":  # pragma: no cover (psc-idp demo runs it with -m)
    main()
