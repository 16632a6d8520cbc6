"""Single use under real parallel requests, on SQLite and PostgreSQL: a login form submitted
twice at once issues one code (the interaction's guarded transition), and an e-CPS request
answered twice at once is answered once (the challenge's conditional update)."""

from __future__ import annotations

import re

import requests

from clients.ecps_app.phone import EcpsPhone, PhoneError
from psc_idp.audit import AuditEvent
from psc_idp.db import db
from psc_idp.oidc.models import AuthorizationCode, Interaction
from tests.psc_actions import PscActions, query
from tests.served import fire

from .phone import GP, PIN, activated_phone

EXPIRED_FR = "Cette demande de connexion a expiré"


def _audit(live, event: str) -> list[AuditEvent]:
    with live.app.app_context():
        return list(db.session.scalars(db.select(AuditEvent).where(AuditEvent.event == event)))


def _browser_copy(browser: requests.Session) -> requests.Session:
    copy = requests.Session()
    copy.trust_env = False
    copy.cookies.update(browser.cookies)
    return copy


def _post_twice(url: str, browser: requests.Session, form: dict[str, str]
                ) -> list[requests.Response]:
    """The same form from the same browser twice, released at once."""
    browsers = [_browser_copy(browser) for _ in range(2)]
    return fire(2, lambda i: browsers[i].post(url, data=form, allow_redirects=False,
                                              timeout=30))


def _answer_twice(phone: EcpsPhone, pending: dict) -> list[object]:
    def answer(i: int) -> object:
        try:
            return phone.answer(pending, "approve", PIN)
        except PhoneError as exc:
            return exc

    return fire(2, answer)


def test_a_login_form_submitted_twice_at_once_issues_one_code(live):
    for _ in range(3):  # a few rounds: the race is real each time, the outcome the same
        psc = PscActions(live.issuer, browser=requests.Session())
        psc.browser.trust_env = False
        rp = psc.client()
        start = psc.start(rp)
        page = psc.open(start.url)
        action = re.search(r'<form method="post" action="(/login/([^/"]+)/persona)"', page.text)
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert action and csrf
        answers = _post_twice(live.base_url + action.group(1), psc.browser,
                              {"csrf": csrf.group(1), "national_id": GP})
        codes = sorted(a.status_code for a in answers)
        assert codes == [302, 400], [(a.status_code, a.text[:200]) for a in answers]
        [won] = [a for a in answers if a.status_code == 302]
        [lost] = [a for a in answers if a.status_code == 400]
        assert EXPIRED_FR in lost.text  # the login's French page, no 500
        assert query(won.headers["Location"])["state"] == start.state
        token = psc.tokens(rp, start, won.headers["Location"])
        assert "access_token" in token
        with live.app.app_context():
            row = db.session.get(Interaction, action.group(2))
            assert row.state == "done"
            assert db.session.query(AuthorizationCode).filter_by(
                session_id=query(won.headers["Location"])["session_state"]).count() == 1
    assert len(_audit(live, "login.success")) == 3


def test_an_ecps_request_answered_twice_at_once_is_answered_once(live, tmp_path):
    phone = activated_phone(live, tmp_path / "phone")
    for _ in range(3):
        psc = PscActions(live.issuer, browser=requests.Session())
        psc.browser.trust_env = False
        rp = psc.client()
        page = psc.open(psc.start(rp).url)
        uid = re.search(r'/login/([^/"]+)/', page.text).group(1)
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
        sent = psc.browser.post(f"{live.base_url}/login/{uid}/ecps",
                                data={"national_id": GP, "csrf": csrf}, allow_redirects=False,
                                timeout=10)
        assert sent.status_code == 303
        [pending] = phone.pending()
        results = _answer_twice(phone, pending)
        won = [r for r in results if isinstance(r, dict)]
        lost = [r for r in results if isinstance(r, PhoneError)]
        assert len(won) == 1 and won[0]["status"] == "approved", results
        assert len(lost) == 1 and lost[0].code == "challenge_closed" and lost[0].status == 409
        done = psc.browser.get(f"{live.base_url}/login/{uid}/ecps/finish",
                               allow_redirects=False, timeout=10)
        assert done.status_code == 302 and "code=" in done.headers["Location"]
    answered = _audit(live, "ecps.challenge_answered")
    assert len(answered) == 3 and {a.details["decision"] for a in answered} == {"approved"}
    assert phone.device()["status"] == "usable"  # a lost race is no wrong PIN
