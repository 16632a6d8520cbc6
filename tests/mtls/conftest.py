"""RFC 8705 tests: a live provider plus its mTLS listener, and real client certificates.

``mtls_live(profile=...)`` serves the provider over HTTP and starts ``start_listener`` on a
free port (its settings' ``mtls.port`` follows, so discovery's aliases name it). Certificates
are real: software certificates of the emulated IGC-Santé (``IgcSante``), registered in the
register like ``psc-idp pki issue-software-cert`` does, one from a foreign authority, and
self-signed ones; each is written as PEM files that ``requests`` presents in the handshake.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.conftest import LiveServer
from tests.fidelity.tls import make_tls_live  # noqa: F401 (a fixture, for tls=True)
from tests.listener import ListenerLive, attach_listener
from tests.psc_actions import GP, PscActions

REDIRECT = "http://127.0.0.1:5997/cb"
ORGANISATION = "Clinique Test"
PROFILES = ("psc", "strict")


@dataclass
class Certificate:
    """A client certificate (leaf first, then its chain) and its key, as files."""

    cert_file: Path
    key_file: Path
    leaf: x509.Certificate

    @property
    def pair(self) -> tuple[str, str]:
        return str(self.cert_file), str(self.key_file)


@dataclass
class MtlsLive(ListenerLive):
    folder: Path
    """Where this test's certificate files are written."""

    @property
    def root_file(self) -> Path:
        return self.root

    @property
    def base(self) -> str:
        return f"https://127.0.0.1:{self.listener.port}"

    @property
    def psc(self) -> PscActions:
        return PscActions(self.live.issuer)

    @property
    def metadata(self) -> dict[str, Any]:
        """Discovery, over https too (the local TEST root trusted)."""
        if not hasattr(self, "_metadata"):
            self._metadata = requests.get(
                self.live.issuer + "/.well-known/wallet-openid-configuration", timeout=10,
                verify=str(self.root_file)).json()
        return self._metadata

    def alias(self, name: str) -> str:
        return self.metadata["mtls_endpoint_aliases"][name]

    def register(self, **fields: Any) -> None:
        from psc_idp.admin.clients import upsert_client
        from psc_idp.config import ClientSeed
        from psc_idp.db import db

        fields.setdefault("redirect_uris", [REDIRECT])
        with self.app.app_context():
            upsert_client(ClientSeed(**fields), self.settings, source="test")
            db.session.commit()

    # ------------------------------------------------------------------ certificates
    def software_certificate(self, client_id: str, name: str = "", *,
                             organisation: str = ORGANISATION) -> Certificate:
        """An IGC-Santé software certificate (organisations CA), registered."""
        from psc_idp.db import db
        from psc_idp.pki.authority import new_key
        from psc_idp.pki.igc_sante import ORGANISATIONS, IgcSante
        from psc_idp.pki.register import register_certificate

        key = new_key()
        with self.app.app_context():
            igc = IgcSante.from_settings(self.settings)
            leaf = igc.issue_software_certificate(client_id=client_id, organisation=organisation,
                                                  public_key=key.public_key(),
                                                  hosts=("rp.example.test",))
            register_certificate(leaf, authority=ORGANISATIONS, kind="software_client",
                                 client_id=client_id)
            db.session.commit()
            chain = [leaf, igc.organisations_ca().certificate]
        return self._write(name or client_id, chain, key)

    def foreign_certificate(self, client_id: str) -> Certificate:
        """The same subject as a software certificate, from another authority."""
        from psc_idp.pki.authority import LocalPki, Usage, issue, new_key

        other = LocalPki(self.folder / "foreign-pki").issuing_ca("organisations")
        key = new_key()
        subject = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "FR"),
                             x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANISATION),
                             x509.NameAttribute(NameOID.COMMON_NAME, client_id)])
        leaf = issue(other, subject, key.public_key(), lifetime_days=30,
                     usage=Usage(ekus=(ExtendedKeyUsageOID.CLIENT_AUTH,)))
        return self._write("foreign-" + client_id, [leaf, other.certificate], key)

    def self_signed(self, name: str, days: int = 30, start_days: int = -1) -> Certificate:
        from psc_idp.pki.authority import new_key

        key = new_key()
        now = dt.datetime.now(dt.UTC)
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        leaf = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now + dt.timedelta(days=start_days))
                .not_valid_after(now + dt.timedelta(days=start_days + days))
                .sign(key, hashes.SHA256()))
        return self._write("self-" + name, [leaf], key)

    def _write(self, stem: str, chain: list[x509.Certificate], key: Any) -> Certificate:
        cert_file = self.folder / f"{stem}.crt"
        key_file = self.folder / f"{stem}.key"
        cert_file.write_bytes(b"".join(c.public_bytes(serialization.Encoding.PEM)
                                       for c in chain))
        key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                               serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
        return Certificate(cert_file, key_file, chain[0])

    # ------------------------------------------------------------------ RP side
    def rp(self, client_id: str, certificate: Certificate | None) -> OAuth2Session:
        """Authlib's client, authenticating by certificate (client_id in the body)."""
        session = OAuth2Session(client_id, None, scope="openid scope_all",
                                redirect_uri=REDIRECT, code_challenge_method="S256",
                                token_endpoint_auth_method="none")
        session.trust_env = False  # else REQUESTS_CA_BUNDLE overrides session.verify
        session.verify = str(self.root_file)
        if certificate is not None:
            session.cert = certificate.pair
        return session

    def code(self, rp: OAuth2Session) -> tuple[Any, str]:
        """An authorization code by test autologin (the browser side, plain listener)."""
        psc = self.psc
        start = psc.start(rp, login_hint=GP)
        answer = psc.open(start.url)
        assert answer.status_code == 302, answer.text[:300]
        assert "code=" in answer.headers["Location"], answer.headers["Location"]
        return start, answer.headers["Location"]

    def token_request(self, client_id: str, certificate: Certificate | None,
                      url: str | None = None) -> requests.Response:
        """A code redemption by raw HTTP (to read refusals as they are)."""
        rp = self.rp(client_id, None)
        start, callback = self.code(rp)
        from tests.psc_actions import query

        return requests.post(url or self.alias("token_endpoint"), data={
            "grant_type": "authorization_code", "code": query(callback)["code"],
            "redirect_uri": REDIRECT, "code_verifier": start.verifier, "client_id": client_id},
            cert=certificate.pair if certificate else None, verify=str(self.root_file),
            timeout=10)

    def introspect(self, client_id: str, certificate: Certificate, token: str
                   ) -> requests.Response:
        """Introspection at the mTLS alias, the client authenticated by its certificate."""
        return requests.post(self.alias("introspection_endpoint"), timeout=10,
                             cert=certificate.pair, verify=str(self.root_file),
                             data={"token": token, "client_id": client_id})

    def tokens(self, client_id: str, certificate: Certificate | None) -> dict[str, Any]:
        rp = self.rp(client_id, certificate)
        start, callback = self.code(rp)
        return rp.fetch_token(self.alias("token_endpoint"), authorization_response=callback,
                              code_verifier=start.verifier, state=start.state)


@pytest.fixture(params=PROFILES)
def profile(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def mtls_live(make_live: Callable[..., LiveServer], make_tls_live: Callable[..., Any],  # noqa: F811
              tmp_path: Path) -> Iterator[Callable[..., MtlsLive]]:
    """``mtls_live(profile="psc", tls=False, **overrides)``: a provider (over HTTPS with
    ``tls``) and its mTLS listener."""
    listeners: list[Any] = []

    def start(profile: str = "psc", tls: bool = False, **overrides: Any) -> MtlsLive:
        live = (make_tls_live if tls else make_live)(fidelity={"profile": profile}, **overrides)
        listener, root = attach_listener(live)
        listeners.append(listener)
        folder = tmp_path / f"certs-{len(listeners)}"
        folder.mkdir()
        return MtlsLive(live, listener, root, folder)

    yield start
    for listener in listeners:
        listener.stop()
