"""Helpers for the card login tests: a provider with its client-certificate listener, virtual
cards, and the three parties of a card login (the RP, the browser, the card reader)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from flask import Flask

from tests.conftest import LiveServer
from tests.listener import ListenerLive, attach_listener
from tests.psc_actions import AuthorizationStart, PscActions, query

PIN, PUK = "1234", "12345678"


@pytest.fixture
def card_live(make_live: Callable[..., LiveServer]) -> Iterator[Callable[..., ListenerLive]]:
    """``card_live(**overrides)``: a live provider plus its listener on a free port."""
    listeners: list[Any] = []

    def start(**overrides: Any) -> ListenerLive:
        live = make_live(**overrides)
        listener, root = attach_listener(live)
        listeners.append(listener)
        return ListenerLive(live, listener, root)

    yield start
    for listener in listeners:
        listener.stop()


def issue(app: Flask, folder: Path, national_id: str, card_type: str = "CPS",
          structure: str | None = None, **kwargs: Any) -> Any:
    """A virtual card through ``psc-idp card issue``'s function."""
    from psc_idp.credentials.cards import issue_card

    with app.app_context():
        return issue_card(national_id=national_id, card_type=card_type, structure=structure,
                          pin=PIN, puk=PUK, out=folder, **kwargs)


def card_credentials(folder: Path, tmp: Path, pin: str = PIN) -> tuple[str, str]:
    """(certificate chain, unencrypted key) files as ``requests``' ``cert=`` takes them,
    after the chip checked the PIN."""
    from psc_idp.credentials.card_chip import Chip

    certfile, keyfile, password = Chip.open(folder).tls_credentials(pin)
    key = serialization.load_pem_private_key(Path(keyfile).read_bytes(), password)
    plain = tmp / f"{folder.name}-auth.key"
    plain.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                        serialization.PrivateFormat.PKCS8,
                                        serialization.NoEncryption()))
    plain.chmod(0o600)
    return str(certfile), str(plain)


@dataclass
class CardLogin:
    """One card login in progress: the RP's start, the browser, the login's uid."""

    psc: PscActions
    rp: Any
    start: AuthorizationStart
    uid: str
    card_page: requests.Response
    first_page: requests.Response

    @property
    def base(self) -> str:
        return self.psc.issuer.split("/auth/realms")[0]


def begin(server: ListenerLive, *, client: dict[str, Any] | None = None, **params: Any
          ) -> CardLogin:
    """The RP starts the code flow; the browser opens it and goes to the card page."""
    psc = PscActions(server.live.issuer)
    rp = psc.client(**(client or {}))
    start = psc.start(rp, **params)
    first = psc.open(start.url)
    assert first.status_code == 200, first.text[:300]
    uid = re.search(r"/login/([A-Za-z0-9_-]+)/", first.text).group(1)
    page = psc.browser.get(f"{server.live.base_url}/login/{uid}/card", timeout=10)
    return CardLogin(psc, rp, start, uid, page, first)


def present(server: ListenerLive, login: CardLogin, cert: tuple[str, str] | None,
            ) -> requests.Response:
    """The reader (no browser cookie) presents the card on the listener: the TLS step."""
    step = re.search(r'<meta name="psc-idp-card-step" content="([^"]+)"',
                     login.card_page.text).group(1)
    with requests.Session() as reader:
        return reader.get(step, cert=cert, verify=str(server.root), allow_redirects=False,
                          timeout=15)


def back_in_browser(login: CardLogin, location: str) -> requests.Response:
    return login.psc.browser.get(location, allow_redirects=False, timeout=10)


def cancel(login: CardLogin) -> dict[str, str]:
    """The browser cancels on the card page: what the RP's redirect_uri receives."""
    csrf = re.search(r'name="csrf" value="([^"]+)"', login.card_page.text).group(1)
    done = login.psc.browser.post(f"{login.base}/login/{login.uid}/cancel",
                                  data={"csrf": csrf}, allow_redirects=False, timeout=10)
    assert done.status_code == 302, done.text[:300]
    return query(done.headers["Location"])


def audit_rows(app: Flask, event: str) -> list[Any]:
    from psc_idp.audit import AuditEvent
    from psc_idp.db import db

    with app.app_context():
        return list(db.session.scalars(db.select(AuditEvent).where(AuditEvent.event == event)
                                       .order_by(AuditEvent.id)))
