"""``card-reader status | unblock | change-pin`` on a real card folder (the issuer's), through
the console script: the chip's counters are the card's own, whoever reads it."""

from __future__ import annotations

import contextlib
import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.card_reader.conftest import GP, PIN, PUK

Run = Callable[..., subprocess.CompletedProcess[str]]


def _status(run_reader: Run, folder: Path) -> dict:
    result = run_reader("--card", str(folder), "status")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.one_backend
def test_status_is_the_cards_public_data_and_counters(card_folder: Path, run_reader: Run):
    result = run_reader("--card", str(card_folder), "status", spawn=True)  # the console script
    assert result.returncode == 0, result.stderr
    status = json.loads(result.stdout)
    assert set(status) == {"serial", "type", "national_id", "not_after", "pin_tries_left",
                           "puk_tries_left", "blocked"}
    assert status["type"] == "CPS" and status["national_id"] == GP
    assert status["serial"] and status["not_after"].startswith("20")
    assert (status["pin_tries_left"], status["puk_tries_left"], status["blocked"]) == (3, 10,
                                                                                       False)


@pytest.mark.one_backend
def test_change_pin_checks_the_old_one_and_the_new_one_works(card_folder: Path,
                                                             run_reader: Run):
    card = ["--card", str(card_folder)]
    wrong = run_reader(*card, "change-pin", "--pin", "9999", "--new-pin", "4321")
    assert wrong.returncode == 3
    assert "Code PIN erroné : il reste 2 essais." in wrong.stderr
    assert _status(run_reader, card_folder)["pin_tries_left"] == 2

    changed = run_reader(*card, "change-pin", "--pin", PIN, "--new-pin", "4321")
    assert changed.returncode == 0, changed.stderr
    assert "modifié" in changed.stdout
    assert _status(run_reader, card_folder)["pin_tries_left"] == 3  # a right PIN resets
    old = run_reader(*card, "change-pin", "--pin", PIN, "--new-pin", "5555")
    assert old.returncode == 3  # the old PIN is gone
    again = run_reader(*card, "change-pin", "--pin", "4321", "--new-pin", PIN)
    assert again.returncode == 0, again.stderr


@pytest.mark.one_backend
def test_three_wrong_pins_block_and_the_puk_unblocks(card_folder: Path, run_reader: Run):
    card = ["--card", str(card_folder)]
    codes = [run_reader(*card, "change-pin", "--pin", "0000", "--new-pin", "1111")
             for _ in range(3)]
    assert [c.returncode for c in codes] == [3, 3, 4]
    assert "il reste 1 essai." in codes[1].stderr
    assert "Carte bloquée : débloquez-la avec le code PUK (card-reader unblock)." in \
        codes[2].stderr
    assert _status(run_reader, card_folder)["blocked"] is True
    # blocked: even the right PIN is refused
    right = run_reader(*card, "change-pin", "--pin", PIN, "--new-pin", "1111")
    assert right.returncode == 4 and "Carte bloquée" in right.stderr

    bad_puk = run_reader(*card, "unblock", "--puk", "87654321", "--new-pin", "2468")
    assert bad_puk.returncode == 3 and "Code PUK erroné : il reste 9 essais." in bad_puk.stderr
    unblocked = run_reader(*card, "unblock", "--puk", PUK, "--new-pin", "2468")
    assert unblocked.returncode == 0, unblocked.stderr
    assert "débloquée" in unblocked.stdout
    status = _status(run_reader, card_folder)
    assert (status["blocked"], status["pin_tries_left"], status["puk_tries_left"]) == (
        False, 3, 10)
    assert run_reader(*card, "change-pin", "--pin", "2468", "--new-pin", PIN).returncode == 0


@pytest.mark.one_backend
def test_usage_errors_exit_2_and_touch_nothing(card_folder: Path, run_reader: Run,
                                               tmp_path: Path):
    no_card = run_reader("status")
    assert no_card.returncode == 2 and "--card" in no_card.stderr
    short = run_reader("--card", str(card_folder), "change-pin", "--pin", "12",
                       "--new-pin", "4321")
    assert short.returncode == 2 and "4 chiffres" in short.stderr
    assert _status(run_reader, card_folder)["pin_tries_left"] == 3  # no try spent
    missing = run_reader("--card", str(tmp_path / "nowhere"), "status")
    assert missing.returncode == 1 and "Aucune carte" in missing.stderr
    assert "Traceback" not in missing.stderr + short.stderr + no_card.stderr


@pytest.mark.one_backend
def test_ten_wrong_puks_block_the_card_for_good(card_folder: Path, run_reader: Run):
    from psc_idp.credentials.card_chip import Chip, ChipError

    chip = Chip.open(card_folder)
    for _ in range(10):
        with contextlib.suppress(ChipError):
            chip.unblock("00000000", "1111")
    unblock = run_reader("--card", str(card_folder), "unblock", "--puk", PUK,
                         "--new-pin", "2468")
    assert unblock.returncode == 4
    assert "définitivement bloquée" in unblock.stderr
    status = _status(run_reader, card_folder)
    assert status["puk_tries_left"] == 0
    pin = run_reader("--card", str(card_folder), "change-pin", "--pin", PIN, "--new-pin",
                     "2468")
    assert pin.returncode == 4
