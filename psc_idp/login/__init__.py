"""The browser-facing login pages: pick a means, run its authenticator, hand the result back.

Registers itself as the provider's ``interaction_handler``; the only door back into the protocol
is ``oidc.finish_interaction`` / ``oidc.fail_interaction``.
"""

from __future__ import annotations

from typing import Any

from flask import Flask

__all__ = ["init_app"]


def init_app(app: Flask, provider: Any) -> None:
    # Imported here, not at the top: the views import ``oidc`` (finish/fail_interaction),
    # and ``oidc`` imports ``login.i18n``; a top-level import would make ``import
    # psc_idp.oidc`` (the CLI's client commands) go round in a circle.
    from . import card_views
    from .views import bp, render_first_step

    provider.interaction_handler = render_first_step
    app.register_blueprint(bp)
    app.register_blueprint(card_views.bp)
    app.register_blueprint(card_views.ciba_bp)
