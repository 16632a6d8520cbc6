"""The interaction's state changes through one guarded Core UPDATE each.

``UPDATE oidc_interaction SET state = :new, … WHERE uid = :uid AND state = :expected``: the
row count decides, so of two submissions of one login form arriving at once exactly one moves
the interaction on (and issues the code); the other finds it no longer in the state it read
and gets the login's "expired" page. Pending ORM changes of the interaction's ``data`` and
``authenticator`` travel in the same statement (no extra flush), and the ORM object is told
the new values without a reload.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy import inspect
from sqlalchemy.orm.attributes import set_committed_value

from ..db import db
from .models import Interaction

_TABLE = Interaction.__table__
_CARRIED = ("data", "authenticator")
"""Columns the login pages change on the object before a transition (``_save_data``)."""


def advance(interaction: Any, expected: str, new: str, **values: Any) -> bool:
    """Move ``interaction`` from ``expected`` to ``new`` if it is still ``expected`` in the
    database; True for the one request that did (its pending ``data``/``authenticator`` are
    written along). False: the caller rolls back and answers the "expired" page."""
    changes = dict(values)
    state = inspect(interaction, raiseerr=False)
    if state is not None and state.persistent:
        for name in _CARRIED:
            if name not in changes and state.attrs[name].history.has_changes():
                changes[name] = getattr(interaction, name)
    changes["state"] = new
    done = db.session.execute(
        sa.update(_TABLE).where(_TABLE.c.uid == interaction.uid, _TABLE.c.state == expected)
        .values(changes)).rowcount == 1
    if done and state is not None and state.persistent:
        for name, value in changes.items():
            set_committed_value(interaction, name, value)
    return done


def insert(interaction: Interaction) -> None:
    """The new interaction as one Core INSERT (no unit of work): the object stays transient
    for the page that was rendered from it; later requests load the row."""
    db.session.execute(sa.insert(_TABLE).values(
        uid=interaction.uid, client_id=interaction.client_id, params=interaction.params,
        csrf_token=interaction.csrf_token, browser_binding=interaction.browser_binding,
        state=interaction.state, authenticator=interaction.authenticator or "",
        data=interaction.data or {}, created_at=interaction.created_at,
        expires_at=interaction.expires_at))
