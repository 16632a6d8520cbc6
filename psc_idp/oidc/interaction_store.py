"""The interaction's row through prebuilt Core statements: load, insert, guarded transitions.

``UPDATE oidc_interaction SET state = :new, … WHERE uid = :uid AND state = :expected``: the
row count decides, so of two submissions of one login form arriving at once exactly one moves
the interaction on (and issues the code); the other finds it no longer in the state it read
and gets the login's "expired" page. Pending ORM changes of the interaction's ``data`` and
``authenticator`` travel in the same statement (no extra flush), and the ORM object is told
the new values without a reload.

``load`` reads the row with one prebuilt SELECT and attaches an ``Interaction`` built from it
to the session as persistent (no identity-map lookup, no ORM loading machinery): the login
pages keep an ORM object whose ``data``/``authenticator`` assignments are written at commit.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy import inspect
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from ..db import db
from ..prepared import Prepared
from .models import Interaction

_TABLE = Interaction.__table__
_COLUMNS = tuple(c.name for c in _TABLE.columns)
_CARRIED = ("data", "authenticator")
"""Columns the login pages change on the object before a transition (``_save_data``)."""

_SELECT = Prepared(sa.select(*_TABLE.c).where(_TABLE.c.uid == sa.bindparam("b_uid")))
_INSERT = Prepared(_TABLE.insert())
_ADVANCE: dict[tuple[str, ...], Prepared] = {}
"""Guarded UPDATEs by the set of columns they write (a handful: built once each)."""


def _advance_statement(names: tuple[str, ...]) -> Prepared:
    statement = _ADVANCE.get(names)
    if statement is None:
        statement = Prepared(_TABLE.update()
                             .where(_TABLE.c.uid == sa.bindparam("b_uid"),
                                    _TABLE.c.state == sa.bindparam("b_expected"))
                             .values({name: sa.bindparam("v_" + name) for name in names}))
        _ADVANCE[names] = statement
    return statement


def load(uid: str) -> Interaction | None:
    """The interaction ``uid`` as a persistent ORM object (None if unknown); the one already
    in this session, if any, is returned as it is."""
    present = db.session.identity_map.get(
        (Interaction, (uid,), None))  # type: ignore[arg-type]
    if present is not None:
        return present  # type: ignore[return-value]
    row = _SELECT.execute({"b_uid": uid}).first()
    if row is None:
        return None
    interaction = Interaction(**row._mapping)
    make_transient_to_detached(interaction)
    db.session.add(interaction)
    return interaction


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
    names = tuple(sorted(changes))
    parameters = {"v_" + name: changes[name] for name in names}
    parameters.update(b_uid=interaction.uid, b_expected=expected)
    done = _advance_statement(names).execute(parameters).rowcount == 1
    if done and state is not None and state.persistent:
        for name, value in changes.items():
            set_committed_value(interaction, name, value)
    return done


def insert(interaction: Interaction) -> None:
    """The new interaction as one Core INSERT (no unit of work): the object stays transient
    for the page that was rendered from it; later requests load the row."""
    _INSERT.execute({
        "uid": interaction.uid, "client_id": interaction.client_id,
        "params": interaction.params, "csrf_token": interaction.csrf_token,
        "browser_binding": interaction.browser_binding, "state": interaction.state,
        "authenticator": interaction.authenticator or "", "data": interaction.data or {},
        "created_at": interaction.created_at, "expires_at": interaction.expires_at})
