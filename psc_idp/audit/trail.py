"""Append-only audit rows: who, what, which client, when, outcome, request id.

Rows are added to the caller's database session so they commit (or roll back) with the work they
describe; nothing in the code updates or deletes them.
"""

from __future__ import annotations

import json
import logging
import uuid
from datetime import datetime
from typing import Any

from flask import g, has_request_context, request
from sqlalchemy import JSON, DateTime, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ..db import db, utcnow
from .events import EVENTS

log = logging.getLogger("psc_idp.audit")


class AuditEvent(db.Model):
    __tablename__ = "audit_event"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    event: Mapped[str] = mapped_column(String(40), index=True)
    outcome: Mapped[str] = mapped_column(String(20))
    """success, failure or info."""
    subject: Mapped[str] = mapped_column(String(40), default="", index=True)
    """The professional's national identifier, when known."""
    client_id: Mapped[str] = mapped_column(String(200), default="")
    request_id: Mapped[str] = mapped_column(String(40), default="")
    ip: Mapped[str] = mapped_column(String(64), default="")
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


def request_id() -> str:
    """The id of the current HTTP request (``X-Request-Id`` if sent, else generated)."""
    if not has_request_context():
        return ""
    if "request_id" not in g:
        sent = request.headers.get("X-Request-Id", "")[:40]
        g.request_id = sent or uuid.uuid4().hex
    return g.request_id


def record(event: str, outcome: str = "success", *, subject: str = "", client_id: str = "",
           **details: Any) -> AuditEvent:
    """Add one audit row to the current session (committed with the caller's work)."""
    if event not in EVENTS:
        raise KeyError(f"unknown audit event {event!r}: add it to audit/events.py")
    ip = request.remote_addr or "" if has_request_context() else ""
    safe = json.loads(json.dumps(details, default=str))
    row = AuditEvent(event=event, outcome=outcome, subject=subject or "",
                     client_id=client_id or "", request_id=request_id(), ip=ip, details=safe)
    db.session.add(row)
    log.info("%s %s subject=%s client=%s %s", event, outcome, subject, client_id, safe)
    return row
