"""The TLS server certificate ``psc-idp serve`` presents, and the SSL context that serves it.

Given files (``[tls] cert_file``/``key_file``) win; otherwise the local authority issues one
for the host names the provider is reached by (``public_url``, ``wallet_url``, the listen
address) plus 127.0.0.1, ::1 and localhost, and issues it again when those names change or
it is about to expire, so changing ``public_url`` never leaves a certificate that no RP
accepts for the new name.
"""

from __future__ import annotations

import datetime as dt
import ssl
from pathlib import Path
from urllib.parse import urlsplit

from cryptography import x509

from ..config import Settings
from .authority import (
    SERVER_DAYS,
    SERVICES_CA,
    TLS_SERVER,
    LocalPki,
    PkiError,
    issue,
    issued_by,
    name,
    new_key,
    read_certificate,
    subject_alt_names,
    write_key,
    write_pem,
)

SERVER_CERT = "server.crt"
SERVER_KEY = "server.key"
RENEW_BEFORE = dt.timedelta(days=30)
LOCAL_NAMES = ("127.0.0.1", "::1", "localhost")


def server_hosts(settings: Settings) -> list[str]:
    """The names a browser or an RP may use to reach this provider."""
    hosts = []
    for url in (settings.public_url, settings.wallet_url):
        if url:
            host = urlsplit(url).hostname
            if host:
                hosts.append(host)
    if settings.server.host not in ("", "0.0.0.0", "::"):  # noqa: S104 - compared, not bound
        hosts.append(settings.server.host)
    return list(dict.fromkeys([*hosts, *LOCAL_NAMES]))


def tls_files(settings: Settings) -> tuple[Path, Path]:
    """(certificate chain, private key) to serve: the configured files or generated ones."""
    if settings.tls.cert_file:
        return Path(settings.tls.cert_file), Path(settings.tls.key_file)
    return generated_server_certificate(LocalPki.in_keys_dir(settings.keys_dir),
                                        server_hosts(settings))


def generated_server_certificate(pki: LocalPki, hosts: list[str]) -> tuple[Path, Path]:
    """pki/server.crt (the certificate then the services CA) and pki/server.key."""
    issuer = pki.issuing_ca(SERVICES_CA)
    cert_path, key_path = pki.folder / SERVER_CERT, pki.folder / SERVER_KEY
    with pki.locked():
        if cert_path.exists() and key_path.exists() and _still_good(
                read_certificate(cert_path), issuer.certificate, hosts):
            return cert_path, key_path
        key = new_key()
        certificate = issue(issuer, name(hosts[0]), key.public_key(), sans=hosts,
                            lifetime_days=SERVER_DAYS, usage=TLS_SERVER)
        write_key(key_path, key)
        write_pem(cert_path, [certificate, issuer.certificate])
    return cert_path, key_path


def _still_good(certificate: x509.Certificate, issuer: x509.Certificate,
                hosts: list[str]) -> bool:
    try:
        names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    wanted = set(subject_alt_names(hosts))
    remaining = certificate.not_valid_after_utc - dt.datetime.now(dt.UTC)
    return (wanted <= set(names) and remaining > RENEW_BEFORE
            and issued_by(certificate, issuer))


def ssl_context(cert_file: Path, key_file: Path) -> ssl.SSLContext:
    """TLS 1.2 or later with Python's default ciphers; the chain file may hold the issuing CA."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(str(cert_file), str(key_file))
    except (OSError, ssl.SSLError) as exc:
        raise PkiError(f"cannot load the TLS certificate {cert_file} / key {key_file}: "
                       f"{exc}") from exc
    return context
