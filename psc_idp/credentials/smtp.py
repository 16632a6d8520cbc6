"""An outbox sender that also mails the e-mail one-time codes through an SMTP server.

Configured by ``[smtp]``; without a ``host`` it is not installed and the codes are only in the
outbox (demo/test read them there). A failure is logged by the outbox and marks the message
undelivered: the activation goes on (the professional can ask again).
"""

from __future__ import annotations

import smtplib
from email.message import EmailMessage

from ..config import SmtpSettings
from .models import OutboxMessage


class SmtpSender:
    def __init__(self, settings: SmtpSettings):
        self.settings = settings

    def __call__(self, message: OutboxMessage) -> None:
        if message.channel != "email":
            return
        s = self.settings
        mail = EmailMessage()
        mail["From"] = s.from_address
        mail["To"] = message.recipient
        mail["Subject"] = message.subject or "Pro Santé Connect"
        mail.set_content(message.body)
        with smtplib.SMTP(s.host, s.port, timeout=s.timeout) as server:
            if s.starttls:
                server.starttls()
            if s.username:
                server.login(s.username, s.password)
            server.send_message(mail)

    def __repr__(self) -> str:
        return f"SmtpSender({self.settings.host}:{self.settings.port})"
