"""psc-idp: an OpenID Connect provider that emulates Pro Santé Connect.

Packages, one job each: ``oidc`` (protocol), ``login`` (pages), ``authenticators`` (means),
``sessions`` (SSO), ``directory`` (professionals), ``claims`` (PSC claims), ``keys``,
``audit``, ``admin`` (CLI). ``create_app`` in ``app`` wires them.
"""

from typing import Any

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    """``psc_idp.create_app`` on first use: importing a small module of the package (the card
    reader's ``credentials.card_chip``, ``config``) does not load the whole application, so
    the command-line clients start in a fraction of a second."""
    if name == "create_app":
        from .app import create_app

        return create_app
    raise AttributeError(f"module 'psc_idp' has no attribute {name!r}")
