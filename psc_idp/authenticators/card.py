"""CPx card: the professional presents the card in a TLS handshake on the client-certificate
listener (``mtls/``), as PSC's wallet host has the browser do through the CPS middleware.

The login page (``GET /login/<uid>/card``, main host) says "insérez votre carte" and points at
the TLS step on the listener (``{mtls_base}/login/<uid>/card/tls``, ``login/card_views.py``).
The handshake proves possession of the card's key, which the chip only uses after the PIN
(the chip's counter is authoritative: the virtual reader asks for the PIN, psc-idp never sees
it). So a card login is a hardware-protected key (``hwk``) on a smart card (``sc``) unlocked by
a PIN (``pin``): RFC 8176 ``sc``, ``pin``, ``hwk``; PSC's ``authMode`` ``CARD``, the eIDAS
level 3 of ``sessions.assurance.means_level`` (step-up and the access token's ``acr``).

State lives in ``ctx.data["card"]`` (saved with the interaction), never in this process: the
TLS step leaves there a single-use ticket (only its SHA-256), the checked card and a short
expiry; the browser brings the ticket back to the main host, where the login completes.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from typing import Any, ClassVar
from urllib.parse import quote

from werkzeug.datastructures import MultiDict

from .base import Authenticator, LoginContext, Outcome, StepResult

TICKET_LIFETIME = 120
"""Seconds between the TLS step and the browser's return with the ticket."""
MEANS_BLOCKED = "The professional's means of identification are blocked"


def _settings() -> Any:
    from flask import current_app

    return current_app.extensions["psc_idp"].settings


def ticket_digest(ticket: str) -> str:
    return hashlib.sha256(ticket.encode("utf-8", "surrogatepass")).hexdigest()


def step_url(uid: str) -> str:
    """Where the card is presented: the TLS step on the client-certificate listener."""
    return f"{_settings().mtls_base}/login/{quote(uid, safe='')}/card/tls"


def reader_url(uid: str) -> str:
    """The virtual card reader's page for people, told where to present the card."""
    return f"{_settings().cards.reader_url.rstrip('/')}/?step={quote(step_url(uid), safe='')}"


class CardAuthenticator(Authenticator):
    id: ClassVar[str] = "card"
    label: ClassVar[dict[str, str]] = {"fr": "Carte CPS", "en": "CPS card"}
    auth_mode: ClassVar[str] = "CARD"
    amr: ClassVar[tuple[str, ...]] = ("sc", "pin", "hwk")

    def begin(self, ctx: LoginContext) -> StepResult:
        card = ctx.data.get("card") or {}
        refused = card.get("refused") if isinstance(card, dict) else None
        return StepResult(Outcome.CHALLENGE, template="login/card.html", context={
            "card_step_url": step_url(ctx.interaction_uid),
            "card_reader_url": reader_url(ctx.interaction_uid),
            "card_refusal": refused if isinstance(refused, dict) else None})

    def resume(self, ctx: LoginContext, form: MultiDict[str, str]) -> StepResult:
        """Nothing is typed on this page: the card is presented on the listener."""
        return self.begin(ctx)

    # ------------------------------------------------------------------ the two steps
    def presented(self, ctx: LoginContext, checked: Any, chain_pem: list[str]) -> str:
        """The TLS step accepted ``checked`` (a ``CheckedCard``): keep it with a new
        single-use ticket (its digest only) and return the ticket for the browser."""
        ticket = secrets.token_urlsafe(32)
        ctx.data["card"] = {
            "ticket": ticket_digest(ticket), "expires": time.time() + TICKET_LIFETIME,
            "serial": checked.card_serial, "card_type": checked.card_type,
            "professional_id": checked.professional_id, "national_id": checked.national_id,
            "chain": chain_pem}
        return ticket

    def refused(self, ctx: LoginContext, reason: str, message_fr: str) -> None:
        """The TLS step refused the card: the card page on the main host then says why."""
        ctx.data["card"] = {"refused": {"reason": reason, "message": message_fr}}

    def redeem(self, ctx: LoginContext, ticket: str) -> tuple[str, dict[str, Any]]:
        """Check and spend the ticket the browser brought back: ("", card) or (problem, {}).

        The ticket is cleared whatever the outcome, so a second use always fails."""
        from ..secret_compare import same_secret

        card = ctx.data.get("card")
        if not isinstance(card, dict) or not isinstance(card.get("ticket"), str):
            return "card_ticket_used", {}
        ctx.data["card"] = {}
        if not same_secret(ticket_digest(ticket[:200]), card["ticket"]):
            return "card_ticket_wrong", {}
        if time.time() > float(card.get("expires") or 0):
            return "card_ticket_expired", {}
        return "", card

    def complete(self, card: dict[str, Any]) -> StepResult:
        """The authentication result for a card whose status was checked again just now."""
        from ..directory.lookup import get_professional

        professional = get_professional(int(card["professional_id"]))
        if professional is None:
            return StepResult(Outcome.FAILURE, message="card_unknown_holder")
        from ..directory.lookup import ENDED_ERROR_DESCRIPTION as ENDED
        from ..directory.lookup import login_refusal

        if refusal := login_refusal(professional, MEANS_BLOCKED, ENDED):  # or left the directory
            return StepResult(Outcome.FAILURE, error="access_denied", final=True,
                              message=refusal)
        return self.success(professional.id, professional.national_id)
