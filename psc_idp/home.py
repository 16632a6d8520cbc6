"""The provider's root page (``/``): what this server is, and where to go from here.

In demo/test mode it links the demo services, the virtual e-CPS app, the outbox, the session
page and the RPPS+ portal; in production it only says what the server is and where relying
services find its discovery document (professionals have nothing to do here)."""

from __future__ import annotations

from flask import Blueprint, Response, current_app

from .html import html_page
from .oidc import urls

bp = Blueprint("home", __name__)


@bp.get("/")
def home() -> Response:
    settings = current_app.extensions["psc_idp"].settings
    base = settings.public_url.rstrip("/")
    return html_page(
        "home.html", settings=settings, issuer=settings.issuer,
        discovery_psc=base + urls.DISCOVERY_PSC, discovery=base + urls.DISCOVERY,
        sessions=base + urls.ACCOUNT_SESSIONS, outbox=base + "/admin/outbox",
        rpps_plus=base + "/rpps-plus/")
