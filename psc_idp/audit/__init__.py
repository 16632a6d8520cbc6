"""One append-only trail of every authentication, token and credential event (PSC's traceability)."""

from .events import EVENTS
from .trail import AuditEvent, record

__all__ = ["EVENTS", "AuditEvent", "record"]
