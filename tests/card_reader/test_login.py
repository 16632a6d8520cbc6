"""``card-reader login`` end to end: a real provider (HTTP) and its client-certificate listener
(TLS), a real card folder, the console script in a subprocess. The card is presented in a
real TLS handshake; the provider checks it against the emulated IGC-Santé and its register."""

from __future__ import annotations

import contextlib
import datetime as dt
import subprocess
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.card_reader.conftest import PIN, CardSetup
from tests.psc_actions import DEMO_CLIENT

Run = Callable[..., subprocess.CompletedProcess[str]]
REDIRECT_URI = DEMO_CLIENT[2]


def _login(run_reader: Run, folder: Path, url: str, pin: str = PIN, *extra: str,
           spawn: bool = False) -> subprocess.CompletedProcess[str]:
    return run_reader("--card", str(folder), "login", "--authorize-url", url, "--pin", pin,
                      *extra, spawn=spawn)


def _last_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = result.stdout.strip().splitlines()
    assert lines, (result.returncode, result.stderr)
    return lines[-1]


@pytest.mark.one_backend
def test_login_prints_the_code_redirect_and_the_tokens_say_card(card_setup: CardSetup,
                                                                run_reader: Run):
    folder = card_setup.issue()
    psc, rp, start = card_setup.authorize_url()
    # no --ca-file: the provider's trust anchor comes from card.json. The console script in a
    # subprocess: the installed command's contract (the other tests run it in-process).
    result = _login(run_reader, folder, start.url, spawn=True)
    assert result.returncode == 0, result.stderr
    callback = _last_line(result)
    assert callback.startswith(REDIRECT_URI + "?")
    params = parse_qs(urlsplit(callback).query)
    assert params["code"] and params["state"] == [start.state]
    token = psc.tokens(rp, start, callback)
    access = psc.verify(token["access_token"])
    assert access["authMode"] == "CARD"
    assert access["preferred_username"] == "810099900010"


@pytest.mark.one_backend
def test_login_with_an_explicit_ca_file(card_setup: CardSetup, run_reader: Run):
    folder = card_setup.issue()
    _, _, start = card_setup.authorize_url()
    result = _login(run_reader, folder, start.url, PIN, "--ca-file", card_setup.ca_file)
    assert result.returncode == 0, result.stderr
    assert "code=" in _last_line(result)


@pytest.mark.one_backend
def test_wrong_pin_exits_3_with_the_tries_left(card_setup: CardSetup, run_reader: Run):
    folder = card_setup.issue()
    _, _, start = card_setup.authorize_url()
    result = _login(run_reader, folder, start.url, "9999")
    assert result.returncode == 3
    assert "Code PIN erroné : il reste 2 essais." in result.stderr
    assert "code=" not in result.stdout
    status = run_reader("--card", str(folder), "status")
    assert '"pin_tries_left": 2' in status.stdout


@pytest.mark.one_backend
def test_blocked_card_abandons_and_the_rp_gets_access_denied(card_setup: CardSetup,
                                                             run_reader: Run):
    folder = card_setup.issue()
    for _ in range(2):
        _, _, start = card_setup.authorize_url()
        assert _login(run_reader, folder, start.url, "0000").returncode == 3
    _, _, start = card_setup.authorize_url()
    third = _login(run_reader, folder, start.url, "0000")  # blocks the chip now
    assert third.returncode == 4, third.stderr
    assert "Carte bloquée : débloquez-la avec le code PUK (card-reader unblock)." in \
        third.stderr
    back = _last_line(third)
    assert back.startswith(REDIRECT_URI + "?")
    assert parse_qs(urlsplit(back).query)["error"] == ["access_denied"]
    assert parse_qs(urlsplit(back).query)["state"] == [start.state]

    _, _, start = card_setup.authorize_url()
    already = _login(run_reader, folder, start.url, PIN)  # already blocked: right PIN too
    assert already.returncode == 4
    assert parse_qs(urlsplit(_last_line(already)).query)["error"] == ["access_denied"]


def test_lost_card_is_refused_with_the_providers_reason(card_setup: CardSetup,
                                                        run_reader: Run):
    folder = card_setup.issue()
    card_setup.lost(folder)
    _, _, start = card_setup.authorize_url()
    result = _login(run_reader, folder, start.url)
    assert result.returncode == 5, result.stderr
    assert "Carte refusée (" in result.stderr
    reason = result.stderr.split("Carte refusée (", 1)[1].split(")", 1)[0]
    assert reason == "card_revoked"
    assert "perdue ou volée" in result.stderr
    assert "code=" not in result.stdout


def _other_ca(folder: Path) -> str:
    """The root of another local TEST authority: it vouches for nothing the provider serves."""
    from psc_idp.pki import LocalPki

    return str(LocalPki(folder).root().cert_path)


@pytest.mark.one_backend
def test_untrusted_server_exits_6_in_french(card_setup: CardSetup, run_reader: Run,
                                            tmp_path: Path):
    folder = card_setup.issue()
    _, _, start = card_setup.authorize_url()
    result = _login(run_reader, folder, start.url, PIN, "--ca-file",
                    _other_ca(tmp_path / "other-pki"))
    assert result.returncode == 6, result.stderr
    assert "TLS" in result.stderr and "Traceback" not in result.stderr
    assert '"pin_tries_left": 3' in run_reader("--card", str(folder), "status").stdout


@pytest.mark.one_backend
def test_provider_refusal_before_the_card_step_exits_1_with_its_sentence(
        card_setup: CardSetup, run_reader: Run):
    folder = card_setup.issue()
    base = card_setup.provider.base_url
    url = (f"{base}/auth?response_type=code&client_id=nobody&scope=openid&state=s"
           f"&redirect_uri={REDIRECT_URI}")
    result = _login(run_reader, folder, url)
    assert result.returncode == 1
    assert result.stderr.startswith("card-reader: ") and "Traceback" not in result.stderr
    no_redirect = _login(run_reader, folder, f"{base}/auth?client_id=psc-demo-rp")
    assert no_redirect.returncode == 2 and "redirect_uri" in no_redirect.stderr


@pytest.mark.one_backend
def test_a_card_blocked_for_good_abandons_too(card_setup: CardSetup, run_reader: Run):
    from psc_idp.credentials.card_chip import Chip, ChipError

    folder = card_setup.issue()
    chip = Chip.open(folder)
    for _ in range(10):
        with contextlib.suppress(ChipError):
            chip.unblock("00000000", "1111")
    _, _, start = card_setup.authorize_url()
    result = _login(run_reader, folder, start.url)
    assert result.returncode == 4
    assert "définitivement bloquée" in result.stderr
    assert parse_qs(urlsplit(_last_line(result)).query)["error"] == ["access_denied"]


@pytest.mark.one_backend
def test_a_provider_without_the_card_means_exits_1_with_its_page(
        make_card_setup: Callable[..., CardSetup], run_reader: Run):
    setup = make_card_setup(authenticators={"persona": {}, "ecps": {}})
    folder = setup.issue()
    _, _, start = setup.authorize_url()
    result = _login(run_reader, folder, start.url)
    assert result.returncode == 1, result.stderr
    assert "Connexion par carte impossible" in result.stderr, result.stderr
    assert '"pin_tries_left": 3' in run_reader("--card", str(folder), "status").stdout


def test_a_cpe_staff_card_signs_in_as_staff_of_its_structure(card_setup: CardSetup,
                                                             run_reader: Run):
    import json

    from psc_idp.db import db
    from psc_idp.directory.demo_data import CPE_STAFF_ID
    from psc_idp.directory.loader import load_demo_directory

    with card_setup.app.app_context():
        load_demo_directory(db.session, include_staff=True)  # the staff, as init loads them
    folder = card_setup.issue(CPE_STAFF_ID, "cpe", card_type="CPE", structure="F0B0168811")
    status = json.loads(run_reader("--card", str(folder), "status").stdout)
    assert (status["type"], status["national_id"]) == ("CPE", CPE_STAFF_ID)
    psc, rp, start = card_setup.authorize_url()
    result = _login(run_reader, folder, start.url)
    assert result.returncode == 0, result.stderr
    token = psc.tokens(rp, start, _last_line(result))
    access = psc.verify(token["access_token"])
    assert access["authMode"] == "CARD" and access["preferred_username"] == CPE_STAFF_ID
    info = rp.get(psc.metadata["userinfo_endpoint"]).json()
    assert info["SubjectOrganizationID"] == "F0B0168811"
    assert info["Palier_Authentification"].startswith("APPPRIP3")
    practice = info["SubjectRefPro"]["exercices"][0]
    assert practice["codeProfession"] == ""  # staff: no profession (reference §10)
    assert practice["activities"][0]["identifiantTechniqueDeLaStructure"] == "F0B0168811"


def test_an_expired_card_is_refused(card_setup: CardSetup, run_reader: Run):
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    folder = card_setup.issue(not_before=now - dt.timedelta(days=1100),
                              not_after=now - dt.timedelta(days=5))
    _, _, start = card_setup.authorize_url()
    result = _login(run_reader, folder, start.url)
    assert result.returncode == 5, result.stderr
    assert "Carte refusée (expired) : Votre carte CPx a expiré" in result.stderr


def test_a_card_type_the_provider_does_not_accept_is_refused(
        make_card_setup: Callable[..., CardSetup], run_reader: Run):
    setup = make_card_setup(cards={"accepted_types": ["CPF"]})
    folder = setup.issue()  # a CPS
    _, _, start = setup.authorize_url()
    result = _login(run_reader, folder, start.url)
    assert result.returncode == 5, result.stderr
    assert "Carte refusée (type_refused) : Ce service n'accepte pas les cartes CPS" in \
        result.stderr
