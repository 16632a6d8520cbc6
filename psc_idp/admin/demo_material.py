"""Demo material in a production database: found by ``serve``, removed by ``demo-data remove``.

A database initialised with ``psc-idp init --demo`` (demo or test mode) holds the two demo
clients, whose secrets are in the repository (``clients.DEMO_SERVICES``: anyone can
authenticate as them, e.g. introspect any token), and the demo personas, whose contact data is
in the repository too (their e-CPS can be activated by whoever reads the outbox or those
mailboxes). Served in production mode, that database would keep both. ``psc-idp serve``
therefore refuses to start in production while any is present, naming ``REMOVE_COMMAND``.

Demo material is recognised by identifier: the demo clients' ``client_id``s and the demo
personas' national identifiers (``directory.demo_data``). Removing a persona removes what
refers to it (practices, e-CPS devices and activations, sessions, grants and their tokens,
codes, consents: found from the schema's foreign keys); the audit trail stays (append-only).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..audit import record
from ..db import db
from ..directory.demo_data import ALL_DEMO_PERSONAS, DEMO_STRUCTURES
from .clients import DEMO_SERVICES, remove_client

REMOVE_COMMAND = "psc-idp demo-data remove"
DEMO_CLIENT_IDS = tuple(service[0] for service in DEMO_SERVICES)


def demo_national_ids() -> list[str]:
    return [p.national_id for p in ALL_DEMO_PERSONAS]


@dataclass
class DemoMaterial:
    clients: list[str] = field(default_factory=list)
    professionals: list[str] = field(default_factory=list)
    """National identifiers of the demo personas present."""

    def __bool__(self) -> bool:
        return bool(self.clients or self.professionals)

    def refusal(self) -> str:
        """Why production refuses this database, and the command that fixes it (French: an
        operator reads it)."""
        parts = []
        if self.clients:
            parts.append(f"les clients de démonstration {', '.join(self.clients)} (leurs "
                         f"secrets sont publics, dans le dépôt)")
        if self.professionals:
            parts.append(f"{len(self.professionals)} personas de démonstration (activables "
                         f"avec des coordonnées publiques)")
        return ("mode production : la base de données contient " + " et ".join(parts) +
                f". Retirez-les avec « {REMOVE_COMMAND} » (même configuration), puis "
                f"relancez.")


def find(session: Session) -> DemoMaterial:
    """The demo clients and personas in the database (none if the schema is not there yet)."""
    from ..directory.models import Professional
    from ..oidc.models import Client

    inspector = sa.inspect(session.get_bind())
    found = DemoMaterial()
    if inspector.has_table(Client.__tablename__):
        found.clients = list(session.scalars(
            sa.select(Client.client_id).where(Client.client_id.in_(DEMO_CLIENT_IDS))
            .order_by(Client.client_id)))
    if inspector.has_table(Professional.__tablename__):
        found.professionals = list(session.scalars(
            sa.select(Professional.national_id)
            .where(Professional.national_id.in_(demo_national_ids()))
            .order_by(Professional.national_id)))
    return found


def _doomed_conditions(root: sa.Table, condition: Any) -> dict[sa.Table, Any]:
    """For ``root`` rows matching ``condition``: every table whose rows refer to them (at any
    depth, by foreign key), with the condition selecting those rows."""
    doomed: dict[sa.Table, Any] = {root: condition}
    for table in db.metadata.sorted_tables:  # parents before children
        clauses = [fk.parent.in_(sa.select(fk.column).where(doomed[fk.column.table]))
                   for fk in table.foreign_keys
                   if fk.column.table in doomed and fk.column.table is not table]
        if clauses and table is not root:
            doomed[table] = sa.or_(*clauses)
    return doomed


def remove(session: Session) -> dict[str, Any]:
    """Delete the demo clients, the demo personas with every row referring to them, and the
    demo structures no one practises in any more. The caller commits."""
    from ..directory.models import Activity, Professional, Structure

    found = find(session)
    for client_id in found.clients:
        remove_client(client_id)  # audited as client.removed
    counts: dict[str, int] = {}
    if found.professionals:
        doomed = _doomed_conditions(Professional.__table__,
                                    Professional.national_id.in_(found.professionals))
        for table in reversed(db.metadata.sorted_tables):  # children before parents
            if table in doomed:
                result = session.execute(sa.delete(table).where(doomed[table]))
                if result.rowcount:
                    counts[table.name] = result.rowcount
    from ..rpps_plus.demo import forget_demo_habilitations, structure_references

    habilitations = forget_demo_habilitations(session, demo_national_ids())
    if habilitations:
        counts["structure_habilitation"] = habilitations
    structures = session.execute(sa.delete(Structure).where(
        Structure.technical_id.in_([s.technical_id for s in DEMO_STRUCTURES]),
        Structure.id.not_in(sa.select(Activity.structure_id)),
        *(Structure.id.not_in(refs) for refs in structure_references())))
    if structures.rowcount:
        counts[Structure.__tablename__] = structures.rowcount
    if found.professionals:
        record("directory.demo_removed", "success", removed=counts,
               national_ids=found.professionals)
    return {"clients": found.clients, "professionals": found.professionals, "rows": counts}
