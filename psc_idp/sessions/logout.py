"""Single logout: end an IdP session and tell every relying party it served.

Every way a session ends on purpose (RP-initiated logout, the session pages, the e-CPS app,
the admin API and CLI, another professional signing in on the same browser) goes through
``end_everywhere``, so they all fan out the same way:

- tokens of the session's grants are revoked, except ``offline_access`` ones (Keycloak keeps
  offline sessions apart from the SSO session);
- a back-channel delivery is queued for each RP with a ``backchannel_logout_uri``
  (``backchannel.py`` signs and POSTs the logout tokens, retrying with backoff);
- the front-channel URIs (``iss`` and ``sid`` added) are returned for the logout page's iframes.

Sessions that merely time out are not fanned out (Keycloak does not either); their refresh
tokens stop working because the refresh grant checks the session.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from authlib.common.urls import add_params_to_uri
from flask import current_app

from ..audit import record
from ..db import db, utcnow
from .models import IdpSession, LogoutDelivery, SessionClient
from .service import end_session

OFFLINE_SCOPE = "offline_access"


@dataclass
class LogoutOutcome:
    session_id: str
    frontchannel_uris: list[str] = field(default_factory=list)
    """Front-channel logout URIs with ``iss`` and ``sid``, for iframes on the logout page."""
    deliveries: list[str] = field(default_factory=list)
    """Ids of the queued back-channel deliveries (``backchannel.dispatch`` sends them)."""


def end_everywhere(session: IdpSession, reason: str) -> LogoutOutcome:
    """End ``session`` and prepare every RP's notification; the caller commits, then calls
    ``backchannel.dispatch(outcome)``."""
    from ..oidc.models import Client

    outcome = LogoutOutcome(session_id=session.id)
    if session.ended_at is not None and session.ended_reason not in ("expired", "idle"):
        return outcome  # already logged out and fanned out
    end_session(session, reason)
    revoke_session_grants(session.id)
    issuer = current_app.extensions["psc_idp"].settings.issuer
    served = db.session.execute(
        db.select(Client).join(SessionClient, SessionClient.client_id == Client.client_id)
        .where(SessionClient.session_id == session.id).order_by(SessionClient.first_at)
    ).scalars().all()
    subject = _subject(session)
    for client in served:
        if client.frontchannel_logout_uri:
            outcome.frontchannel_uris.append(add_params_to_uri(
                client.frontchannel_logout_uri, [("iss", issuer), ("sid", session.id)]))
        if client.backchannel_logout_uri:
            delivery = LogoutDelivery(
                id=str(uuid.uuid4()), session_id=session.id, client_id=client.client_id,
                uri=client.backchannel_logout_uri, subject=subject, status="pending",
                attempts=0, next_attempt_at=utcnow())
            db.session.add(delivery)
            outcome.deliveries.append(delivery.id)
    return outcome


def end_by_id(session_id: str, reason: str, *,
              professional_id: int | None = None) -> LogoutOutcome | None:
    """End a live session named by its ``sid`` (optionally: only if it is this professional's).
    None when there is no such live session."""
    session = db.session.get(IdpSession, session_id[:36]) if session_id else None
    if session is None or session.ended_at is not None:
        return None
    if professional_id is not None and session.professional_id != professional_id:
        return None
    return end_everywhere(session, reason)


def revoke_session_grants(session_id: str) -> int:
    """Revoke the session's grants (and so their tokens), keeping ``offline_access`` ones."""
    from ..oidc.models import Grant
    from ..oidc.tokens import revoke_grant

    grants = db.session.scalars(db.select(Grant).where(
        Grant.session_id == session_id, Grant.revoked_at.is_(None))).all()
    revoked = 0
    for grant in grants:
        if OFFLINE_SCOPE in grant.scope.split():
            continue
        revoke_grant(grant, "session_ended")
        revoked += 1
    if revoked:
        record("session.grants_revoked", "info", sid=session_id, grants=revoked)
    return revoked


def keep_alive_for_refresh(session_id: str) -> bool:
    """For refresh: a grant's SSO session must not have ended or reached its lifetime.

    A refresh counts as activity (Keycloak updates the session's last refresh), so an RP that
    keeps refreshing keeps the SSO session from going idle.
    """
    session = db.session.get(IdpSession, session_id)
    if session is None or session.ended_at is not None:
        return False
    now = utcnow()
    if now >= session.expires_at:
        return False
    session.last_seen_at = now
    return True


def _subject(session: IdpSession) -> str:
    from ..claims.userinfo import subject
    from ..directory.lookup import get_professional

    professional = get_professional(session.professional_id)
    settings = current_app.extensions["psc_idp"].settings
    return subject(professional, settings.oidc.federation_id) if professional else ""
