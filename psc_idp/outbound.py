"""psc-idp's own outgoing HTTP calls (back-channel logout, push-gateway webhooks), kept off
internal addresses: no blind SSRF through a URL that a client or a device registered.

The check runs on the address the connection is really made to, after DNS resolution, inside
urllib3's connection (``GuardedHTTPConnection._new_conn``): the host is resolved once, every
address it resolves to is checked, and the socket connects to that checked address, so a name
that resolves to a public address at registration and to ``127.0.0.1`` at sending time (DNS
rebinding) is still refused. TLS keeps verifying the certificate against the host name.

Refused unless allow-listed: loopback, link-local (169.254/16, the cloud metadata address),
private (RFC 1918, fc00::/7), unspecified, multicast, reserved and shared (100.64/10) ranges.
In production the guard is on; in demo/test (whose demo services listen on 127.0.0.1) it is off
unless ``outbound.block_private_addresses = true``; ``outbound.allowed_networks`` lists CIDRs
that are always allowed (an RP on a private network of a test set-up).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class DestinationRefused(requests.ConnectionError):
    """The destination resolves to an address psc-idp does not call."""


def is_internal(address: Address) -> bool:
    """Any address an outside party must not make psc-idp call."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return (address.is_loopback or address.is_link_local or address.is_private
            or address.is_unspecified or address.is_multicast or address.is_reserved
            or address in ipaddress.ip_network("100.64.0.0/10"))


def parse_networks(values: Iterable[str]) -> list[Network]:
    return [ipaddress.ip_network(value, strict=False) for value in values]


def check_address(address: str, allowed: list[Network]) -> None:
    parsed = ipaddress.ip_address(address.split("%", 1)[0])
    if any(parsed in network for network in allowed):
        return
    if is_internal(parsed):
        raise DestinationRefused(f"destination {parsed} is an internal address")


def resolve_checked(host: str, port: int, allowed: list[Network]) -> list[str]:
    """Every address ``host`` resolves to, each checked; refused if any is internal (a name
    with one internal address among public ones is not trusted either)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise DestinationRefused(f"cannot resolve {host}: {exc}") from exc
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    for address in addresses:
        check_address(address, allowed)
    return addresses


class _GuardedMixin:
    allowed_networks: list[Network] = []

    def _new_conn(self) -> socket.socket:
        addresses = resolve_checked(self._dns_host, self.port,  # type: ignore[attr-defined]
                                    self.allowed_networks)
        self._dns_host = addresses[0]  # connect to the address that was checked
        return super()._new_conn()  # type: ignore[misc]


def _guarded_pools(allowed: list[Network]) -> dict[str, type]:
    http_conn = type("GuardedHTTPConnection", (_GuardedMixin, HTTPConnection),
                     {"allowed_networks": allowed})
    https_conn = type("GuardedHTTPSConnection", (_GuardedMixin, HTTPSConnection),
                      {"allowed_networks": allowed})
    return {
        "http": type("GuardedHTTPPool", (HTTPConnectionPool,), {"ConnectionCls": http_conn}),
        "https": type("GuardedHTTPSPool", (HTTPSConnectionPool,), {"ConnectionCls": https_conn}),
    }


class GuardedAdapter(HTTPAdapter):
    """A requests adapter whose connections refuse internal destinations."""

    def __init__(self, allowed: list[Network], **kwargs: Any):
        self._allowed = allowed
        super().__init__(**kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _guarded_pools(self._allowed)
        self.poolmanager.key_fn_by_scheme = dict(self.poolmanager.key_fn_by_scheme)

    def proxy_manager_for(self, *args: Any, **kwargs: Any) -> Any:
        raise DestinationRefused("outgoing calls through a proxy are not supported")


def guard_enabled(settings: Any) -> bool:
    forced = settings.outbound.block_private_addresses
    return settings.is_production if forced is None else bool(forced)


def session_for(settings: Any) -> requests.Session:
    """A requests session for psc-idp's outgoing calls under ``settings``: guarded when the
    guard is on, never reading proxies from the environment."""
    session = requests.Session()
    session.trust_env = False
    if guard_enabled(settings):
        adapter = GuardedAdapter(parse_networks(settings.outbound.allowed_networks))
        session.mount("http://", adapter)
        session.mount("https://", adapter)
    return session


def post(settings: Any, url: str, **kwargs: Any) -> requests.Response:
    """POST from psc-idp to a registered URL (no redirects: a 30x is an answer, not a hop)."""
    kwargs.setdefault("allow_redirects", False)
    with session_for(settings) as session:
        try:
            return session.post(url, **kwargs)
        except requests.ConnectionError as exc:
            refused = _refusal_in(exc)
            if refused is not None:
                raise refused from None
            raise


def _refusal_in(exc: BaseException) -> DestinationRefused | None:
    """urllib3 wraps the guard's refusal (ProtocolError, MaxRetryError): find it again."""
    seen: set[int] = set()
    stack: list[Any] = [exc]
    while stack:
        item = stack.pop()
        if not isinstance(item, BaseException) or id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, DestinationRefused):
            return item
        stack.extend([*item.args, item.__cause__, item.__context__,
                      getattr(item, "reason", None)])
    return None
