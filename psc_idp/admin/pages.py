"""Emulation pages for people (demo/test mode only, 404 in production): the outbox, where the
one-time codes of e-CPS activations can be read, as ``GET /api/admin/outbox`` gives them to
scripts."""

from __future__ import annotations

from flask import Blueprint, Response, request

from ..credentials.outbox import messages_for
from ..html import html_page
from ..login.i18n import translator
from .api import emulation_only

bp = Blueprint("admin_pages", __name__, url_prefix="/admin")


bp.before_request(emulation_only)


@bp.get("/outbox")
def outbox() -> Response:
    national_id = request.args.get("national_id", "")[:20]
    messages = messages_for(national_id=national_id or None, limit=100)
    return html_page("admin_outbox.html", messages=messages, national_id=national_id,
                     t=translator("fr"))
