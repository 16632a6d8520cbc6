"""Append-only audit rows: who, what, which client, when, outcome, request id.

Each row is ONE Core ``INSERT`` on the caller's session connection (``db.session.connection()``),
so it commits (or rolls back) with the work it describes, without the ORM's unit of work on the
hot path; nothing in the code updates or deletes them. Each row is also logged on one line: the
values a client chooses (``client_id``, a Basic user name, details) are escaped (``logline``), so
a newline in them cannot forge a second event in the log. ``X-Request-Id`` is taken from the
request only in a strict format (``REQUEST_ID``), else generated.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from datetime import datetime
from typing import Any

from flask import g, has_request_context, request
from sqlalchemy import JSON, DateTime, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ..db import db, utcnow
from ..prepared import Prepared
from .events import EVENTS
from .logline import escape

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


REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{8,40}")
"""A client's ``X-Request-Id`` kept as is: 8 to 40 (the column) of ``A-Z a-z 0-9 . _ -``
(UUIDs, hex ids, ULIDs); anything else is replaced by a fresh id."""


def request_id() -> str:
    """The id of the current HTTP request: ``X-Request-Id`` if sent in the ``REQUEST_ID``
    format, else generated (32 hex digits)."""
    if not has_request_context():
        return ""
    rid = g.get("request_id")
    if rid is None:
        # the WSGI environ, not request.headers: a missing header costs werkzeug an exception
        # (a BadRequestKeyError built and caught), on every request that sends none
        sent = request.environ.get("HTTP_X_REQUEST_ID", "")
        rid = g.request_id = sent if REQUEST_ID.fullmatch(sent) else uuid.uuid4().hex
    return rid


_INSERT = Prepared(AuditEvent.__table__.insert())


def record(event: str, outcome: str = "success", *, subject: str = "", client_id: str = "",
           **details: Any) -> None:
    """Insert one audit row in the current session's transaction (committed, or rolled back,
    with the caller's work)."""
    if event not in EVENTS:
        raise KeyError(f"unknown audit event {event!r}: add it to audit/events.py")
    ip = request.remote_addr or "" if has_request_context() else ""
    safe = json.loads(json.dumps(details, default=str))
    # Cut to the columns: an over-long client_id from a Basic header must not make the
    # database refuse the row (and the request with it).
    subject, client_id = str(subject or "")[:40], str(client_id or "")[:200]
    rid = request_id()
    _INSERT.execute({
        "at": utcnow(), "event": event, "outcome": outcome, "subject": subject,
        "client_id": client_id, "request_id": rid, "ip": ip[:64], "details": safe})
    if log.isEnabledFor(logging.INFO):  # the line's escaping is not free: only when kept
        log.info("%s %s subject=%s client=%s request=%s %s", event, outcome, escape(subject),
                 escape(client_id), rid,
                 escape(json.dumps(safe, ensure_ascii=False, separators=(",", ":"))))
