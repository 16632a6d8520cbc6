"""The provider's own HTML pages, and the security headers every response carries.

Every response (``secure_headers``, called by ``create_app``'s ``after_request``):

- ``X-Frame-Options: DENY`` and CSP ``frame-ancestors 'none'``: nothing of psc-idp is framed
  (clickjacking on login, consent and logout forms; the error page too);
- ``X-Content-Type-Options: nosniff``, ``Referrer-Policy: no-referrer`` (the logout page's
  URL, which may hold an ``id_token_hint``, is not sent to the RPs' front-channel URIs);
- HTML: ``PAGE_CSP``, scripts and styles from psc-idp's own ``/static`` only (no inline
  script, no ``style=`` attribute: an injected ``<script>`` does not run), requests to the
  same origin only (the e-CPS waiting page's event stream and long-poll), no plug-ins, no
  ``<base>``. ``frame-src`` is ``'none'`` except on the logout page, which loads the RPs'
  front-channel logout URIs in iframes: their origins, and only theirs (``html_page(...,
  frame_src=uris)``). ``form-action`` is not set: after a login form's POST the provider
  redirects to the RP's ``redirect_uri``, and browsers apply ``form-action`` to that redirect.
- other responses (JSON, SVG, event streams): CSP ``default-src 'none'``.

Pages are never cached either (they show a session's state): ``Cache-Control: no-store``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from flask import Response, current_app, render_template

PAGE_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            "connect-src 'self'; frame-src {frames}; object-src 'none'; base-uri 'none'; "
            "frame-ancestors 'none'")
OTHER_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'"


def _origins(uris: Iterable[str]) -> list[str]:
    """``scheme://host[:port]`` of each absolute http(s) URI, once each, in order."""
    origins: list[str] = []
    for uri in uris:
        parts = urlsplit(uri)
        origin = f"{parts.scheme}://{parts.netloc}"
        if parts.scheme in ("http", "https") and parts.netloc and origin not in origins \
                and not any(c in origin for c in " ;,'\"\\"):
            origins.append(origin)
    return origins


def page_csp(frame_src: Iterable[str] = ()) -> str:
    return PAGE_CSP.format(frames=" ".join(_origins(frame_src)) or "'none'")


def protect(response: Response, frame_src: Iterable[str] = ()) -> Response:
    """An HTML page's headers (``frame_src``: the URIs its iframes load, if any)."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["Content-Security-Policy"] = page_csp(frame_src)
    return secure_headers(response)


def secure_headers(response: Response) -> Response:
    """The headers of every response (``create_app`` calls this after each request); a CSP
    already set (``protect``) is kept."""
    headers = response.headers
    headers["X-Frame-Options"] = "DENY"
    headers["X-Content-Type-Options"] = "nosniff"
    headers["Referrer-Policy"] = "no-referrer"
    if "Content-Security-Policy" not in headers:
        html = (response.mimetype or "") == "text/html"
        headers["Content-Security-Policy"] = page_csp() if html else OTHER_CSP
    return response


def html_page(template: str, status: int = 200, *, frame_src: Iterable[str] = (),
              **context: Any) -> Response:
    """Render ``template`` with the settings and the emulation flag every page's base needs.
    ``frame_src``: the URIs the page loads in iframes (the logout page's front-channel URIs)."""
    settings = current_app.extensions["psc_idp"].settings
    context.setdefault("settings", settings)
    context.setdefault("emulation", settings.emulation_enabled)
    html = render_template(template, **context)
    return protect(Response(html, status=status, mimetype="text/html"), frame_src)
