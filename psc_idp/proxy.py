"""Behind a reverse proxy: believe X-Forwarded-* only from the configured hops.

A TLS-terminating proxy (nginx, Apache, a load balancer) tells psc-idp the browser's scheme,
host and address in X-Forwarded-Proto/-Host/-Port/-For. Believed from anyone, these headers let
a client pretend to be on https (Secure-cookie decisions), spoof its address in the audit trail,
or pick the host of generated URLs. So by default nothing is believed; ``[proxy] trusted_hops``
says how many proxies stand in front (werkzeug's ProxyFix takes that many values from the right
of each header), and ``trusted_addresses`` restricts this to requests whose direct peer is one
of those proxies. The issuer never follows these headers: it is ``public_url``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from .config import ProxySettings

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class TrustedProxyFix:
    """ProxyFix for requests from trusted peers only; other requests pass untouched."""

    def __init__(self, app: WsgiApp, hops: int, addresses: Iterable[str]):
        self.plain = app
        self.fixed = ProxyFix(app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops)  # type: ignore[arg-type]
        self.networks = [ipaddress.ip_network(a, strict=False) for a in addresses]

    def trusted(self, peer: str) -> bool:
        if not self.networks:
            return True
        try:
            address = ipaddress.ip_address(peer.split("%", 1)[0])
        except ValueError:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return any(address in network for network in self.networks)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]
                 ) -> Iterable[bytes]:
        if self.trusted(environ.get("REMOTE_ADDR", "")):
            environ["psc_idp.proxy.trusted"] = True  # mtls/presented.py: forwarded certificates
            return self.fixed(environ, start_response)
        return self.plain(environ, start_response)


def install(app: Flask, settings: ProxySettings) -> None:
    """Wrap the app's WSGI callable when hops are configured; a no-op by default."""
    if settings.trusted_hops > 0:
        app.wsgi_app = TrustedProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, settings.trusted_hops, settings.trusted_addresses)
