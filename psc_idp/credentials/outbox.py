"""Sending one-time codes: every message lands in the outbox table (shown by the admin API in
demo/test mode) and is handed to each registered sender (SMTP, an SMS gateway...)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from flask import current_app

from ..db import db
from .models import OutboxMessage

log = logging.getLogger("psc_idp.outbox")

Sender = Callable[[OutboxMessage], None]


def send(channel: str, recipient: str, subject: str, body: str, national_id: str = ""
         ) -> OutboxMessage:
    message = OutboxMessage(channel=channel, recipient=recipient, subject=subject, body=body,
                            national_id=national_id)
    db.session.add(message)
    senders: list[Sender] = getattr(current_app.extensions["psc_idp"], "senders", [])
    for deliver in senders:
        try:
            deliver(message)
        except Exception:  # a gateway failure must not lose the message: it stays in the outbox
            log.exception("sender %r failed for a %s message", deliver, channel)
            message.delivered = False
    return message


def messages_for(recipient: str | None = None, national_id: str | None = None,
                 limit: int = 50) -> list[OutboxMessage]:
    query = db.select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(limit)
    if recipient:
        query = query.where(OutboxMessage.recipient == recipient)
    if national_id:
        query = query.where(OutboxMessage.national_id == national_id)
    return list(db.session.scalars(query))
