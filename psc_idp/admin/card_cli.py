"""``psc-idp card``: CPx cards (issue, list, show, lost, renew, replace). docs/cards.md.

A stable contract for scripts: every command prints JSON (``list`` with ``--json``), every
refusal is one line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from ..db import db
from .listing import dumps, echo_listing

TYPES = click.Choice(["CPS", "CPF", "CPE", "CPA", "CDE"], case_sensitive=False)


@contextmanager
def _card_app() -> Iterator[None]:
    """The provider app's context, with card refusals turned into one-line errors."""
    from ..credentials.card_chip import ChipError
    from ..credentials.cards import CardError
    from ..pki import PkiError
    from .cli import _app

    app = _app(require_schema=True)
    with app.app_context():
        try:
            yield
        except CardError as exc:
            db.session.rollback()
            raise click.ClickException(str(exc)) from None
        except ChipError as exc:
            db.session.rollback()
            raise click.ClickException(exc.message) from None
        except PkiError as exc:
            db.session.rollback()
            raise click.ClickException(f"autorité de certification : {exc}") from None
        except OSError as exc:
            db.session.rollback()
            raise click.ClickException(f"{exc.filename or ''}: {exc.strerror or exc}"
                                       ) from None


def _issued_json(issued: Any, **extra: Any) -> dict[str, Any]:
    from ..credentials.cards import card_json

    data = card_json(issued.card, chip=True)
    data["folder"] = str(issued.folder)
    if issued.pin is not None:
        data["pin"] = issued.pin
    if issued.puk is not None:
        data["puk"] = issued.puk
    data.update(extra)
    return data


@click.group()
def card() -> None:
    """CPx cards of the emulated card issuer (virtual cards for ``card-reader``)."""


@card.command("issue")
@click.option("--national-id", required=True,
              help="The holder's national id in the directory (8+RPPS, 0+ADELI; structure "
                   "staff 3+FINESS/… or 5+SIRET/…, e.g. 30B0168811/CPET00001).")
@click.option("--type", "card_type", type=TYPES, default="CPS", show_default=True,
              help="CPS (professionals), CPF (students, interns), CPE/CPA (structure staff), "
                   "CDE (establishment director).")
@click.option("--structure", default=None,
              help="The structure's technical id (F+FINESS, R…, 3+SIRET): required for CPE, "
                   "CPA and CDE.")
@click.option("--pin", default=None, help="The card's PIN (4 digits); generated if absent.")
@click.option("--puk", default=None,
              help="The card's PUK, the unblocking code (8 digits); generated if absent.")
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Folder of the virtual card (empty or absent). Default: "
                   "<cards_dir>/<national id>-<type>.")
def card_issue(national_id: str, card_type: str, structure: str | None, pin: str | None,
               puk: str | None, out: Path | None) -> None:
    """Issue a card: its certificates, its chip (PIN, PUK) and the virtual card folder. Prints
    the card as JSON; ``pin``/``puk`` only when generated."""
    from ..credentials.cards import default_folder, issue_card

    with _card_app():
        folder = out if out is not None else default_folder(national_id, card_type)
        issued = issue_card(national_id=national_id.strip(), card_type=card_type.upper(),
                            structure=structure, pin=pin, puk=puk, out=folder)
        click.echo(dumps(_issued_json(issued)))


@card.command("list")
@click.option("--national-id", default=None, help="Only this holder's cards.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (one object per card).")
def card_list(national_id: str | None, as_json: bool) -> None:
    """Every card the issuer knows, by holder then date of issue."""
    from ..credentials.cards import card_json, list_cards

    with _card_app():
        cards = [card_json(c) for c in list_cards(national_id.strip() if national_id else None)]
    echo_listing(cards, as_json, _card_line)


def _card_line(c: dict[str, Any]) -> str:
    return (f"{c['serial']}  {c['type']}  {c['status']:8}  {c['national_id']:26} "
            f"{c['not_after']}  {c['folder']}")


@card.command("show")
@click.argument("serial")
def card_show(serial: str) -> None:
    """One card as JSON, with its chip's counters when its folder is readable."""
    from ..credentials.cards import CardError, card_json, get_card

    with _card_app():
        found = get_card(serial)
        if found is None:
            raise CardError(f"Aucune carte n° {serial!r}.")
        click.echo(dumps(card_json(found, chip=True)))


@card.command("lost")
@click.argument("serial")
def card_lost(serial: str) -> None:
    """Declare a card lost or stolen: revoked at once with its certificates (the very next
    login with it is refused). Replace it with ``card replace``."""
    from ..credentials.cards import card_json, declare_lost

    with _card_app():
        click.echo(dumps(card_json(declare_lost(serial.strip()))))


@card.command("renew")
@click.argument("serial")
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Folder of the new card (empty or absent). Default: the old card's folder, "
                   "rewritten in place.")
def card_renew(serial: str, out: Path | None) -> None:
    """Renew a card: a new card (new number, new certificates, 3 years) with the SAME PIN and
    PUK; the old one is replaced (its certificates revoked)."""
    from ..credentials.cards import renew_card

    _run_new(lambda: renew_card(serial.strip(), out), renewed=serial.strip())


@card.command("replace")
@click.argument("serial")
@click.option("--out", type=click.Path(path_type=Path), required=True,
              help="Folder of the new card (empty or absent, or the old card's folder).")
@click.option("--pin", default=None, help="The new card's PIN (4 digits); generated if absent.")
@click.option("--puk", default=None, help="The new card's PUK (8 digits); generated if absent.")
def card_replace(serial: str, out: Path, pin: str | None, puk: str | None) -> None:
    """Replace a lost, stolen or damaged card: a new card with NEW codes; the old one is
    revoked if it was not already."""
    from ..credentials.cards import replace_card

    _run_new(lambda: replace_card(serial.strip(), out, pin=pin, puk=puk),
             replaced=serial.strip())


def _run_new(make: Callable[[], Any], **extra: Any) -> None:
    with _card_app():
        issued = make()
        click.echo(dumps(_issued_json(issued, **extra)))
