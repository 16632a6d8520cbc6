"""What relying parties receive for the other card holders: structure staff (CPE, CPA, CDE) and
the CPF intern, over real HTTP on both backends.

Staff sign in with their structure national id (``30B0168811/CPET00001``,
``500000001815646/CPAT00045``): through test autologin (``login_hint``), through the persona
page, and through CIBA with ANS's sample ``login_hint``. Userinfo is checked in both shapes and
against the JSON Schema; the RP side is Authlib's ``OAuth2Session``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session
from sqlalchemy.orm import Session

from clients.ecps_app.phone import EcpsPhone
from psc_idp.claims import build_userinfo, other_ids, subject
from psc_idp.claims.schemas import validate_userinfo
from psc_idp.directory import demo_data
from psc_idp.directory.loader import load_demo_directory
from psc_idp.directory.lookup import find_by_identifier
from psc_idp.directory.national_id import national_id_from_rpps
from tests.autologin_live import autologin_callback, demo_live_with_shape_clients
from tests.claims.conftest import FEDERATION_ID
from tests.ecps.test_ciba import CibaRp, move_clock
from tests.psc_actions import DEMO_CLIENT, PscActions, query

CPE = demo_data.CPE_STAFF_ID
CPA = demo_data.CPA_STAFF_ID
CDE = demo_data.CDE_DIRECTOR_ID
CPF = national_id_from_rpps(demo_data.CPF_INTERN_RPPS)
REDIRECT = "http://127.0.0.1:5981/cb"
SHAPE_CLIENTS = {"2024": "staff-rp-2024", "2023": "staff-rp-2023"}

# national id -> (structure technical id, codeProfession, codeRole, otherIds origine)
EXPECTED = {
    CPE: (demo_data.HOSPITAL_TOURS, "", "FON-AU", "FINESS"),
    CPA: (demo_data.CENTRE_ACACIAS, "", "FON-AU", "SIRET"),
    CDE: (demo_data.HOSPITAL_TOURS, "", "FON-09", "FINESS"),
    CPF: (demo_data.HOSPITAL_LYON, "10", "FON-48", "RPPS"),
}


def _assert_claims(body: dict[str, Any], national_id: str, shape: str) -> None:
    """The checks every document for ``national_id`` passes, in either shape."""
    structure, profession, role, origin = EXPECTED[national_id]
    validate_userinfo(body, shape)
    assert body["SubjectNameID"] == body["preferred_username"] == national_id
    assert body["sub"].startswith("f:") and body["sub"].endswith(":" + national_id)
    assert body["otherIds"] == [{"identifiant": national_id, "origine": origin, "qualite": 1}]
    assert body["SubjectOrganizationID"] == structure and body["SubjectOrganization"]
    [exercice] = body["SubjectRefPro"]["exercices"]
    assert exercice["codeProfession"] == profession
    [activity] = exercice["activities"]
    assert activity["identifiantTechniqueDeLaStructure"] == structure
    assert activity["codeRole"] == role and activity["codeModeExercice"] == "S"
    if profession:
        assert exercice["codeCategorieProfessionnelle"] == "E"  # the intern: a student
        assert body["SubjectRole"] == ["10^1.2.250.1.213.1.1.5.5"]
    else:
        assert exercice["codeCategorieProfessionnelle"] == ""
        assert body["SubjectRole"] == []
        assert activity["codeGenreActivite"] == "GENR04"
    if shape == "2024":
        assert "authMode" not in body and set(body["SubjectRefPro"]) == {"exercices"}
    else:
        assert body["authMode"] == "CARD" and "codeCivilite" in body["SubjectRefPro"]


# ------------------------------------------------------------------------ pure claims


@pytest.mark.parametrize("shape", ["2024", "2023"])
@pytest.mark.parametrize("national_id", [CPE, CPA, CDE, CPF])
def test_built_userinfo_for_staff_and_intern(session: Session, national_id: str,
                                             shape: str) -> None:
    load_demo_directory(session, include_staff=True)
    professional = find_by_identifier(national_id)
    assert professional is not None
    sub = subject(professional, FEDERATION_ID)
    assert sub == f"f:{FEDERATION_ID}:{national_id}"
    body = build_userinfo(professional, sub=sub, auth_mode="CARD",
                          scopes="openid scope_all", shape=shape)
    _assert_claims(body, national_id, shape)
    assert other_ids(professional)[0]["identifiant"] == national_id
    minimal = build_userinfo(professional, sub=sub, auth_mode="CARD", scopes="openid",
                             shape=shape)
    validate_userinfo(minimal, shape)
    assert minimal["SubjectNameID"] == national_id and "SubjectRefPro" not in minimal


# ------------------------------------------------------------------------ over HTTP


@pytest.fixture
def staffed_live(make_live: Callable[..., Any]) -> Any:
    """A provider with the demo staff loaded and an autologin client per userinfo shape."""
    yield from demo_live_with_shape_clients(make_live, SHAPE_CLIENTS, REDIRECT)


def _autologin(psc: PscActions, national_id: str, shape: str
               ) -> tuple[OAuth2Session, dict[str, Any]]:
    rp, start, callback = autologin_callback(psc, SHAPE_CLIENTS[shape], REDIRECT, national_id)
    assert "code" in query(callback), callback
    return rp, psc.tokens(rp, start, callback)


@pytest.mark.parametrize("national_id", [CPE, CPA, CDE, CPF])
def test_code_flow_with_autologin_gives_what_psc_shows(staffed_live: Any,
                                                       national_id: str) -> None:
    psc = PscActions(staffed_live.issuer)
    for shape in ("2024", "2023"):
        rp, token = _autologin(psc, national_id, shape)
        id_token = psc.verify(token["id_token"])
        assert id_token["preferred_username"] == national_id
        assert id_token["sub"].endswith(":" + national_id)
        access = psc.verify(token["access_token"])
        assert access["preferred_username"] == national_id
        assert access["otherIds"] == [{"identifiant": national_id,
                                       "origine": EXPECTED[national_id][3], "qualite": 1}]
        answer = rp.get(psc.metadata["userinfo_endpoint"], timeout=10)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        _assert_claims(body, national_id, shape)
        assert body["sub"] == id_token["sub"]
        # introspection names the same identity
        info = requests.post(psc.metadata["introspection_endpoint"], timeout=10,
                             auth=(SHAPE_CLIENTS[shape], SHAPE_CLIENTS[shape] + "-secret"),
                             data={"token": token["access_token"]}).json()
        assert info["active"] is True and info["username"] == national_id


def test_staff_on_the_persona_page_and_their_session(staffed_live: Any) -> None:
    psc = PscActions(staffed_live.issuer)
    rp = psc.client()
    start = psc.start(rp)
    page = psc.open(start.url)
    assert page.status_code == 200
    for national_id in (CPE, CPA, CDE, CPF):
        assert f'data-national-id="{national_id}"' in page.text
    assert "carte CPA" in page.text and "carte CDE" in page.text
    assert 'maxlength="64"' in page.text  # a SIRET staff id is 25 characters
    # typed in the text field, lower case and grouped, as a person copies it
    done = psc.pick_persona(page, "5 00000001815646 / cpat00045")
    assert done.status_code == 302, done.text[:300]
    token = psc.tokens(rp, start, done.headers["Location"])
    body = rp.get(psc.metadata["userinfo_endpoint"], timeout=10).json()
    _assert_claims(body, CPA, "2024")
    # the professional's session page names them; RP logout with the staff id token works
    sessions = psc.browser.get(staffed_live.issuer + "/account/sessions", timeout=10)
    assert sessions.status_code == 200 and CPA in sessions.text
    logout = psc.browser.get(psc.metadata["end_session_endpoint"], timeout=10,
                             allow_redirects=False, params={"id_token_hint": token["id_token"]})
    assert logout.status_code == 200 and 'id="logged-out"' in logout.text, logout.text[:300]
    after = psc.browser.get(staffed_live.issuer + "/account/sessions", timeout=10)
    assert CPA not in after.text


def test_ciba_with_ans_sample_staff_login_hint(staffed_live: Any, tmp_path: Any) -> None:
    """ANS's Proxy e-Santé sends ``login_hint=500000001815646/CPAT00045``: the staff member's
    e-CPS (an e-CPE, seed 002) approves, the RP gets the staff identity."""
    psc = PscActions(staffed_live.issuer)
    home = tmp_path / "phone"
    # Workaround: the virtual phone files its state as <home>/<national id>.json, so the "/"
    # of a staff id names a folder it does not create (reported to the e-CPS app's owner).
    (home / CPA.split("/")[0]).mkdir(parents=True)
    phone = EcpsPhone(staffed_live.base_url, home, CPA)
    phone.activate("1234")
    rp = CibaRp(psc, OAuth2Session(DEMO_CLIENT[0], DEMO_CLIENT[1],
                                   token_endpoint_auth_method="client_secret_basic"))
    ack = rp.ack(login_hint=CPA)
    answered: dict[str, Any] = {}
    approver = threading.Thread(
        target=lambda: answered.update(phone.answer_next("approve", "1234", wait=15)))
    approver.start()
    move_clock(staffed_live, ack["interval"])
    token, _ = rp.wait_for_tokens(ack, staffed_live)
    approver.join(timeout=20)
    assert answered["status"] == "approved"
    assert psc.verify(token["id_token"])["preferred_username"] == CPA
    body = rp.session.get(psc.metadata["userinfo_endpoint"], timeout=10).json()
    assert body["SubjectNameID"] == CPA
    validate_userinfo(body, "2024")
    assert body["SubjectRefPro"]["exercices"][0]["codeProfession"] == ""
    # an unknown or malformed staff hint is refused as any unknown one
    refused = rp.backchannel(login_hint="500000001815647/CPAT00045")
    assert refused.status_code == 400 and refused.json()["error"] == "unknown_user_id"
