"""The login's session writes as single Core statements (no unit of work): a new session's
row, and the link recording that a client was served in it.

The ORM ``IdpSession`` stays the object callers hold (``current_session`` loads it, the
logout paths change it); a session created here is a transient ``IdpSession`` whose row was
inserted at once, so the link that follows (foreign key) and the code find it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from ..db import db
from .models import IdpSession, SessionClient

_SESSION = IdpSession.__table__
_LINK = SessionClient.__table__
_COLUMNS = tuple(c.name for c in _SESSION.columns)


def insert_session(session: IdpSession) -> None:
    """INSERT the new session's row from the (transient) object's values."""
    db.session.execute(sa.insert(_SESSION).values(
        {name: getattr(session, name) for name in _COLUMNS if name in session.__dict__}))


def link_client(session_id: str, client_id: str, now: datetime, *, new_session: bool) -> None:
    """Record ``client_id`` as served in the session: one INSERT for a session created in this
    request; else refresh the link's ``last_at``, inserting it (conflict-proof: two requests
    at once) when the client is new to the session."""
    if not new_session:
        touched = db.session.execute(sa.update(_LINK).where(
            _LINK.c.session_id == session_id, _LINK.c.client_id == client_id)
            .values(last_at=now)).rowcount
        if touched:
            return
    db.session.execute(_insert_link().values(session_id=session_id, client_id=client_id,
                                             first_at=now, last_at=now))


def _insert_link() -> Any:
    dialect = db.session.get_bind().dialect.name
    builder = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return builder(_LINK).on_conflict_do_nothing(index_elements=["session_id", "client_id"])
