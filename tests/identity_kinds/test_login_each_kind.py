"""Each identity kind through a full login, over real HTTP on both backends.

The RP side is Authlib's ``OAuth2Session``: authorization code flow with PKCE, tokens, userinfo
in both shapes (a client per ``userinfo_shape``), each document validated against the JSON
Schema (``docs/psc-userinfo.schema.json``) and the access token against its own. Logins go
through test autologin (``login_hint``), the persona page (the ADELI and EDIT ids typed by
hand) and CIBA (``login_hint`` with each kind, approved on the virtual e-CPS phone). A person
who left the directory is refused everywhere, like one whose means are blocked.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session

from clients.ecps_app.phone import EcpsPhone
from psc_idp.db import db
from psc_idp.directory import demo_data
from psc_idp.directory.lookup import ENDED as ENDED_KEY
from psc_idp.directory.lookup import ENDED_ERROR_DESCRIPTION
from psc_idp.directory.national_id import national_id_from_rpps
from tests.autologin_live import autologin_callback, demo_live_with_shape_clients
from tests.ecps.test_ciba import CibaRp, move_clock
from tests.identity_kinds.kinds import KINDS, check_access_token, check_userinfo
from tests.psc_actions import DEMO_CLIENT, PscActions, query

REDIRECT = "http://127.0.0.1:5982/cb"
SHAPE_CLIENTS = {"2024": "kinds-rp-2024", "2023": "kinds-rp-2023"}
ENDED = national_id_from_rpps(demo_data.ENDED_RPPS)
BLOCKED = national_id_from_rpps(demo_data.BLOCKED_RPPS)


@pytest.fixture
def kinds_live(make_live: Callable[..., Any]) -> Iterator[Any]:
    """A provider with every demo identity loaded and an autologin client per shape."""
    yield from demo_live_with_shape_clients(make_live, SHAPE_CLIENTS, REDIRECT)


def _autologin(psc: PscActions, national_id: str, shape: str) -> tuple[OAuth2Session, Any]:
    rp, start, callback = autologin_callback(psc, SHAPE_CLIENTS[shape], REDIRECT, national_id)
    return rp, (start, callback)


def test_each_kind_through_the_code_flow_in_both_shapes(kinds_live: Any) -> None:
    psc = PscActions(kinds_live.issuer)
    for name, kind in KINDS.items():
        for shape in SHAPE_CLIENTS:
            rp, (start, callback) = _autologin(psc, kind.national_id, shape)
            assert "code" in query(callback), (name, callback)
            token = psc.tokens(rp, start, callback)
            id_token = psc.verify(token["id_token"])
            assert id_token["preferred_username"] == kind.national_id, name
            check_access_token(psc.verify(token["access_token"]), kind)
            answer = rp.get(psc.metadata["userinfo_endpoint"], timeout=10)
            assert answer.status_code == 200, (name, answer.text)
            body = answer.json()
            check_userinfo(body, kind, shape)
            assert body["sub"] == id_token["sub"]


def test_adeli_and_edit_typed_on_the_persona_page(kinds_live: Any) -> None:
    psc = PscActions(kinds_live.issuer)
    first = psc.open(psc.start(psc.client()).url)
    assert first.status_code == 200
    for name in KINDS:  # the page lists every kind, each with its description
        assert f'data-national-id="{KINDS[name].national_id}"' in first.text, name
    assert "numéro ADELI" in first.text and "Identité de test EDIT" in first.text
    # typed as people copy them: grouped digits, the EDIT prefix in lower case
    for name, typed in (("adeli", "0 339 400 127"), ("edit", "ans 2024 0312 101500")):
        rp = psc.client()
        start = psc.start(rp)
        page = psc.open(start.url)
        done = psc.pick_persona(page, typed)
        assert done.status_code == 302, done.text[:300]
        psc.tokens(rp, start, done.headers["Location"])
        body = rp.get(psc.metadata["userinfo_endpoint"], timeout=10).json()
        check_userinfo(body, KINDS[name], "2024")
        psc.browser.cookies.clear()  # the next one signs in afresh


def _phone(live: Any, home: Path, national_id: str) -> EcpsPhone:
    if "/" in national_id:
        # The virtual phone files its state as <home>/<national id>.json: a staff id's "/"
        # names a folder it does not create (see tests/claims/test_staff_claims.py).
        (home / national_id.split("/")[0]).mkdir(parents=True, exist_ok=True)
    phone = EcpsPhone(live.base_url, home, national_id)
    phone.activate("1234")
    return phone


def test_ciba_login_hint_with_each_kind(kinds_live: Any, tmp_path: Path) -> None:
    psc = PscActions(kinds_live.issuer)
    rp = CibaRp(psc, OAuth2Session(DEMO_CLIENT[0], DEMO_CLIENT[1],
                                   token_endpoint_auth_method="client_secret_basic"))
    for name, kind in KINDS.items():
        phone = _phone(kinds_live, tmp_path / name, kind.national_id)
        ack = rp.ack(login_hint=kind.national_id)
        answered: dict[str, Any] = {}
        approver = threading.Thread(
            target=lambda p=phone, a=answered: a.update(p.answer_next("approve", "1234",
                                                                      wait=15)))
        approver.start()
        move_clock(kinds_live, ack["interval"])
        token, _ = rp.wait_for_tokens(ack, kinds_live)
        approver.join(timeout=20)
        assert answered["status"] == "approved", name
        assert psc.verify(token["id_token"])["preferred_username"] == kind.national_id
        check_access_token(psc.verify(token["access_token"]), kind)
        body = rp.session.get(psc.metadata["userinfo_endpoint"], timeout=10).json()
        check_userinfo(body, kind, "2024")


def test_ended_person_is_refused_like_a_blocked_one(kinds_live: Any, tmp_path: Path) -> None:
    psc = PscActions(kinds_live.issuer)
    outcomes: dict[str, tuple[int, str]] = {}
    for national_id in (ENDED, BLOCKED):
        # test autologin does not sign a refused person in: the login page is shown instead
        client_id = SHAPE_CLIENTS["2024"]
        rp = psc.client(client_id, client_id + "-secret", REDIRECT)
        page = psc.open(psc.start(rp, login_hint=national_id).url)
        assert page.status_code == 200 and f'data-national-id="{national_id}"' in page.text
        # picking the persona there is refused, the RP gets access_denied
        refused = psc.pick_persona(page, national_id)
        outcomes[national_id] = (refused.status_code, refused.headers.get("Location", ""))
        psc.browser.cookies.clear()
    ended_status, ended_location = outcomes[ENDED]
    blocked_status, blocked_location = outcomes[BLOCKED]
    assert ended_status == blocked_status == 302
    assert query(ended_location)["error"] == query(blocked_location)["error"] == "access_denied"
    assert query(ended_location)["error_description"] == ENDED_KEY  # like means_blocked
    assert query(blocked_location)["error_description"] == "means_blocked"
    # CIBA: refused at the backchannel request, as blocked means are
    ciba = CibaRp(psc, OAuth2Session(DEMO_CLIENT[0], DEMO_CLIENT[1],
                                     token_endpoint_auth_method="client_secret_basic"))
    answer = ciba.backchannel(login_hint=ENDED)
    assert answer.status_code in (400, 403), answer.text
    assert answer.json() == {"error": "access_denied",
                             "error_description": ENDED_ERROR_DESCRIPTION}
    blocked = ciba.backchannel(login_hint=BLOCKED)
    assert (blocked.status_code, blocked.json()["error"]) == (answer.status_code,
                                                              "access_denied")


def test_a_person_ended_after_signing_in_loses_access(kinds_live: Any) -> None:
    """Ended while signed in (a newer import): userinfo and refresh answer as for a disabled
    user, and the browser's session no longer signs them in silently."""
    psc = PscActions(kinds_live.issuer)
    national_id = KINDS["edit"].national_id
    rp = psc.client(scope="openid scope_all offline_access")
    _, token = psc.full_login(rp, national_id)
    assert rp.get(psc.metadata["userinfo_endpoint"], timeout=10).status_code == 200
    with kinds_live.app.app_context():
        from sqlalchemy import update

        from psc_idp.directory.models import Professional

        today = kinds_live.app.extensions["psc_idp"].clock.now().date()
        db.session.execute(update(Professional).where(Professional.national_id == national_id)
                           .values(ended_on=today))
        db.session.commit()
    answer = rp.get(psc.metadata["userinfo_endpoint"], timeout=10)
    assert answer.status_code == 401, answer.text
    refreshed = requests.post(psc.metadata["token_endpoint"], timeout=10,
                              auth=DEMO_CLIENT[:2],
                              data={"grant_type": "refresh_token",
                                    "refresh_token": token["refresh_token"]})
    assert refreshed.status_code == 400 and refreshed.json()["error"] == "invalid_grant"
    # SSO: the same browser is asked to sign in again instead of getting a code
    again = psc.open(psc.start(psc.client()).url)
    assert again.status_code == 200 and "data-national-id" in again.text


def test_no_ecps_activation_for_a_person_who_left_the_directory(kinds_live: Any) -> None:
    """Neither activation method starts for an ended person (nothing sent to their contacts),
    as for blocked means: an e-CPS they could never sign in with would be a dead end."""
    for method in ("contact", "card"):
        answer = requests.post(f"{kinds_live.base_url}/api/mobile/v1/activations", timeout=10,
                               json={"national_id": ENDED, "method": method})
        assert answer.status_code == 403, answer.text
        assert answer.json()["error"] == "professional_ended"
