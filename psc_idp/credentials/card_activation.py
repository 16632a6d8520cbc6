"""e-CPS activation with a CPx card: the ``CardActivationVerifier`` of ``card.py`` backed by
the emulated IGC-Santé (the card's certificate chain, its status, its signature).

Why the same check as a card login (``card_check.check_presented_card``): activating an e-CPS
with a card must not be a way around a lost, replaced or blocked card. The proof is the
card's authentication certificate (PEM, its chain may follow) and the chip's signature
(``Chip.sign``: RSA PKCS#1 v1.5 / SHA-256) over the activation's challenge; it must name the
professional being activated.
"""

from __future__ import annotations

from cryptography import x509
from flask import Flask, current_app

from . import card_chip
from .card import CardProof, CardProofRejected, register_card_verifier
from .card_check import CardRefused, check_presented_card


class IgcSanteCardVerifier:
    """Accepts a proof when the card may authenticate, is the professional's, and signed."""

    def verify(self, proof: CardProof) -> None:
        try:
            chain = x509.load_pem_x509_certificates(proof.certificate_pem.encode())
        except (ValueError, TypeError):
            raise CardProofRejected("Le certificat de la carte est illisible (PEM attendu)."
                                    ) from None
        settings = current_app.extensions["psc_idp"].settings
        try:
            checked = check_presented_card(chain, settings)
        except CardRefused as exc:
            raise CardProofRejected(f"{exc.message_fr} ({exc.reason})") from None
        if checked.national_id != proof.national_id:
            raise CardProofRejected("Cette carte n'est pas celle du professionnel à activer "
                                    f"({checked.national_id} au lieu de {proof.national_id}).")
        if not card_chip.verify_signature(chain[0], proof.signature, proof.challenge):
            raise CardProofRejected("La signature de la carte ne correspond pas au défi "
                                    "d'activation (mauvaise carte ou défi d'une autre "
                                    "activation).")


def install(app: Flask) -> None:
    """Register the card verifier on the application (called by ``create_app``)."""
    register_card_verifier(app, IgcSanteCardVerifier())
