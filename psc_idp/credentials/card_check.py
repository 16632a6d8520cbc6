"""Is the presented CPx card acceptable? One answer for the card login and the e-CPS activation.

Why one function: the TLS step of a card login (``authenticators``' card means) and the
activation of an e-CPS with a card must refuse the same cards for the same reasons, with the
same French sentence for the professional. The order follows what a person can act on: the
certificate chain first (another authority, expired, revoked...), then the card as its issuer
knows it (lost, replaced), then whether this service takes that card type, then the holder in
the directory. Callers audit the refusal with their own event (``card.refused`` at login,
``ecps.card_proof_refused`` at activation); here it is only logged.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from flask import current_app, has_app_context

from ..db import db
from ..directory.models import Professional
from .models import Card

log = logging.getLogger(__name__)

MESSAGES: dict[str, str] = {
    "no_certificate": "Aucune carte n'a été présentée : insérez votre carte CPx dans le lecteur, "
                      "saisissez votre code PIN, puis réessayez.",
    "unknown_authority": "Cette carte n'a pas été émise par l'IGC-Santé reconnue par ce "
                         "service : utilisez votre carte CPx ou votre e-CPS.",
    "expired": "Votre carte CPx a expiré : demandez son renouvellement, ou connectez-vous "
               "avec votre e-CPS.",
    "not_yet_valid": "Votre carte CPx n'est pas encore valide : réessayez à partir de sa date "
                     "de début de validité.",
    "revoked": "Le certificat de votre carte CPx a été révoqué : la carte ne peut plus être "
               "utilisée.",
    "wrong_usage": "Le certificat présenté n'est pas celui d'authentification d'une carte CPx.",
    "malformed": "Le certificat présenté par la carte est illisible ou incohérent.",
    "unknown_card": "Cette carte est inconnue du service d'émission des cartes CPx.",
    "card_revoked": "Votre carte a été déclarée perdue ou volée : elle ne peut plus être "
                    "utilisée. Utilisez votre nouvelle carte ou votre e-CPS.",
    "card_replaced": "Votre carte a été remplacée par une nouvelle carte : utilisez la "
                     "nouvelle carte.",
    "type_refused": "Ce service n'accepte pas les cartes de ce type.",
    "holder_unknown": "Le titulaire de cette carte est inconnu de l'annuaire santé.",
    "holder_blocked": "Vos moyens d'identification sont suspendus : contactez votre ordre ou "
                      "l'Agence du Numérique en Santé.",
}
REASONS = tuple(MESSAGES)


class CardRefused(Exception):
    """A presented card refused: ``reason`` (a code of ``REASONS``), ``message_fr`` for the
    professional, and what is known of the card."""

    def __init__(self, reason: str, message_fr: str = "", *, card_serial: str = "",
                 national_id: str = ""):
        self.reason = reason
        self.message_fr = message_fr or MESSAGES.get(reason, MESSAGES["malformed"])
        self.card_serial = card_serial
        self.national_id = national_id
        super().__init__(f"{reason}: {self.message_fr}")


@dataclass(frozen=True)
class CheckedCard:
    card_serial: str
    card_type: str
    professional_id: int
    national_id: str
    structure_technical_id: str


def _now() -> dt.datetime:
    if has_app_context() and "psc_idp" in current_app.extensions:
        return current_app.extensions["psc_idp"].clock.now().replace(tzinfo=dt.UTC)
    return dt.datetime.now(dt.UTC)


def _find_card(leaf: x509.Certificate) -> tuple[Any, Card | None]:
    from ..pki.register import find_registered

    registered = find_registered(leaf)
    if registered is None:
        return None, None
    card = None
    if registered.card_serial:
        card = db.session.get(Card, registered.card_serial)
    return registered, card


def check_presented_card(chain: list[x509.Certificate], settings: Any, *,
                         at: dt.datetime | None = None) -> CheckedCard:
    """The card behind ``chain`` (leaf first) if it may authenticate now; else
    ``CardRefused``. Runs in an app context (the register and the cards are in the
    database); ``at`` defaults to the provider's clock."""
    if not chain:
        raise _refused("no_certificate")
    from ..pki.igc_sante import IgcSante
    from ..pki.verify import ChainRefused, verify_client_chain

    leaf = chain[0]
    moment = at or _now()
    registered, card = _find_card(leaf)  # the register's row: revocation read from it too
    serial = card.serial if card else ""
    national_id = card.national_id if card else ""
    igc = IgcSante.from_settings(settings)
    # A server completes a chain with the intermediates it knows (as Apache's
    # SSLCACertificateFile does): a browser may send the leaf alone.
    intermediates = [*chain[1:], igc.personnes_ca().certificate]
    try:
        verify_client_chain(leaf, intermediates, anchors=[igc.trust_anchor()], at=moment)
    except ChainRefused as exc:
        if card is not None and card.status in ("revoked", "replaced"):
            raise _status_refusal(card) from None
        raise _refused(exc.reason, MESSAGES.get(exc.reason) or exc.message_fr,
                       card_serial=serial, national_id=national_id) from None
    if registered is not None and registered.kind != "card_auth":
        raise _refused("wrong_usage", card_serial=serial, national_id=national_id)
    if registered is None or card is None:
        raise _refused("unknown_card")
    if card.status in ("revoked", "replaced"):
        raise _status_refusal(card)
    if registered.revoked_at is not None:  # by the authority while the card stayed active
        raise _refused("revoked", card_serial=serial, national_id=national_id)
    if card.card_type not in settings.cards.accepted_types:
        raise _refused("type_refused", f"Ce service n'accepte pas les cartes {card.card_type} "
                       "pour se connecter : utilisez une autre carte ou votre e-CPS.",
                       card_serial=serial, national_id=national_id)
    professional = db.session.get(Professional, card.professional_id)
    if professional is None or professional.national_id != card.national_id:
        raise _refused("holder_unknown", card_serial=serial, national_id=national_id)
    if professional.means_blocked:
        raise _refused("holder_blocked", card_serial=serial, national_id=national_id)
    return CheckedCard(card_serial=card.serial, card_type=card.card_type,
                       professional_id=professional.id, national_id=card.national_id,
                       structure_technical_id=card.structure_technical_id)


def _status_refusal(card: Card) -> CardRefused:
    if card.status == "replaced":
        return _refused("card_replaced", "Votre carte a été remplacée par la carte "
                        f"n° {card.replaced_by} : utilisez la nouvelle carte.",
                        card_serial=card.serial, national_id=card.national_id)
    return _refused("card_revoked", card_serial=card.serial, national_id=card.national_id)


def _refused(reason: str, message_fr: str = "", *, card_serial: str = "",
             national_id: str = "") -> CardRefused:
    refusal = CardRefused(reason, message_fr, card_serial=card_serial, national_id=national_id)
    log.info("card refused: %s card=%s holder=%s", reason, card_serial or "-",
             national_id or "-")
    return refusal
