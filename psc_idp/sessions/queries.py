"""Read side of IdP sessions: a professional's live sessions and the services in each.

Used by the session pages, the e-CPS app's session list, the admin API and the CLI, so that all
of them show the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from ..db import db, utcnow
from .models import IdpSession, SessionClient


@dataclass
class ServedClient:
    client_id: str
    name: str
    first_at: datetime
    last_at: datetime


@dataclass
class SessionView:
    session: IdpSession
    clients: list[ServedClient] = field(default_factory=list)

    def as_json(self) -> dict:
        s = self.session
        return {
            "sid": s.id, "auth_time": s.auth_time, "auth_mode": s.auth_mode, "acr": s.acr,
            "amr": list(s.amr or []), "authenticator": s.authenticator,
            "created_at": _iso(s.created_at), "last_seen_at": _iso(s.last_seen_at),
            "expires_at": _iso(s.expires_at),
            "clients": [{"client_id": c.client_id, "name": c.name, "first_at": _iso(c.first_at),
                         "last_at": _iso(c.last_at)} for c in self.clients],
        }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() + "Z" if value else None


def live_sessions(professional_id: int | None = None) -> list[SessionView]:
    """Sessions not ended nor past their lifetime, newest first (all, or one professional's)."""
    from ..oidc.models import Client

    query = db.select(IdpSession).where(IdpSession.ended_at.is_(None),
                                        IdpSession.expires_at > utcnow())
    if professional_id is not None:
        query = query.where(IdpSession.professional_id == professional_id)
    sessions = db.session.scalars(query.order_by(IdpSession.created_at.desc()).limit(500)).all()
    views = {s.id: SessionView(s) for s in sessions}
    if views:
        rows = db.session.execute(
            db.select(SessionClient, Client.name)
            .outerjoin(Client, Client.client_id == SessionClient.client_id)
            .where(SessionClient.session_id.in_(list(views)))
            .order_by(SessionClient.first_at)).all()
        for link, name in rows:
            views[link.session_id].clients.append(ServedClient(
                link.client_id, name or link.client_id, link.first_at, link.last_at))
    return list(views.values())
