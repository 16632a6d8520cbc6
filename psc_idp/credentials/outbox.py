"""Sending one-time codes: every message is handed to each registered sender (SMTP, an SMS
gateway...) and lands in the outbox table (shown by the admin API and page in demo/test mode).

The senders get the message as written, code included. What the table keeps depends on the
mode: in demo/test the whole text (the virtual e-CPS app and the tests read the codes there);
in production the code is masked (``MASK``) before the row is written: a database reader must
not find a live activation code, and the activation keeps only its keyed digest."""

from __future__ import annotations

import logging
from collections.abc import Callable

from flask import current_app

from ..db import db
from .models import OutboxMessage

log = logging.getLogger("psc_idp.outbox")

Sender = Callable[[OutboxMessage], None]


MASK = "[masqué]"


def send(channel: str, recipient: str, subject: str, body: str, national_id: str = "",
         secret: str = "") -> OutboxMessage:
    """Deliver ``body`` through every sender, then keep it in the outbox, with ``secret``
    (the one-time code in it) masked outside demo/test."""
    provider = current_app.extensions["psc_idp"]
    message = OutboxMessage(channel=channel, recipient=recipient, subject=subject, body=body,
                            national_id=national_id)
    senders: list[Sender] = getattr(provider, "senders", [])
    for deliver in senders:
        try:
            deliver(message)
        except Exception:  # a gateway failure must not lose the message: it stays in the outbox
            log.exception("sender %r failed for a %s message", deliver, channel)
            message.delivered = False
    if secret and not provider.settings.emulation_enabled:
        message.body = body.replace(secret, MASK)
    db.session.add(message)
    return message


def messages_for(recipient: str | None = None, national_id: str | None = None,
                 limit: int = 50) -> list[OutboxMessage]:
    query = db.select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(limit)
    if recipient:
        query = query.where(OutboxMessage.recipient == recipient)
    if national_id:
        query = query.where(OutboxMessage.national_id == national_id)
    return list(db.session.scalars(query))
