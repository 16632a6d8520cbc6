"""Consent, as Keycloak's per-client "Consent required" switch gives it.

PSC's clients do not ask for consent (no such page in the captures), so it is off unless a
client is registered with ``--consent-required``. Then the professional approves the requested
scopes once per client; ``prompt=consent`` asks again; ``prompt=none`` answers
``consent_required`` when approval is missing (OIDC Core §3.1.2.6).
"""

from __future__ import annotations

from flask import Response, request

from ..audit import record
from ..db import db, utcnow
from ..html import html_page
from ..login.i18n import pick_locale, translator
from ..secret_compare import same_secret
from .client_cache import ClientView
from .models import Consent, Interaction

CONSENT_STATE = "consent"
"""``Interaction.state`` while the consent page waits for the professional."""


def needs_consent(client: ClientView, professional_id: int, scope: str, prompt: set[str]) -> bool:
    if not client.consent_required:
        return False
    if "consent" in prompt:
        return True
    granted = db.session.get(Consent, (professional_id, client.client_id))
    return granted is None or not set(scope.split()) <= set(granted.scope.split())


def remember_consent(client_id: str, professional_id: int, scope: str) -> None:
    granted = db.session.get(Consent, (professional_id, client_id))
    if granted is None:
        db.session.add(Consent(professional_id=professional_id, client_id=client_id, scope=scope,
                               granted_at=utcnow()))
    else:
        granted.scope = " ".join(dict.fromkeys(granted.scope.split() + scope.split()))
        granted.granted_at = utcnow()


def consent_page(interaction: Interaction, client: ClientView, status: int = 200) -> Response:
    locale = pick_locale(interaction.params.get("ui_locales", ""))
    return html_page("consent.html", status, interaction=interaction, client=client,
                     lang=locale, t=translator(locale),
                     scopes=[s for s in interaction.params.get("scope", "").split() if s])


def consent_answer(uid: str) -> Response:
    """POST from the consent page: approve (remember, then issue the code) or refuse."""
    from .authorize import (
        complete_after_consent,
        fail_interaction,
        interaction_belongs_to_browser,
    )
    from .errors import error_page
    from .server import query_client

    interaction = db.session.get(Interaction, uid[:64]) if uid else None
    if interaction is None or interaction.state != CONSENT_STATE or \
            utcnow() >= interaction.expires_at or not interaction_belongs_to_browser(interaction):
        return error_page("invalid_request", "Unknown or expired consent request.", 400)
    client = query_client(interaction.client_id)  # the client cache, as authorize's steps
    sent = request.form.get("csrf", "")
    if client is None or not same_secret(sent, interaction.csrf_token):
        record("consent.refused", "failure", client_id=interaction.client_id, reason="csrf")
        db.session.commit()
        return error_page("invalid_request", "Invalid consent form.", 400)
    result = interaction.data.get("consent_for", {})
    if request.form.get("decision") != "approve":
        record("consent.refused", subject=result.get("national_id", ""),
               client_id=client.client_id)
        return fail_interaction(interaction, "access_denied", "Consent refused")
    # what the client is granted (the realm's default scopes included), as needs_consent asks
    scope = client.get_allowed_scope(interaction.params.get("scope", ""))
    remember_consent(client.client_id, result["professional_id"], scope)
    record("consent.granted", subject=result.get("national_id", ""), client_id=client.client_id,
           scope=scope)
    return complete_after_consent(interaction)
