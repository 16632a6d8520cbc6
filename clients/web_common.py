"""What the two pages a professional opens on this machine (the e-CPS phone, the card reader)
share: the session's anti-CSRF token and the headers that keep them out of frames and caches."""

from __future__ import annotations

import secrets

from flask import Flask, Response, session


def csrf_token() -> str:
    """The session's anti-CSRF token, made on first use."""
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return str(session["csrf"])


def csrf_matches(sent: str | None) -> bool:
    """``sent`` is the session's token (compared in constant time)."""
    expected = session.get("csrf", "")
    return bool(expected and sent and secrets.compare_digest(str(sent), str(expected)))


def secure_headers(app: Flask, content_security_policy: str) -> None:
    """Every answer of ``app``: not cached, not framed, not sniffed, no referrer, and the
    page's own CSP (unless a view set its own headers)."""

    @app.after_request
    def headers(response: Response) -> Response:
        response.headers.setdefault("Cache-Control", "no-store")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        response.headers.setdefault("Content-Security-Policy", content_security_policy)
        return response
