"""What client certificate a request presented: on the listener's handshake, or from a
trusted reverse proxy's header. One function, so the card step and RFC 8705 client
authentication read the certificate the same way and nobody reads a raw header."""

from __future__ import annotations

import logging
from urllib.parse import unquote

from cryptography import x509
from flask import Request, current_app

from .listener import LISTENER, PEER_CHAIN

log = logging.getLogger(__name__)


def came_through_listener(request: Request) -> bool:
    """True for requests served by the client-certificate listener (or a trusted proxy
    configured to forward certificates): the only places a certificate can come from."""
    return bool(request.environ.get(LISTENER)) or _forwarded_header(request) is not None


def presented_chain(request: Request) -> list[x509.Certificate]:
    """The certificates the client presented, leaf first; [] when none (or unreadable)."""
    ders = request.environ.get(PEER_CHAIN)
    if ders:
        try:
            return [x509.load_der_x509_certificate(d) for d in ders]
        except ValueError:
            log.warning("unreadable client certificate in the handshake")
            return []
    header = _forwarded_header(request)
    if not header:
        return []
    try:
        return x509.load_pem_x509_certificates(unquote(header).encode())
    except ValueError:
        log.warning("unreadable client certificate in the %s header",
                    _settings().mtls.forwarded_certificate_header)
        return []


def presented_certificate(request: Request) -> x509.Certificate | None:
    """The leaf certificate the client presented, or None."""
    chain = presented_chain(request)
    return chain[0] if chain else None


def _settings():  # type: ignore[no-untyped-def]
    return current_app.extensions["psc_idp"].settings


def _forwarded_header(request: Request) -> str | None:
    """The configured header, only on requests from a trusted proxy (``proxy.py`` marks
    them)."""
    name = _settings().mtls.forwarded_certificate_header
    if not name or not request.environ.get("psc_idp.proxy.trusted"):
        return None
    return request.headers.get(name) or None
