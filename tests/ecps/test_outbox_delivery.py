"""Where the activation codes go: the outbox (admin API and page, demo/test mode) and, when
``[smtp]`` names a server, a real SMTP server too. A dead SMTP server loses nothing."""

from __future__ import annotations

import re
import threading

import requests
from aiosmtpd.controller import Controller

from psc_idp.credentials.models import OutboxMessage
from psc_idp.db import db
from tests.conftest import free_port
from tests.ecps.test_mobile_api import GP


class Inbox:
    """aiosmtpd handler: keeps every message it is given."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], str]] = []
        self.arrived = threading.Event()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        self.messages.append((list(envelope.rcpt_tos), envelope.content.decode()))
        self.arrived.set()
        return "250 OK"


def _start_activation(live) -> dict:
    answer = requests.post(live.base_url + "/api/mobile/v1/activations",
                           json={"national_id": GP}, timeout=10)
    assert answer.status_code == 201, answer.text
    return answer.json()


def _codes(live) -> dict[str, str]:
    messages = requests.get(live.base_url + "/api/admin/outbox", params={"national_id": GP},
                            timeout=10).json()["messages"]
    return {m["channel"]: re.search(r"\b(\d{6})\b", m["body"]).group(1) for m in messages}


def test_outbox_page_shows_the_codes(live):
    _start_activation(live)
    codes = _codes(live)
    assert set(codes) == {"email", "sms"}
    page = requests.get(live.base_url + "/admin/outbox", params={"national_id": GP}, timeout=10)
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    assert len(re.findall(r'<tr class="message"', page.text)) == 2
    for code in codes.values():
        assert code in page.text
    other = requests.get(live.base_url + "/admin/outbox", params={"national_id": "810099900119"},
                         timeout=10)
    assert 'id="outbox-empty"' in other.text


def test_smtp_delivers_the_email_code(make_live):
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        live = make_live(smtp={"host": "127.0.0.1", "port": port,
                               "from_address": "psc-idp@test.example"})
        _start_activation(live)
        assert inbox.arrived.wait(10)
        (recipients, content), = inbox.messages
        assert _codes(live)["email"] in content
        assert "From: psc-idp@test.example" in content
        with live.app.app_context():
            email = db.session.scalar(db.select(OutboxMessage).where(
                OutboxMessage.channel == "email"))
            assert recipients == [email.recipient] and email.delivered is True
    finally:
        controller.stop()


def test_a_dead_smtp_server_loses_nothing(make_live):
    live = make_live(smtp={"host": "127.0.0.1", "port": free_port(), "timeout": 2.0})
    start = _start_activation(live)  # still accepted
    codes = _codes(live)
    assert set(codes) == {"email", "sms"}
    with live.app.app_context():
        email = db.session.scalar(db.select(OutboxMessage).where(
            OutboxMessage.channel == "email"))
        assert email.delivered is False
    verified = requests.post(
        f"{live.base_url}/api/mobile/v1/activations/{start['activation_id']}/verify",
        json={"email_code": codes["email"], "sms_code": codes["sms"]}, timeout=10)
    assert verified.status_code == 200 and verified.json()["activation_token"]
