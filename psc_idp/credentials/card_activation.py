"""e-CPS activation with a CPx card: the ``CardActivationVerifier`` of ``card.py`` backed by
the emulated IGC-Santé (the card's certificate chain, its status, its signature)."""

from __future__ import annotations

from flask import Flask


def install(app: Flask) -> None:
    """Register the card verifier on the application (called by ``create_app``)."""
