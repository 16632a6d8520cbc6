"""One append-only trail of every authentication, token and credential event.

Traceability is a PSC promise: who signed in where, when, how, and what was refused.
"""

from .events import EVENTS
from .trail import AuditEvent, record

__all__ = ["EVENTS", "AuditEvent", "record"]
