"""psc-idp: an OpenID Connect provider that emulates Pro Santé Connect.

Packages, one job each: ``oidc`` (protocol), ``login`` (pages), ``authenticators`` (means),
``sessions`` (SSO), ``directory`` (professionals), ``claims`` (PSC claims), ``keys``,
``audit``, ``admin`` (CLI). ``create_app`` in ``app`` wires them.
"""

from .app import create_app

__all__ = ["create_app"]
