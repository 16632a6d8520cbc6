"""Activation of an e-CPS with a CPx card, behind an interface until the card issue lands.

The seeds describe two ways to activate: the contact data on record (``ecps.py``), or a CPx
card that proves possession by signing the activation challenge. Reading a card and checking
its certificate chain (the IGC-Santé authorities, revocation) belongs to the card issue. Here is
only the seam: a ``CardActivationVerifier`` the application registers with
``register_card_verifier(app, verifier)``. None is registered by default, and the mobile API
then answers ``POST /activations {"method": "card"}`` with ``400 unsupported_method``.

The flow with a verifier:

1. ``POST /activations {"national_id": N, "method": "card"}`` → ``activation_id`` and
   ``card_challenge``, a string bound to this activation (an HMAC under the provider's secret,
   so nothing more is stored);
2. the card signs the UTF-8 bytes of ``card_challenge``; the app sends
   ``POST /activations/{id}/card {"certificate": PEM, "signature": base64url}``; the verifier
   decides (the certificate is the professional's, trusted, valid now; the signature verifies
   with its key) → ``activation_token``;
3. ``POST /activations/{id}/complete`` as for the contact path (PIN, device key).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from flask import Flask, current_app

EXTENSION = "psc_idp.card_verifier"
CHALLENGE_PREFIX = "psc-idp-ecps-activation"


@dataclass(frozen=True)
class CardProof:
    """What the app sends for one activation: the card's certificate and its signature."""

    national_id: str
    """The professional being activated (the certificate must be theirs)."""
    challenge: bytes
    """The bytes the card signed: the UTF-8 ``card_challenge`` of the activation."""
    certificate_pem: str
    signature: bytes


class CardProofRejected(Exception):
    """The proof is not acceptable; the message is shown to the app (no secret in it)."""


@runtime_checkable
class CardActivationVerifier(Protocol):
    def verify(self, proof: CardProof) -> None:
        """Return if the card proves possession for ``proof.national_id``; otherwise raise
        ``CardProofRejected`` with the reason."""


def register_card_verifier(app: Flask, verifier: CardActivationVerifier | None) -> None:
    """Install (or, with None, remove) the application's card verifier."""
    if verifier is not None and not isinstance(verifier, CardActivationVerifier):
        raise TypeError("a card verifier has a verify(proof) method")
    if verifier is None:
        app.extensions.pop(EXTENSION, None)
    else:
        app.extensions[EXTENSION] = verifier


def card_verifier() -> CardActivationVerifier | None:
    return current_app.extensions.get(EXTENSION)


def activation_challenge(activation_id: str) -> str:
    """The string the card signs for this activation (derived, never stored)."""
    key = hashlib.sha256(("card-activation:" + current_app.secret_key).encode()).digest()
    mac = hmac.new(key, activation_id.encode(), hashlib.sha256).digest()
    tag = base64.urlsafe_b64encode(mac).rstrip(b"=").decode()
    return f"{CHALLENGE_PREFIX}.{activation_id}.{tag}"
