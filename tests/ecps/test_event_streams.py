"""Server-Sent Events: the phone's stream of pending logins and the login page's status stream.

Both run over real HTTP (SQLite and PostgreSQL). Streams are bounded: a provider with short
``ecps.stream_max_duration`` / ``stream_heartbeat`` shows the ``end`` event and the heartbeats
without long waits. Nothing here asserts a duration.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import pytest
import requests

from clients.ecps_app.phone import EcpsPhone, PhoneError, read_events
from psc_idp import sse
from tests.ecps.test_mobile_api import GP, NURSE, PIN, push_login
from tests.ecps.test_push_login import ecps_login

SHORT = {"ecps": {"stream_max_duration": 2, "stream_heartbeat": 1}}
"""Streams that end on their own soon: the ``end`` event and heartbeats, quickly."""
QUICK_BEAT = {"ecps": {"stream_max_duration": 30, "stream_heartbeat": 1}}
"""Streams a test reads then leaves: the provider notices at the next heartbeat or two."""


@pytest.fixture
def short_live(make_live):
    yield make_live(**SHORT)
    assert sse.wait_until_closed(timeout=15), "an event stream is still open"


@pytest.fixture
def live(make_live):
    """Before the server stops and its database pool closes: every stream has ended (the
    provider notices a client gone at the next heartbeat write)."""
    yield make_live(**QUICK_BEAT)
    assert sse.wait_until_closed(timeout=15), "an event stream is still open"


def _phone(live, tmp_path, national_id: str = GP, name: str = "phone") -> EcpsPhone:
    phone = EcpsPhone(live.base_url, tmp_path / name, national_id)
    phone.activate(PIN)
    return phone


def _raw_stream(url: str, **headers: str) -> requests.Response:
    return requests.get(url, headers={"Accept": "text/event-stream", **headers}, stream=True,
                        timeout=(5, 30))


# ----------------------------------------------------------------------------- the phone
def test_phone_stream_sends_the_pending_logins_as_they_change(live, tmp_path):
    phone = _phone(live, tmp_path)
    events = phone.stream()
    name, body = next(events)
    assert name == "challenges" and body == {"device_status": "usable", "challenges": []}

    challenge_id = push_login(live, GP, service="Dossier patient", binding_code="42")
    name, body = next(events)
    [pushed] = body["challenges"]
    assert name == "challenges" and pushed["challenge_id"] == challenge_id
    assert pushed["service_name"] == "Dossier patient" and pushed["binding_code"] == "42"

    assert phone.answer(pushed, "approve", PIN)["status"] == "approved"
    name, body = next(events)
    assert name == "challenges" and body["challenges"] == []
    events.close()  # the client goes away; the provider's generator is closed


def test_phone_stream_is_bounded_and_has_heartbeats(short_live, tmp_path):
    phone = _phone(short_live, tmp_path)
    token = phone._load()["device_token"]
    with _raw_stream(short_live.base_url + "/api/mobile/v1/challenges/stream",
                     Authorization=f"Bearer {token}") as response:
        assert response.status_code == 200
        assert response.headers["Content-Type"].startswith("text/event-stream")
        assert response.headers["Cache-Control"] == "no-store"
        text = response.text  # the provider ends the stream: this returns
    assert text.startswith("retry: ")
    assert ": heartbeat" in text
    assert list(read_events_from(text)) == [
        ("challenges", {"device_status": "usable", "challenges": []}),
        ("end", {"reason": "max_duration"})]


def test_phone_stream_ends_when_the_device_is_revoked(live, tmp_path):
    phone = _phone(live, tmp_path)
    other = _phone(live, tmp_path, name="second")
    events = phone.stream()
    assert next(events)[0] == "challenges"
    other.revoke(phone.device()["device_id"])
    assert next(events) == ("end", {"reason": "device_revoked"})
    with pytest.raises(PhoneError) as refused:
        next(phone.stream())
    assert refused.value.status == 401 and refused.value.code == "invalid_token"


@pytest.mark.one_backend
def test_phone_stream_needs_a_device_token(live):
    answer = _raw_stream(live.base_url + "/api/mobile/v1/challenges/stream",
                         Authorization="Bearer nope")
    assert answer.status_code == 401 and answer.json()["error"] == "invalid_token"
    answer = _raw_stream(live.base_url + "/api/mobile/v1/challenges/stream")
    assert answer.status_code == 401


def test_phone_stream_shows_only_its_professionals_logins(live, tmp_path):
    phone = _phone(live, tmp_path)
    events = phone.stream()
    assert next(events)[1]["challenges"] == []
    push_login(live, NURSE)  # another professional: nothing for this phone
    mine = push_login(live, GP)
    name, body = next(events)
    assert [c["challenge_id"] for c in body["challenges"]] == [mine]
    events.close()


def test_a_client_leaving_mid_stream_is_no_server_error(live, tmp_path, caplog):
    phone = _phone(live, tmp_path)
    token = phone._load()["device_token"]
    caplog.set_level(logging.WARNING)
    for _ in range(3):
        response = _raw_stream(live.base_url + "/api/mobile/v1/challenges/stream",
                               Authorization=f"Bearer {token}")
        next(read_events(response))
        response.close()
    # the provider still answers, and logged no failure of a stream
    assert phone.device()["status"] == "usable"
    push_login(live, GP)
    assert len(phone.pending()) == 1
    assert not [r for r in caplog.records if r.name.startswith("psc_idp")
                and r.levelno >= logging.ERROR]


# ----------------------------------------------------------------------------- the login page
def test_login_events_push_the_phones_answer(live, tmp_path):
    phone = _phone(live, tmp_path)
    login = ecps_login(live)
    page = login.push()
    assert f'data-events-url="/login/{login.uid}/ecps/events"' in page.text
    response = login.psc.browser.get(f"{live.base_url}/login/{login.uid}/ecps/events",
                                     stream=True, timeout=(5, 30),
                                     headers={"Accept": "text/event-stream"})
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/event-stream")
    events = read_events(response)
    name, body = next(events)
    assert name == "status" and body["status"] == "pending" and body["challenge"] == "pending"
    assert 0 < body["expires_in"] <= 120

    phone.answer_next("approve", PIN, wait=5)
    name, body = next(events)
    assert (name, body) == ("status", {"status": "success", "challenge": "approved",
                                       "next": login.finish_url})
    assert list(events) == []  # the stream ends after the decision
    # the stream completes nothing: finish does
    done = login.finish()
    assert done.status_code == 302 and "code=" in done.headers["Location"]


def test_login_events_report_a_denial(live, tmp_path):
    phone = _phone(live, tmp_path)
    login = ecps_login(live)
    login.push()
    phone.answer_next("deny", PIN, wait=5)
    response = login.psc.browser.get(f"{live.base_url}/login/{login.uid}/ecps/events",
                                     stream=True, timeout=(5, 30))
    assert list(read_events(response)) == [
        ("status", {"status": "failure", "challenge": "denied", "next": login.finish_url})]


def test_login_events_are_bounded(short_live, tmp_path):
    _phone(short_live, tmp_path)
    login = ecps_login(short_live)
    login.push()
    response = login.psc.browser.get(f"{short_live.base_url}/login/{login.uid}/ecps/events",
                                     stream=True, timeout=(5, 30))
    text = response.text
    assert ": heartbeat" in text
    names = [name for name, _ in read_events_from(text)]
    assert names == ["status", "end"]


def test_login_events_answer_only_the_browser_of_the_login(live, tmp_path):
    _phone(live, tmp_path)
    login = ecps_login(live)
    login.push()
    stranger = requests.get(f"{live.base_url}/login/{login.uid}/ecps/events", timeout=10)
    assert stranger.status_code == 400
    assert not stranger.headers["Content-Type"].startswith("text/event-stream")
    unknown = login.psc.browser.get(f"{live.base_url}/login/nope/ecps/events", timeout=10)
    assert unknown.status_code == 400


@pytest.mark.one_backend
def test_waiting_page_script_prefers_event_source(live, tmp_path):
    _phone(live, tmp_path)
    login = ecps_login(live)
    login.push()
    script = requests.get(live.base_url + "/static/ecps-wait.js", timeout=10).text
    assert "EventSource" in script and "?wait=" in script  # the stream, and the fallback
    assert re.search(r"data-events-url", script)


def read_events_from(text: str) -> list[tuple[str, dict[str, Any]]]:
    class Body:
        def iter_lines(self, chunk_size: int, decode_unicode: bool) -> Any:
            return iter(text.split("\n"))

    return list(read_events(Body()))  # type: ignore[arg-type]
