"""The login's session writes as single Core statements (no unit of work): a new session's
row, and the link recording that a client was served in it.

The ORM ``IdpSession`` stays the object callers hold (``current_session`` loads it, the
logout paths change it); a session created here is a transient ``IdpSession`` whose row was
inserted at once, so the link that follows (foreign key) and the code find it.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from ..prepared import Prepared, request_connection
from .models import IdpSession, SessionClient

_SESSION = IdpSession.__table__
_LINK = SessionClient.__table__
_COLUMNS = tuple(c.name for c in _SESSION.columns)
_INSERT_SESSION = Prepared(_SESSION.insert())
_TOUCH_LINK = Prepared(_LINK.update()
                       .where(_LINK.c.session_id == sa.bindparam("b_session"),
                              _LINK.c.client_id == sa.bindparam("b_client"))
                       .values(last_at=sa.bindparam("b_now")))
_INSERT_LINK = {
    name: Prepared(builder(_LINK).on_conflict_do_nothing(
        index_elements=["session_id", "client_id"]))
    for name, builder in (("postgresql", postgresql.insert), ("sqlite", sqlite.insert))}
"""The link's conflict-proof INSERT per dialect, built once."""


def insert_session(session: IdpSession) -> None:
    """INSERT the new session's row from the (transient) object's values."""
    _INSERT_SESSION.execute({
        name: getattr(session, name) for name in _COLUMNS if name in session.__dict__})


def link_client(session_id: str, client_id: str, now: datetime, *, new_session: bool) -> None:
    """Record ``client_id`` as served in the session: one INSERT for a session created in this
    request; else refresh the link's ``last_at``, inserting it (conflict-proof: two requests
    at once) when the client is new to the session."""
    connection = request_connection()
    if not new_session:
        touched = _TOUCH_LINK.execute({
            "b_session": session_id, "b_client": client_id, "b_now": now}, connection).rowcount
        if touched:
            return
    _INSERT_LINK[connection.dialect.name].execute({
        "session_id": session_id, "client_id": client_id, "first_at": now, "last_at": now},
        connection)
