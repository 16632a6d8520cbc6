"""``card-reader login``: a whole card login, as a browser with a reader and the CPS middleware.

The steps (the contract with the provider's card step, docs in README.md):
1. follow the authorization URL on the provider to its login page (``/login/<uid>``);
2. open the card step page ``/login/<uid>/card``: it names the card host's TLS step and holds
   the abandon form;
3. the chip checks the PIN; a blocked card abandons the login (the service gets
   ``access_denied``, as when a person gives up in front of a blocked card);
4. present the card at the TLS step, then follow the ticket's return URL with the browser's
   cookie until the provider redirects to the service's ``redirect_uri``.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import parse_qs, urljoin, urlsplit

import requests

from psc_idp.credentials.card_chip import Chip, ChipError

from .middleware import (
    BLOCKED_MESSAGE,
    EXIT_BLOCKED,
    EXIT_REFUSED,
    EXIT_USAGE,
    TIMEOUT,
    ReaderError,
    card_trust,
    check_pin,
    network_error,
    origin_of,
    present_card,
    unexpected,
)
from .pages import read_page

LOGIN_UID = re.compile(r"/login/([^/?#]+)")
LOGIN_LINK = re.compile(r"""["'](?:https?://[^"'/]+)?/login/([^/?#"']+)[/"'?]""")
"""A link or form of the login page (it may be rendered at the authorization URL itself)."""
MAX_REDIRECTS = 20
USER_AGENT = "psc-idp-card-reader/1 (virtual CPS middleware)"


def redirect_uri_of(authorize_url: str) -> str:
    values = parse_qs(urlsplit(authorize_url).query).get("redirect_uri", [])
    if not values or not values[0]:
        raise ReaderError("L'URL d'autorisation ne contient pas de redirect_uri.", EXIT_USAGE)
    return values[0]


class Browser:
    """A requests session that follows redirects itself and stops before the service."""

    def __init__(self, redirect_uri: str, verify: str | bool) -> None:
        self.redirect_uri = redirect_uri
        self.verify = verify
        self.session = requests.Session()
        self.session.headers["User-Agent"] = USER_AGENT

    def close(self) -> None:
        self.session.close()

    def go(self, method: str, url: str, data: dict[str, str] | None = None
           ) -> tuple[str, requests.Response | None]:
        """Follow redirects from ``url``: (service URL, None) when one goes to the service's
        redirect_uri (never requested), else (last URL, its answer)."""
        for _ in range(MAX_REDIRECTS):
            if url.startswith(self.redirect_uri):
                return url, None
            try:
                response = self.session.request(method, url, data=data, allow_redirects=False,
                                                verify=self.verify, timeout=TIMEOUT)
            except requests.RequestException as exc:
                raise network_error(url, exc) from None
            location = response.headers.get("Location")
            if not (response.is_redirect and location):
                return url, response
            url, method, data = urljoin(url, location), "GET", None
        raise ReaderError("Trop de redirections : le fournisseur tourne en rond.", EXIT_REFUSED)


def login(card: Path, authorize_url: str, pin: str, ca_file: str | None = None) -> str:
    """Run the login; the service's redirect URL with its ``code``. ReaderError otherwise."""
    if not authorize_url.startswith(("http://", "https://")):
        raise ReaderError("L'URL d'autorisation doit être une URL http(s).", EXIT_USAGE)
    redirect_uri = redirect_uri_of(authorize_url)
    try:
        chip = Chip.open(card)
    except (ChipError, OSError, ValueError) as exc:
        raise ReaderError(f"Aucune carte lisible dans {card} : "
                          f"{getattr(exc, 'message', exc)}", EXIT_REFUSED) from None
    verify = card_trust(card, ca_file)
    browser = Browser(redirect_uri, verify)
    try:
        return _login(browser, chip, authorize_url, pin)
    finally:
        browser.close()


def _login(browser: Browser, chip: Chip, authorize_url: str, pin: str) -> str:
    url, response = browser.go("GET", authorize_url)
    if response is None:
        return _arrived(url, "avant l'étape carte")
    found = LOGIN_UID.search(urlsplit(url).path) or LOGIN_LINK.search(response.text)
    if not found or response.status_code != 200:
        raise ReaderError(unexpected(response, "la demande d'autorisation"), EXIT_REFUSED)
    uid = found.group(1)
    step_url = f"{origin_of(url)}/login/{uid}/card"
    url, response = browser.go("GET", step_url)
    if response is None:
        return _arrived(url, "avant l'étape carte")
    facts = read_page(response.text)
    if response.status_code != 200 or not facts.tls_step:
        sentence = facts.message()
        raise ReaderError(f"Connexion par carte impossible : {sentence}" if sentence else
                          unexpected(response, "la page de l'étape carte"), EXIT_REFUSED)
    try:
        check_pin(chip, pin)
    except ReaderError as exc:
        if exc.exit_code == EXIT_BLOCKED:
            exc.final_url = _abandon(browser, step_url, facts.abandon_action,
                                     facts.abandon_fields)
        raise
    answer = present_card(chip, pin, facts.tls_step, browser.verify, browser.session)
    url, response = browser.go("GET", answer.location)
    if response is None:
        return _arrived(url, "après la carte")
    sentence = read_page(response.text).message()
    raise ReaderError("Le fournisseur n'a pas terminé la connexion" +
                      (f" : {sentence}" if sentence else
                       f" (HTTP {response.status_code} sur {urlsplit(url).path})."),
                      EXIT_REFUSED)


def _arrived(url: str, when: str) -> str:
    """The provider sent the browser to the service: a code, or an error it reports."""
    query = parse_qs(urlsplit(url).query)
    if query.get("code"):
        return url
    error = (query.get("error") or ["?"])[0]
    description = (query.get("error_description") or [""])[0]
    raise ReaderError(f"Le fournisseur a renvoyé une erreur au service {when} : "
                      f"error={error}" + (f" ({description})" if description else ""),
                      EXIT_REFUSED, final_url=url, reason=error)


def _abandon(browser: Browser, step_url: str, action: str, fields: dict[str, str]) -> str:
    """POST the card page's abandon form (reason card_blocked): the URL back to the service
    with ``error=access_denied``, or "" if the provider did not send one."""
    if not action:
        return ""
    data = {k: v for k, v in fields.items()}
    data["reason"] = "card_blocked"
    try:
        url, response = browser.go("POST", urljoin(step_url, action), data)
    except ReaderError:
        return ""
    return url if response is None else ""


__all__ = ["BLOCKED_MESSAGE", "ReaderError", "login"]
