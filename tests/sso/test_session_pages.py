"""The professional's session page and the admin API: list sessions, end one (fan-out)."""

from __future__ import annotations

import re

import requests

from tests.psc_actions import GP, PscActions, query
from tests.sso.conftest import register

PAGE = "/account/sessions"


def _two_browsers(live):
    """The same professional signed in on two browsers, the first one to two services."""
    client_id, secret, redirect_uri = register(live.app, "mss", port=7401,
                                               name="Messagerie sécurisée")
    first, second = PscActions(live.issuer), PscActions(live.issuer)
    first.full_login()
    first.full_login(first.client(client_id, secret, redirect_uri))
    second.full_login()
    sids = [first.browser.cookies.get("PSC_IDP_SESSION"), second.browser.cookies.get(
        "PSC_IDP_SESSION")]
    assert all(sids)
    return first, second


def _sessions(page_html: str) -> dict[str, list[str]]:
    found = {}
    for sid, body in re.findall(r'<li class="session" data-sid="([^"]+)">(.*?)</form>',
                                page_html, re.S):
        found[sid] = re.findall(r'<li data-client-id="[^"]+">([^<]+)</li>', body)
    return found


def test_the_page_lists_sessions_and_ends_another_one(live):
    first, second = _two_browsers(live)
    page = first.browser.get(live.issuer + PAGE, timeout=10)
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    listed = _sessions(page.text)
    assert len(listed) == 2
    mine = next(sid for sid, body in re.findall(
        r'data-sid="([^"]+)">(.*?)</form>', page.text, re.S) if "this-browser" in body)
    other = next(sid for sid in listed if sid != mine)
    assert sorted(listed[mine]) == ["Dossier patient", "Messagerie sécurisée"]
    assert listed[other] == ["Dossier patient"]
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)

    forged = first.browser.post(live.issuer + PAGE, data={"csrf": "nope", "sid": other},
                                timeout=10, allow_redirects=False)
    assert forged.status_code == 400
    ended = first.browser.post(live.issuer + PAGE, data={"csrf": csrf, "sid": other},
                               timeout=10, allow_redirects=False)
    assert ended.status_code == 303
    # the other browser is signed out: prompt=none now needs a login
    start = second.start(second.client(), prompt="none")
    assert query(second.open(start.url).headers["Location"])["error"] == "login_required"
    again = first.browser.get(live.issuer + PAGE, timeout=10).text
    assert list(_sessions(again)) == [mine]
    csrf = re.search(r'name="csrf" value="([^"]+)"', again).group(1)  # a new one per page

    own = first.browser.post(live.issuer + PAGE, data={"csrf": csrf, "sid": mine}, timeout=10,
                             allow_redirects=False)
    assert own.status_code == 200 and 'id="logged-out"' in own.text
    assert first.browser.cookies.get("PSC_IDP_SESSION") is None
    empty = first.browser.get(live.issuer + PAGE, timeout=10)
    assert 'id="no-session"' in empty.text


def test_a_session_of_someone_else_cannot_be_ended_from_the_page(live):
    first, _ = _two_browsers(live)
    nurse = PscActions(live.issuer)
    nurse.full_login(national_id="810099900119")
    nurse_page = nurse.browser.get(live.issuer + PAGE, timeout=10).text
    csrf = re.search(r'name="csrf" value="([^"]+)"', nurse_page).group(1)
    gp_sid = next(iter(_sessions(first.browser.get(live.issuer + PAGE, timeout=10).text)))
    refused = nurse.browser.post(live.issuer + PAGE, data={"csrf": csrf, "sid": gp_sid},
                                 timeout=10, allow_redirects=False)
    assert refused.status_code == 400
    assert gp_sid in _sessions(first.browser.get(live.issuer + PAGE, timeout=10).text)


def test_admin_api_lists_and_ends_sessions(live):
    _two_browsers(live)
    api = live.base_url + "/api/admin/sessions"
    listed = requests.get(api, params={"national_id": GP}, timeout=10).json()["sessions"]
    assert len(listed) == 2
    assert {c["client_id"] for s in listed for c in s["clients"]} == {"psc-demo-rp", "mss"}
    sid = listed[0]["sid"]
    ended = requests.delete(f"{api}/{sid}", timeout=10)
    assert ended.status_code == 200 and ended.json()["ended"] is True
    assert requests.delete(f"{api}/{sid}", timeout=10).status_code == 404
    assert len(requests.get(api, params={"national_id": GP}, timeout=10).json()["sessions"]) == 1
    assert requests.get(api, params={"national_id": "nobody"}, timeout=10).json() == \
        {"sessions": []}
