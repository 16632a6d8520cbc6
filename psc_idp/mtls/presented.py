"""What client certificate a request presented: on the listener's handshake, or from a
trusted reverse proxy's header. One function, so the card step and RFC 8705 client
authentication read the certificate the same way and nobody reads a raw header."""

from __future__ import annotations

import logging
import re
from urllib.parse import unquote

from cryptography import x509
from flask import Request, current_app

from .listener import LISTENER, PEER_CHAIN

log = logging.getLogger(__name__)


def came_through_listener(request: Request) -> bool:
    """True for requests served by the client-certificate listener, or by a trusted proxy
    configured to forward certificates (with a certificate or without one): the only places
    a certificate can come from."""
    return bool(request.environ.get(LISTENER)) or _from_certificate_proxy(request)


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
        return x509.load_pem_x509_certificates(_pem(header).encode())
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


def _from_certificate_proxy(request: Request) -> bool:
    """A request from a trusted proxy (``proxy.py`` marks them) of a deployment that says
    its proxy forwards client certificates."""
    return bool(_settings().mtls.forwarded_certificate_header
                and request.environ.get("psc_idp.proxy.trusted"))


def _forwarded_header(request: Request) -> str | None:
    """The configured header, only on requests from a trusted proxy; None when absent or
    empty (Apache sends "" or "(null)" when no certificate came)."""
    if not _from_certificate_proxy(request):
        return None
    value = request.headers.get(_settings().mtls.forwarded_certificate_header, "")
    return value if "-----BEGIN" in unquote(value) else None


_PEM_BLOCK = re.compile(r"-----BEGIN CERTIFICATE-----(.*?)-----END CERTIFICATE-----", re.S)


def _pem(header: str) -> str:
    """PEM certificates from a proxy's header, whatever the proxy did to the line breaks:
    URL-escaped (nginx ``$ssl_client_escaped_cert``), tab-indented (nginx's older
    ``$ssl_client_cert``) or turned into spaces (Apache ``%{SSL_CLIENT_CERT}s`` through
    mod_headers)."""
    blocks = []
    for body in _PEM_BLOCK.findall(unquote(header)):
        b64 = "".join(body.split())
        lines = "\n".join(b64[i:i + 64] for i in range(0, len(b64), 64))
        blocks.append(f"-----BEGIN CERTIFICATE-----\n{lines}\n-----END CERTIFICATE-----\n")
    return "".join(blocks)
