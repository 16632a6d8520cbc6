"""The TLS listener that asks for client certificates: card logins and RFC 8705 mTLS aliases.

Why a listener of its own: a card login is a TLS handshake in which the browser (through the
CPS middleware) presents the card's authentication certificate, and an RP using
``tls_client_auth`` presents its software certificate at the token endpoint. psc-idp must then
show a French page for a card it refuses (another authority, expired, revoked...) and accept
self-signed RP certificates (``self_signed_tls_client_auth``). Python's ``ssl`` module cannot
do that: with ``CERT_OPTIONAL`` OpenSSL aborts the handshake on any certificate that does not
chain to a loaded CA. So this listener runs cheroot (a threaded WSGI server) over pyOpenSSL
with a verification callback that accepts every certificate (nginx's ``optional_no_ca``);
psc-idp verifies what was presented itself (``mtls/presented.py`` and the card checks), with
``cryptography``, against the emulated IGC-Santé root and the database of issued certificates.

The handshake runs in cheroot's worker thread, never in the accept loop, with the
connection's timeout: a client that stalls holds one thread for at most ``timeout`` seconds.
The listener serves the same Flask application as the main one; a request that came through it
carries ``psc_idp.mtls.peer_chain`` (DER certificates, leaf first) in its WSGI environ, a key no
HTTP header can set. The listener's CertificateRequest names the emulated IGC-Santé CAs, so a
browser offers only card certificates, as PSC's wallet host makes it do.
"""

from __future__ import annotations

import io
import logging
import select
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cheroot import wsgi
from cheroot.makefile import StreamReader
from cheroot.ssl.pyopenssl import SSLFileobjectMixin, pyOpenSSLAdapter
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from OpenSSL import SSL

log = logging.getLogger(__name__)

PEER_CHAIN = "psc_idp.mtls.peer_chain"
"""WSGI environ key: tuple of DER certificates the client presented (leaf first), or ()."""
LISTENER = "psc_idp.mtls.listener"
"""WSGI environ key: True on every request that came through this listener."""


class _CertificateGateway(wsgi.Gateway_10):
    """cheroot's WSGI 1.0 gateway plus the peer's certificate chain (the handshake is done by
    the time a request line was read)."""

    def get_environ(self) -> dict[str, Any]:
        env = super().get_environ()
        env[LISTENER] = True
        env[PEER_CHAIN] = peer_chain_of(self.req.conn.socket)
        env["wsgi.url_scheme"] = "https"
        return env


def peer_chain_of(connection: Any) -> tuple[bytes, ...]:
    """The DER certificates a pyOpenSSL connection's peer sent, leaf first (or ()).

    On a server, OpenSSL's ``SSL_get_peer_cert_chain`` leaves the client's own certificate
    out (it holds only what the client sent after it): the leaf is read on its own."""
    try:
        leaf = connection.get_peer_certificate(as_cryptography=True)
        rest = connection.get_peer_cert_chain(as_cryptography=True) or []
    except (AttributeError, SSL.Error):
        return ()
    if leaf is None:
        return ()
    chain = [leaf, *(c for c in rest if c != leaf)]
    return tuple(c.public_bytes(serialization.Encoding.DER) for c in chain)


def _accept_any(connection: Any, certificate: Any, errno: int, depth: int, ok: int) -> bool:
    """Accept every presented certificate: psc-idp decides after the handshake, so that a
    refused card gets a page (nginx's ``ssl_verify_client optional_no_ca``)."""
    return True


class _TlsSocketIO(socket.SocketIO):
    """The raw stream under a TLS connection's reader, waiting when OpenSSL wants more bytes.

    A socket with a timeout is non-blocking underneath, so pyOpenSSL's ``recv_into`` raises
    ``WantReadError`` when the next TLS record has not fully arrived (a request body sent a
    moment after its headers, a loaded machine). cheroot retries that error in ``recv`` and
    ``readline`` only; its ``read`` (the WSGI input of a POST body) let it through as a 500.
    Here the raw read waits for the socket to be readable, up to the connection's timeout,
    and tries again, so every read path of the buffered reader above is covered."""

    def readinto(self, buffer: Any) -> int | None:
        timeout = self._sock.gettimeout()
        deadline = time.monotonic() + (timeout if timeout is not None else 3600.0)
        while True:
            try:
                return super().readinto(buffer)
            except SSL.WantReadError:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("timed out") from None
                select.select([self._sock], [], [], min(left, 1.0))


class _TlsReader(SSLFileobjectMixin, StreamReader):
    """cheroot's TLS stream reader over ``_TlsSocketIO``."""

    def __init__(self, sock: Any, mode: str = "r", bufsize: int = io.DEFAULT_BUFFER_SIZE):
        # cheroot's StreamReader is a _pyio.BufferedReader: initialise that over our raw
        super(StreamReader, self).__init__(_TlsSocketIO(sock, mode), bufsize)
        self.bytes_read = 0


class _Adapter(pyOpenSSLAdapter):
    """cheroot's pyOpenSSL adapter with the context this listener needs."""

    def __init__(self, cert_file: Path, key_file: Path, client_ca_names: list[x509.Name]):
        super().__init__(str(cert_file), str(key_file))
        self.client_ca_names = client_ca_names

    def get_environ(self) -> dict[str, Any]:
        """What cheroot merges into every environ: the scheme only (cheroot's own version
        reads the server certificate through pyOpenSSL's deprecated X509 getters)."""
        return {"wsgi.url_scheme": "https", "HTTPS": "on"}

    def makefile(self, sock: Any, mode: str = "r", bufsize: int = -1) -> Any:
        """Readers of TLS connections wait for late bytes instead of failing (``_TlsSocketIO``)."""
        if "r" in mode and isinstance(sock, SSL.Connection):
            reader = _TlsReader(sock, mode, io.DEFAULT_BUFFER_SIZE if bufsize < 0 else bufsize)
            reader.ssl_timeout = sock.gettimeout()
            return reader
        return super().makefile(sock, mode, bufsize)

    def get_context(self) -> SSL.Context:
        context = SSL.Context(SSL.TLS_SERVER_METHOD)
        context.set_min_proto_version(SSL.TLS1_2_VERSION)
        context.use_certificate_chain_file(self.certificate)
        context.use_privatekey_file(self.private_key)
        context.check_privatekey()
        context.set_verify(SSL.VERIFY_PEER, _accept_any)
        for ca_name in self.client_ca_names:  # add_client_ca reads the subject of a certificate
            context.add_client_ca(_dummy_with(ca_name))
        return context


def _dummy_with(subject: x509.Name) -> x509.Certificate:
    """pyOpenSSL takes a CA name from a certificate's subject (``add_client_ca``)."""
    import datetime as dt

    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    return (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(1).not_valid_before(now)
            .not_valid_after(now + dt.timedelta(days=1)).sign(key, hashes.SHA256()))


def _prepare_as_daemon(server: wsgi.Server) -> None:
    """``server.prepare()`` (bind, start the worker threads) from a daemon thread, so the
    workers are daemon threads too (a thread inherits the flag from its creator): a process
    whose shutdown was interrupted (a second SIGTERM during ``stop``) still exits instead of
    waiting forever on cheroot's idle workers."""
    failures: list[BaseException] = []

    def prepare() -> None:
        try:
            server.prepare()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            failures.append(exc)

    thread = threading.Thread(target=prepare, name="psc-idp-mtls-prepare", daemon=True)
    thread.start()
    thread.join()
    if failures:
        raise failures[0]


@dataclass
class MtlsListener:
    """A running listener: its address and how to stop it."""

    server: wsgi.Server
    thread: threading.Thread

    @property
    def port(self) -> int:
        return int(self.server.bind_addr[1])

    def stop(self) -> None:
        self.server.stop()
        self.thread.join(timeout=10)


def start_listener(app: Any, host: str, port: int, cert_file: Path, key_file: Path, *,
                   client_ca_names: list[x509.Name] | None = None, threads: int = 8,
                   timeout: int = 10, reuse_port: bool = False) -> MtlsListener:
    """Serve ``app`` over TLS with client certificates on ``host:port`` in a daemon thread.

    ``port`` 0 picks a free one (``listener.port`` says which). ``reuse_port``: several
    processes (gunicorn workers) each run one on the same port (SO_REUSEPORT)."""
    server = wsgi.Server((host, port), app, numthreads=threads, max=threads,
                         timeout=timeout, shutdown_timeout=5, reuse_port=reuse_port,
                         server_name="psc-idp-mtls")
    server.gateway = _CertificateGateway
    server.ssl_adapter = _Adapter(cert_file, key_file, client_ca_names or [])
    _prepare_as_daemon(server)  # binds now: a taken port fails here, in the caller
    thread = threading.Thread(target=server.serve, name="psc-idp-mtls", daemon=True)
    thread.start()
    log.info("mTLS listener on https://%s:%s", host, server.bind_addr[1])
    return MtlsListener(server, thread)
