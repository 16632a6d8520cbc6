"""The provider's own HTML pages: one place for the headers every page carries.

Pages are never cached (they show a session's state) and never framed (clickjacking on login,
consent and logout forms): ``Cache-Control: no-store``, ``X-Frame-Options: DENY`` and CSP
``frame-ancestors 'none'``.
"""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, render_template


def protect(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Content-Security-Policy"] = "frame-ancestors 'none'"
    return response


def html_page(template: str, status: int = 200, **context: Any) -> Response:
    """Render ``template`` with the settings and the emulation flag every page's base needs."""
    settings = current_app.extensions["psc_idp"].settings
    context.setdefault("settings", settings)
    context.setdefault("emulation", settings.emulation_enabled)
    html = render_template(template, **context)
    return protect(Response(html, status=status, mimetype="text/html"))
