"""The OpenID Connect provider: Authlib wiring, PSC's URL layout, tokens, discovery, userinfo.

``init_app`` builds the authorization server and registers the blueprint. Login is not done here:
the authorization endpoint hands an ``Interaction`` to ``provider.interaction_handler`` (set by
``login/``) and takes the result back through ``finish_interaction``.
"""

from __future__ import annotations

from typing import Any

from flask import Flask

from . import ciba
from .authorize import fail_interaction, finish_interaction, interaction_belongs_to_browser
from .server import PscAuthorizationServer
from .views import bp

__all__ = ["fail_interaction", "finish_interaction", "init_app",
           "interaction_belongs_to_browser"]


def init_app(app: Flask, provider: Any) -> None:
    provider.server = PscAuthorizationServer(app, provider.settings)
    provider.discovery_extensions.append(ciba.discovery_extension)
    app.register_blueprint(bp)
