"""The virtual CPS middleware: the PIN asked by the chip, the card presented in a TLS handshake.

On a real workstation the browser asks the Cryptolib CPS middleware (PKCS#11) for a client
certificate when PSC's card host requests one; the middleware asks the PIN, the chip checks it
(its own counter: 3 wrong PINs block the card) and then signs the handshake with the card's
authentication key. This module does the same with a virtual card folder
(``psc_idp.credentials.card_chip``): the chip checks the PIN first, then the card's
certificate and key go into an ``ssl.SSLContext`` used for the card host's origin only, so the
card is never shown to any other server.

Used by both faces of the reader: the ``card-reader login`` command (``login.py``) and the page
for people (``web.py``).
"""

from __future__ import annotations

import os
import re
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
from requests.adapters import HTTPAdapter

from psc_idp.credentials.card_chip import (
    BadCode,
    Chip,
    ChipBlocked,
    ChipError,
    PukBlocked,
    WrongPin,
    WrongPuk,
    read_meta,
)

from .pages import read_page

EXIT_OK = 0
EXIT_REFUSED = 1
"""The provider refused or answered something the reader did not expect."""
EXIT_USAGE = 2
EXIT_WRONG_PIN = 3
EXIT_BLOCKED = 4
EXIT_CARD_REFUSED = 5
EXIT_NETWORK = 6

REFUSAL_HEADER = "X-PSC-IDP-Card-Refusal"
TLS_STEP_PATH = re.compile(r"^/login/([^/?#]+)/card/tls$")
RETURN_PATH = re.compile(r"^/login/([^/?#]+)/card/return$")
TIMEOUT = 30.0
TRUST_KEYS = ("provider_trust_anchor", "trust_anchor")
"""Keys of card.json that may name the provider's trust anchor (a PEM file)."""

BLOCKED_MESSAGE = "Carte bloquée : débloquez-la avec le code PUK (card-reader unblock)."


class ReaderError(Exception):
    """A login that did not reach the service: a French sentence and the command's exit code.

    ``final_url`` is where the provider sent the browser back to the service, if it did (an
    ``error=access_denied`` redirect); ``reason`` the provider's refusal code, if any."""

    def __init__(self, message: str, exit_code: int = EXIT_REFUSED, *,
                 final_url: str = "", reason: str = "") -> None:
        super().__init__(message)
        self.message, self.exit_code = message, exit_code
        self.final_url, self.reason = final_url, reason


def pin_message(exc: WrongPin) -> str:
    left = int(getattr(exc, "tries_left", 0) or 0)
    return f"Code PIN erroné : il reste {left} essai{'s' if left > 1 else ''}."


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def is_tls_step(url: str) -> bool:
    """An https URL whose path is ``/login/<uid>/card/tls``: the only place a card goes."""
    parts = urlsplit(url)
    return (parts.scheme == "https" and bool(parts.hostname) and not parts.username
            and not parts.password and bool(TLS_STEP_PATH.match(parts.path)))


def card_trust(folder: Path, ca_file: str | None = None) -> str | bool:
    """The server's trust for ``requests``' ``verify``: ``--ca-file``, else the provider's trust
    anchor named in card.json, else True (``REQUESTS_CA_BUNDLE`` or the system's)."""
    if ca_file:
        return str(ca_file)
    try:
        public = read_meta(folder)
    except ChipError:
        public = {}
    for key in TRUST_KEYS:
        value = public.get(key)
        if value:
            path = Path(str(value))
            if not path.is_absolute():
                path = folder / path
            if path.exists():
                return str(path)
    return True


def _ssl_context(certfile: Path, keyfile: Path, password: bytes,
                 verify: str | bool) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if isinstance(verify, str):
        context = ssl.create_default_context(cafile=verify)
    elif os.environ.get("REQUESTS_CA_BUNDLE"):
        context.load_verify_locations(cafile=os.environ["REQUESTS_CA_BUNDLE"])
    context.load_cert_chain(str(certfile), str(keyfile), password=password)
    return context


class CardAdapter(HTTPAdapter):
    """A transport whose TLS handshakes present the card (mounted for one origin only)."""

    def __init__(self, context: ssl.SSLContext) -> None:
        self._context = context
        super().__init__(max_retries=0)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["ssl_context"] = self._context
        super().init_poolmanager(*args, **kwargs)

    def proxy_manager_for(self, *args: Any, **kwargs: Any) -> Any:
        kwargs["ssl_context"] = self._context
        return super().proxy_manager_for(*args, **kwargs)


@dataclass
class CardAnswer:
    """The TLS step's answer: where to go next (the return URL with its ticket)."""

    location: str


def chip_refusal(exc: ChipError) -> ReaderError:
    """The chip's refusal as the reader's: a French sentence, the exit code, a reason."""
    if isinstance(exc, WrongPin):
        if int(getattr(exc, "tries_left", 0) or 0) <= 0:
            return ReaderError(BLOCKED_MESSAGE, EXIT_BLOCKED, reason="card_blocked")
        return ReaderError(pin_message(exc), EXIT_WRONG_PIN, reason="wrong_pin")
    if isinstance(exc, ChipBlocked):
        return ReaderError(BLOCKED_MESSAGE, EXIT_BLOCKED, reason="card_blocked")
    if isinstance(exc, WrongPuk):
        left = int(getattr(exc, "tries_left", 0) or 0)
        return ReaderError(f"Code PUK erroné : il reste {left} essai{'s' if left > 1 else ''}."
                           if left else exc.message, EXIT_WRONG_PIN, reason="wrong_puk")
    if isinstance(exc, PukBlocked):
        return ReaderError(exc.message or "Code PUK bloqué : la carte est inutilisable, "
                           "faites-la remplacer.", EXIT_BLOCKED, reason="card_blocked")
    if isinstance(exc, BadCode):
        return ReaderError(exc.message, EXIT_USAGE, reason="bad_pin_format")
    return ReaderError(exc.message, EXIT_REFUSED, reason="chip_error")


def check_pin(chip: Chip, pin: str) -> None:
    """The chip checks the PIN (its counter is authoritative): ReaderError 3 or 4 otherwise."""
    info = chip.info()
    if info.get("puk_blocked"):
        raise ReaderError(PukBlocked().message, EXIT_BLOCKED, reason="card_blocked")
    if info.get("blocked"):
        raise ReaderError(BLOCKED_MESSAGE, EXIT_BLOCKED, reason="card_blocked")
    try:
        chip.verify_pin(pin)
    except ChipError as exc:
        raise chip_refusal(exc) from None


def present_card(chip: Chip, pin: str, tls_url: str, verify: str | bool,
                 session: requests.Session | None = None) -> CardAnswer:
    """GET the card host's TLS step presenting the card; the ticket's return URL.

    ``session`` (the browser's, for its cookies) gets the card's transport mounted for the TLS
    step's origin only; redirects are not followed, so the card never reaches another host."""
    if not is_tls_step(tls_url):
        raise ReaderError("Adresse de l'étape carte invalide : une URL https du fournisseur "
                          "en /login/<uid>/card/tls est attendue.", EXIT_REFUSED)
    try:
        certfile, keyfile, password = chip.tls_credentials(pin)
    except ChipError as exc:
        raise chip_refusal(exc) from None
    try:
        context = _ssl_context(Path(certfile), Path(keyfile), password, verify)
    except (ssl.SSLError, OSError) as exc:
        raise ReaderError(f"Certificat de la carte ou autorité de confiance illisible : {exc}",
                          EXIT_NETWORK) from None
    own = session or requests.Session()
    own.mount(origin_of(tls_url) + "/", CardAdapter(context))
    try:
        response = own.get(tls_url, allow_redirects=False, verify=verify, timeout=TIMEOUT)
    except requests.RequestException as exc:
        raise network_error(tls_url, exc, tls=True) from None
    finally:
        if session is None:
            own.close()
    reason = response.headers.get(REFUSAL_HEADER, "")
    if reason:
        sentence = read_page(response.text).message() or "la carte a été refusée."
        raise ReaderError(f"Carte refusée ({reason}) : {sentence}", EXIT_CARD_REFUSED,
                          reason=reason)
    location = response.headers.get("Location", "")
    if response.is_redirect and location:
        target = urljoin(tls_url, location)
        if RETURN_PATH.match(urlsplit(target).path):
            return CardAnswer(target)
    raise ReaderError(unexpected(response, "l'étape carte"), EXIT_REFUSED)


def unexpected(response: requests.Response, where: str) -> str:
    sentence = read_page(response.text).message() if "html" in response.headers.get(
        "Content-Type", "") else ""
    return (f"Réponse inattendue du fournisseur à {where} (HTTP {response.status_code})"
            + (f" : {sentence}" if sentence else "."))


def network_error(url: str, exc: requests.RequestException, *, tls: bool = False
                  ) -> ReaderError:
    """A TLS or network failure, in French, exit 6."""
    origin = origin_of(url)
    if isinstance(exc, requests.exceptions.SSLError):
        text = (f"Poignée de main TLS refusée avec {origin} : la carte n'a pas pu être "
                f"présentée ({_short(exc)})." if tls else
                f"Connexion TLS impossible avec {origin} : certificat du serveur non reconnu "
                f"ou poignée de main refusée ({_short(exc)}).")
    elif isinstance(exc, requests.Timeout):
        text = f"Le fournisseur ({origin}) n'a pas répondu à temps."
    elif isinstance(exc, requests.ConnectionError):
        text = f"Impossible de joindre le fournisseur ({origin}) : {_short(exc)}."
    else:
        text = f"Échec de la requête vers {origin} : {_short(exc)}."
    return ReaderError(text, EXIT_NETWORK)


def _short(exc: Exception) -> str:
    text = str(exc)
    for marker in ("SSLError(", "[SSL", "certificate verify failed"):
        at = text.find(marker)
        if at >= 0:
            return text[at:at + 160].rstrip(")'\"")
    return text[:200]
