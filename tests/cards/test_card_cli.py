"""The ``psc-idp card`` command-line contract (README, docs/cards.md), run as outside scripts
run it: the console script in a subprocess, configured by ``PSC_IDP_*`` variables only. Every
answer is JSON; every refusal one line and a non-zero exit, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from psc_idp.credentials import card_chip
from tests.cards.cardkit import GP
from tests.cli import test_cli_contract
from tests.cli.test_cli_contract import Cli, Result, _refused, copied_instance

seeded = test_cli_contract.seeded  # fixture: one `psc-idp init` for the module


@pytest.fixture
def cli(seeded: Path, tmp_path: Path) -> Cli:
    """``psc-idp card ...`` on a copy of the seeded instance, its cards in ``cards/``."""
    return copied_instance(seeded, tmp_path, "card", PSC_IDP_CARDS__CARDS_DIR="{folder}/cards")


def _ok(result: Result):
    assert result.rc == 0, result
    return result.json()


def test_the_card_lifecycle_from_the_command_line(cli, tmp_path):
    first = _ok(cli("issue", "--national-id", GP, "--out", str(tmp_path / "a")))
    assert len(first["serial"]) == 10 and first["serial"].isdigit()
    assert first["type"] == "CPS" and first["national_id"] == GP
    assert first["status"] == "active" and first["not_after"].endswith("Z")
    assert first["holder"] == {"family_name": "LEROY", "given_name": "Camille"}
    assert len(first["pin"]) == 4 and len(first["puk"]) == 8  # generated: printed once
    assert first["folder"] == str(tmp_path / "a")
    assert first["chip"]["pin_tries_left"] == 3
    card_chip.Chip.open(tmp_path / "a").verify_pin(first["pin"])

    second = _ok(cli("issue", "--national-id", GP, "--type", "cps", "--pin", "1234",
                     "--puk", "12345678", "--out", str(tmp_path / "b")))
    assert "pin" not in second and "puk" not in second  # chosen: never printed

    listed = _ok(cli("list", "--json"))
    assert [c["serial"] for c in listed] == [first["serial"], second["serial"]]
    assert _ok(cli("list", "--national-id", "810000000000", "--json")) == []
    text = cli("list")
    assert text.rc == 0 and first["serial"] in text.out and "active" in text.out

    with pytest.raises(card_chip.WrongPin):
        card_chip.Chip.open(tmp_path / "b").verify_pin("0000")
    shown = _ok(cli("show", second["serial"]))
    assert shown["chip"] == {"readable": True, "pin_tries_left": 2, "puk_tries_left": 10,
                             "blocked": False, "puk_blocked": False}

    renewed = _ok(cli("renew", second["serial"], "--out", str(tmp_path / "c")))
    assert renewed["renewed"] == second["serial"] and renewed["serial"] != second["serial"]
    assert "pin" not in renewed
    card_chip.Chip.open(tmp_path / "c").verify_pin("1234")  # same codes
    old = _ok(cli("show", second["serial"]))
    assert old["status"] == "replaced" and old["replaced_by"] == renewed["serial"]

    lost = _ok(cli("lost", first["serial"]))
    assert lost["status"] == "revoked" and lost["revoked_at"]
    replaced = _ok(cli("replace", first["serial"], "--out", str(tmp_path / "d")))
    assert replaced["replaced"] == first["serial"] and len(replaced["pin"]) == 4
    card_chip.Chip.open(tmp_path / "d").verify_pin(replaced["pin"])
    assert _ok(cli("show", first["serial"]))["replaced_by"] == replaced["serial"]


def test_issue_without_out_uses_the_cards_dir(cli):
    issued = _ok(cli("issue", "--national-id", GP, "--pin", "1234", "--puk", "12345678"))
    assert issued["folder"] == str(cli.folder / "cards" / f"{GP}-cps")
    again = _ok(cli("issue", "--national-id", GP, "--pin", "1234", "--puk", "12345678"))
    assert again["folder"] == str(cli.folder / "cards" / f"{GP}-cps-2")


def test_refusals_are_one_line(cli, tmp_path):
    _refused(cli("issue", "--national-id", "899999999999", "--out", str(tmp_path / "x")),
             "annuaire")
    _refused(cli("issue", "--national-id", GP, "--pin", "12", "--out", str(tmp_path / "x")),
             "4 chiffres")
    _refused(cli("issue", "--national-id", GP, "--type", "CPE", "--out", str(tmp_path / "x")),
             "--structure")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "file").write_text("x")
    _refused(cli("issue", "--national-id", GP, "--out", str(tmp_path / "full")), "pas vide")
    _refused(cli("show", "0000000000"), "Aucune carte")
    _refused(cli("lost", "0000000000"), "Aucune carte")
    _refused(cli("replace", "0000000000"), "--out")
    _refused(cli("issue", "--national-id", GP, "--type", "XYZ"), "XYZ")
    assert not (tmp_path / "x").exists()
