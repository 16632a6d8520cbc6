"""A virtual e-CPS phone over the mobile API: what the real app does, as a Python object.

It keeps its state (device key, device token, OTP seed) in a folder, activates with the contact
codes (read from the provider's outbox in demo/test mode), long-polls pending logins, and
approves or denies them with the PIN and an ECDSA P-256 signature by its key.

``AutoResponder`` runs a phone in a thread for tests: it answers every login pushed to the
professional (approve with the right PIN, deny, approve with a wrong PIN, or never answer).
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyotp
import requests
import urllib3
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

API = "/api/mobile/v1"
DEFAULT_HOME = "~/.ecps-app"
"""The one default home of the virtual phone, shared by the ``ecps-app`` CLI and the page
(``python -m clients.ecps_app.web``, also what ``psc-idp demo`` starts); ``--home`` or
``$ECPS_APP_HOME`` change it for both."""
MAX_WAIT = 25.0
"""The provider answers a long-poll after at most this many seconds."""
TOTP_PERIOD = 30


class PhoneError(RuntimeError):
    """The provider refused an operation; ``code`` is its ``error``, ``status`` the HTTP status
    (0 for a refusal by the phone itself: not activated, nothing pending, no codes...)."""

    def __init__(self, code: str, description: str, status: int,
                 retry_after: float | None = None, details: dict[str, Any] | None = None):
        super().__init__(f"{code}: {description}" + (f" (HTTP {status})" if status else ""))
        self.code = code
        self.description = description
        self.status = status
        self.retry_after = retry_after
        """Seconds the provider asked to wait before trying again (429/503 ``Retry-After``)."""
        self.details = details or {}
        """The rest of the provider's error body (``attempts_left`` for ``invalid_pin``)."""

    @property
    def attempts_left(self) -> int | None:
        value = self.details.get("attempts_left")
        return value if isinstance(value, int) else None


def canonical_national_id(text: str) -> str:
    """What the professional typed → the national id the provider files them under: a bare
    RPPS (11 digits) becomes ``8`` + RPPS, as on the login page; whitespace is ignored."""
    compact = "".join(str(text).split())
    if len(compact) == 11 and compact.isascii() and compact.isdigit():
        return "8" + compact
    return compact


BUSY = (429, 503)
"""The provider had no room to hold a wait (its ``[waits]`` bounds): try later, poll meanwhile."""


def _retry_after(response: requests.Response) -> float | None:
    try:
        value = float(response.headers.get("Retry-After", ""))
    except ValueError:
        return None
    return min(max(value, 0.0), 60.0) if value == value else None


@dataclass
class EcpsPhone:
    server: str
    home: Path
    national_id: str = ""

    def __post_init__(self) -> None:
        self.server = self.server.rstrip("/")
        self.home = Path(self.home)
        self.national_id = canonical_national_id(self.national_id)
        self.http = requests.Session()
        self.http.trust_env = False
        self._cache: dict[str, Any] = {}

    # ------------------------------------------------------------------ local state
    @property
    def _state_file(self) -> Path:
        # Structure staff ids hold a "/" (30B0168811/CPET00001): "_" in the file name, which
        # no national id contains, so the name maps back (``known``).
        stem = (self.national_id or "device").replace("/", "_")
        return self.home / f"{stem}.json"

    @staticmethod
    def known(home: Path | str) -> list[str]:
        """National ids with an e-CPS kept in ``home`` (activated on this virtual phone)."""
        folder = Path(home)
        if not folder.is_dir():
            return []
        return sorted(f.stem.replace("_", "/") for f in folder.glob("*.json")
                      if f.stem.replace("_", "").isalnum())

    @property
    def activated(self) -> bool:
        return self._state_file.exists()

    def local_state(self) -> dict[str, Any]:
        """What the phone keeps, without its private key and secrets."""
        state = self._load()
        return {"national_id": state["national_id"], "device_id": state["device_id"],
                "state_file": str(self._state_file)}

    def forget(self) -> None:
        """Delete the local state (the device stays registered at the provider)."""
        self._state_file.unlink(missing_ok=True)
        self._cache = {}

    def _load(self) -> dict[str, Any]:
        """The state file, read again only when it changed (another phone object or the CLI
        may re-activate the same professional in the same folder)."""
        try:
            stat = self._state_file.stat()
        except FileNotFoundError:
            raise PhoneError("not_activated",
                             f"no e-CPS for {self.national_id} in {self.home}", 0) from None
        version = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
        if self._cache.get("version") != version:
            self._cache = {"version": version,
                           "state": json.loads(self._state_file.read_text())}
        return self._cache["state"]

    def _save(self, state: dict[str, Any]) -> None:
        self.home.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._state_file.write_text(json.dumps(state, indent=2))
        self._state_file.chmod(0o600)
        self._cache = {}

    def _key(self) -> ec.EllipticCurvePrivateKey:
        state = self._load()
        key = self._cache.get("key")
        if key is None:  # parsed once per state file version
            key = serialization.load_pem_private_key(state["private_key_pem"].encode(),
                                                     password=None)
            assert isinstance(key, ec.EllipticCurvePrivateKey)
            self._cache["key"] = key
        return key

    # ------------------------------------------------------------------ HTTP
    def _call(self, method: str, path: str, *, token: bool = True, **kwargs: Any) -> Any:
        headers = kwargs.pop("headers", {})
        if token:
            headers["Authorization"] = "Bearer " + self._load()["device_token"]
        response = self.http.request(method, self.server + API + path, headers=headers,
                                     timeout=kwargs.pop("timeout", 35), **kwargs)
        try:
            body = response.json() if response.content else {}
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise PhoneError("http_error", f"unexpected answer from {response.url}",
                             response.status_code)
        if response.status_code >= 400:
            raise PhoneError(str(body.get("error", "http_error")),
                             str(body.get("error_description", "")), response.status_code,
                             details={k: v for k, v in body.items()
                                      if k not in ("error", "error_description")})
        return body

    # ------------------------------------------------------------------ activation
    def read_outbox_codes(self) -> tuple[str, str]:
        """demo/test mode: the newest e-mail and SMS codes sent to this professional."""
        response = self.http.get(self.server + "/api/admin/outbox",
                                 params={"national_id": self.national_id}, timeout=10)
        if response.status_code == 404:
            raise PhoneError("outbox_unavailable", "the provider's outbox is not reachable "
                             "(the admin API only exists in demo/test mode)", 404)
        if response.status_code != 200:
            raise PhoneError("outbox_unavailable", "the provider's outbox answered with an "
                             "error", response.status_code)
        codes: dict[str, str] = {}
        for message in response.json()["messages"]:  # newest first
            found = re.search(r"\b(\d{6})\b", message["body"])
            if found and message["channel"] not in codes:
                codes[message["channel"]] = found.group(1)
        if set(codes) != {"email", "sms"}:
            raise PhoneError("no_codes", "no activation codes in the outbox", 0)
        return codes["email"], codes["sms"]

    def activate(self, pin: str, device_name: str = "virtual e-CPS") -> dict[str, Any]:
        started = self._call("POST", "/activations", token=False,
                             json={"national_id": self.national_id})
        email_code, sms_code = self.read_outbox_codes()
        verified = self._call("POST", f"/activations/{started['activation_id']}/verify",
                              token=False, json={"email_code": email_code, "sms_code": sms_code})
        return self._complete(started["activation_id"], verified["activation_token"], pin,
                              device_name)

    def activate_with_card(self, pin: str, card: Callable[[bytes], tuple[str, bytes]],
                           device_name: str = "virtual e-CPS") -> dict[str, Any]:
        """Activation with a CPx card: ``card(challenge)`` returns the card's certificate (PEM)
        and its signature over the challenge bytes (a card reader, or a test double). The
        provider needs a card verifier installed, else ``PhoneError("unsupported_method")``."""
        started = self._call("POST", "/activations", token=False,
                             json={"national_id": self.national_id, "method": "card"})
        certificate, signature = card(started["card_challenge"].encode())
        verified = self._call(
            "POST", f"/activations/{started['activation_id']}/card", token=False,
            json={"certificate": certificate,
                  "signature": base64.urlsafe_b64encode(signature).rstrip(b"=").decode()})
        return self._complete(started["activation_id"], verified["activation_token"], pin,
                              device_name)

    def _complete(self, activation_id: str, activation_token: str, pin: str,
                  device_name: str) -> dict[str, Any]:
        key = ec.generate_private_key(ec.SECP256R1())
        public_pem = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
        device = self._call("POST", f"/activations/{activation_id}/complete",
                            token=False, json={"activation_token": activation_token,
                                               "pin": pin, "device_public_key": public_pem,
                                               "device_name": device_name})
        self._save({"national_id": self.national_id, "device_id": device["device_id"],
                    "device_token": device["device_token"], "otp_secret": device["otp_secret"],
                    "private_key_pem": key.private_bytes(
                        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                        serialization.NoEncryption()).decode()})
        return device

    # ------------------------------------------------------------------ logins
    def pending(self, wait: float = 0) -> list[dict[str, Any]]:
        """The pending logins; ``wait`` > 0 long-polls up to that many seconds. When the
        provider has no room to hold the long-poll it answers at once with ``retry_after``:
        with nothing pending, the phone then waits here (up to ``wait`` seconds) instead of
        asking again at once."""
        started = time.monotonic()
        body = self._call("GET", "/challenges", params={"wait": wait})
        retry_after = body.get("retry_after")
        if wait > 0 and not body["challenges"] and isinstance(retry_after, int | float):
            time.sleep(min(max(retry_after, 0), max(wait - (time.monotonic() - started), 0)))
        return body["challenges"]

    def stream(self, read_timeout: float = 60) -> Iterator[tuple[str, dict[str, Any]]]:
        """The pending logins as Server-Sent Events (``GET /challenges/stream``): yields
        ``("challenges", body)`` at once and at each change (body as ``pending``), then
        ``("end", {"reason": ...})`` when the provider closes the stream (reconnect then).
        ``read_timeout`` must exceed the provider's heartbeat interval. Closing the generator
        closes the connection."""
        with self.open_stream(read_timeout) as response:
            yield from read_events(response)

    def open_stream(self, read_timeout: float = 60) -> requests.Response:
        """The open ``GET /challenges/stream`` response (read it with ``read_events``);
        closing it, from any thread, ends the stream."""
        headers = {"Authorization": "Bearer " + self._load()["device_token"],
                   "Accept": "text/event-stream"}
        response = self.http.get(self.server + API + "/challenges/stream", headers=headers,
                                 stream=True, timeout=(10, read_timeout))
        if response.status_code != 200:
            with response:
                try:
                    body = response.json() if response.content else {}
                except ValueError:
                    body = {}
            if not isinstance(body, dict):
                body = {}
            raise PhoneError(str(body.get("error", "http_error")),
                             str(body.get("error_description", "")), response.status_code,
                             _retry_after(response))
        return response

    def sign(self, challenge_id: str, binding_code: str, decision: str) -> str:
        message = f"{challenge_id}.{binding_code}.{decision}".encode()
        signature = self._key().sign(message, ec.ECDSA(hashes.SHA256()))
        return base64.urlsafe_b64encode(signature).rstrip(b"=").decode()

    def answer(self, challenge: dict[str, Any], decision: str, pin: str = "") -> dict[str, Any]:
        """Approve (the PIN is required) or deny (no PIN needed: it is not sent when empty)."""
        signature = self.sign(challenge["challenge_id"], challenge["binding_code"], decision)
        body = {"decision": decision, "signature": signature}
        if pin or decision != "deny":
            body["pin"] = pin
        return self._call("POST", f"/challenges/{challenge['challenge_id']}/answer", json=body)

    def wait_for_pending(self, timeout: float, binding_code: str | None = None,
                         ) -> dict[str, Any] | None:
        """The newest pending login (with that binding code, if given) within ``timeout``
        seconds, long-polling as often as needed (the provider caps one poll at 25 s). The
        newest: an older one is most often a login abandoned in a closed tab."""
        deadline = time.monotonic() + max(timeout, 0)
        while True:
            remaining = deadline - time.monotonic()
            pending = self.pending(wait=round(min(max(remaining, 0), MAX_WAIT), 2))
            matching = [c for c in pending
                        if binding_code is None or c["binding_code"] == binding_code]
            if matching:  # the provider lists them oldest first
                return matching[-1]
            if time.monotonic() >= deadline:
                return None
            if pending:  # only other requests: the provider answers at once, do not spin
                time.sleep(min(0.5, max(deadline - time.monotonic(), 0)))

    def answer_next(self, decision: str, pin: str, wait: float = 20,
                    binding_code: str | None = None) -> dict[str, Any]:
        """Wait for the next pending login and answer it; returns the answered challenge."""
        challenge = self.wait_for_pending(wait, binding_code)
        if challenge is None:
            raise PhoneError("no_pending_request",
                             f"no login request arrived within {wait:g} s", 0)
        return self.answer(challenge, decision, pin)

    def otp(self) -> str:
        return pyotp.TOTP(self._load()["otp_secret"]).now()

    def otp_remaining(self) -> int:
        """Seconds the current TOTP code stays the current one."""
        return TOTP_PERIOD - int(time.time()) % TOTP_PERIOD

    def device(self) -> dict[str, Any]:
        return self._call("GET", "/device")

    def devices(self) -> list[dict[str, Any]]:
        return self._call("GET", "/devices")["devices"]

    def revoke(self, device_id: str) -> dict[str, Any]:
        return self._call("DELETE", f"/devices/{device_id}")

    def rename(self, device_id: str, name: str) -> dict[str, Any]:
        return self._call("PATCH", f"/devices/{device_id}", json={"name": name})

    def renew(self) -> dict[str, Any]:
        return self._call("POST", "/device/renew")

    def card(self) -> dict[str, Any]:
        return self._call("GET", "/me/card")

    def sessions(self) -> list[dict[str, Any]]:
        """The professional's live sessions at the provider (and the services in each)."""
        return self._call("GET", "/me/sessions")["sessions"]

    def end_session(self, sid: str) -> dict[str, Any]:
        """Log out of one session: its services are told by the provider (back channel)."""
        return self._call("DELETE", f"/me/sessions/{sid}")

    def set_push_webhook(self, url: str) -> dict[str, Any]:
        """Register this device's push gateway (the provider POSTs each login there)."""
        return self._call("PUT", "/device/push-webhook", json={"url": url})

    def remove_push_webhook(self) -> dict[str, Any]:
        return self._call("DELETE", "/device/push-webhook")


def read_events(response: requests.Response) -> Iterator[tuple[str, dict[str, Any]]]:
    """Parse a ``text/event-stream`` body (JSON ``data``) as events arrive; comments
    (heartbeats) and ``retry`` lines are skipped."""
    name, data = "message", []
    for line in response.iter_lines(chunk_size=1024, decode_unicode=True):
        if line == "":
            if data:
                yield name, json.loads("\n".join(data))
            name, data = "message", []
        elif line.startswith(":"):
            continue
        else:
            key, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if key == "event":
                name = value
            elif key == "data":
                data.append(value)


def _shutdown_socket(response: requests.Response) -> None:
    """Wake a thread blocked reading ``response``: closing a socket from another thread does
    not interrupt a ``recv`` in progress on Linux (it waited for the next heartbeat or the
    read timeout), shutting it down does."""
    sock = getattr(getattr(response.raw, "connection", None), "sock", None)
    if sock is None:  # a response that will close holds the socket, not its connection
        buffered = getattr(getattr(response.raw, "_fp", None), "fp", None)
        sock = getattr(getattr(buffered, "raw", None), "_sock", None)
    if sock is not None:
        with contextlib.suppress(OSError):  # already closed by the other end
            sock.shutdown(socket.SHUT_RDWR)


# ---------------------------------------------------------------------------- test helper
MODES = ("approve", "deny", "wrong_pin", "never")
TRANSPORTS = ("long-poll", "stream")
"""How an ``AutoResponder`` waits: ``GET /challenges?wait=`` or the event stream."""


@dataclass
class Outcome:
    """One login the responder saw and what came of its answer (``error`` when refused)."""

    challenge: dict[str, Any]
    decision: str | None
    result: dict[str, Any] | None = None
    error: PhoneError | None = None


class AutoResponder:
    """A phone that answers by itself, in a thread: the user of a test scenario.

    ``mode``: ``approve`` (with ``pin``), ``deny``, ``wrong_pin`` (approve with a PIN that is not
    ``pin``: the provider refuses it and counts a failure) or ``never`` (sees the login, never
    answers: the login times out). Each login is answered once. ``delay`` seconds pass between
    seeing a login and answering it (a user reading the screen)::

        with AutoResponder(phone, "approve", pin="1234") as responder:
            ... the login in the browser ...
        assert responder.outcomes[0].result["status"] == "approved"
    """

    def __init__(self, phone: EcpsPhone, mode: str = "approve", pin: str = "", *,
                 wrong_pin: str | None = None, delay: float = 0.0, poll: float = 1.0,
                 binding_code: str | None = None,
                 on_outcome: Callable[[Outcome], None] | None = None,
                 transport: str = "long-poll") -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
        if transport not in TRANSPORTS:
            raise ValueError(f"transport must be one of {TRANSPORTS}, not {transport!r}")
        self.transport = transport
        if mode in ("approve", "deny", "wrong_pin") and not pin and wrong_pin is None:
            raise ValueError(f"mode {mode!r} needs the PIN")
        # its own phone object: one HTTP session per thread
        self.phone = EcpsPhone(phone.server, phone.home, phone.national_id)
        self.phone._load()  # fail now, not in the thread, when the phone is not activated
        self.mode, self.pin, self.delay, self.poll = mode, pin, delay, poll
        self.wrong_pin = wrong_pin if wrong_pin is not None else _other_pin(pin)
        self.binding_code = binding_code
        self.on_outcome = on_outcome
        self.outcomes: list[Outcome] = []
        self.errors: list[Exception] = []
        """Failures of the polling itself (provider unreachable, device revoked...)."""
        self._handled: set[str] = set()
        self._stop = threading.Event()
        self._stream: requests.Response | None = None
        """The event stream being read (transport ``stream``), closed by ``stop``."""
        self._changed = threading.Condition()
        self._stream_again = 0.0
        """``time.monotonic()`` after which a refused stream (429/503) is tried again."""
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name=f"ecps-auto-{mode}-{phone.national_id}")

    # ------------------------------------------------------------------ control
    def start(self) -> AutoResponder:
        self._thread.start()
        return self

    def stop(self, timeout: float = 10) -> None:
        self._stop.set()
        stream = self._stream
        if stream is not None:  # the thread may be blocked reading it: unblock it now
            _shutdown_socket(stream)
            stream.close()
        if self._thread.is_alive():
            self._thread.join(timeout=timeout)

    def __enter__(self) -> AutoResponder:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def seen(self) -> list[dict[str, Any]]:
        return [o.challenge for o in self.outcomes]

    @property
    def answered(self) -> list[dict[str, Any]]:
        return [o.result for o in self.outcomes if o.result is not None]

    def wait_for(self, count: int = 1, timeout: float = 10, answered: bool = False
                 ) -> list[Outcome]:
        """Wait until ``count`` logins were seen (``answered``: answered, or refused); returns
        the outcomes so far. Raises ``TimeoutError`` if they do not come in time."""
        def done() -> bool:
            outcomes = [o for o in self.outcomes
                        if not answered or o.result is not None or o.error is not None]
            return len(outcomes) >= count

        with self._changed:
            if not self._changed.wait_for(done, timeout=timeout):
                raise TimeoutError(f"{self.mode} responder: {len(self.outcomes)} login(s) "
                                   f"seen, {count} expected within {timeout:g} s; "
                                   f"errors: {self.errors}")
            return list(self.outcomes)

    # ------------------------------------------------------------------ the thread
    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                if self.transport == "stream" and time.monotonic() >= self._stream_again:
                    try:
                        self._follow_stream()
                        continue
                    except PhoneError as exc:
                        if exc.status not in BUSY:
                            raise
                        # no room for a stream: long-poll (or short-poll) meanwhile
                        self._stream_again = time.monotonic() + (exc.retry_after or 2.0)
                pending = self.phone.pending(wait=self.poll)
            except PhoneError as exc:
                self._record_error(exc)
                if exc.status == 401:  # revoked or unknown device: nothing more will come
                    return
                self._stop.wait(self.poll)
                continue
            except requests.RequestException as exc:
                self._record_error(exc)
                self._stop.wait(self.poll)
                continue
            if not self._handle(pending):  # only logins already handled: the provider
                self._stop.wait(min(self.poll, 0.5) if pending else 0)  # answers at once

    def _follow_stream(self) -> None:
        """One event stream, until the provider ends it (then the loop reconnects)."""
        self._stream = response = self.phone.open_stream()
        try:
            if self._stop.is_set():  # stopped while connecting: stop() saw no stream
                return
            for name, body in read_events(response):
                if self._stop.is_set():
                    return
                if name == "challenges":
                    self._handle(body.get("challenges", []))
                elif name == "end" and body.get("reason") == "device_revoked":
                    raise PhoneError("invalid_token", "the device was revoked", 401)
        except (requests.RequestException, urllib3.exceptions.HTTPError, OSError,
                AttributeError, ValueError):
            if not self._stop.is_set():
                raise
            # stop() closed the stream under the reader: whatever it raised, we are done
        finally:
            self._stream = None
            response.close()

    def _handle(self, pending: list[dict[str, Any]]) -> bool:
        """Answer the logins not seen before; False if there were none."""
        fresh = [c for c in pending if c["challenge_id"] not in self._handled and (
            self.binding_code is None or c["binding_code"] == self.binding_code)]
        for challenge in fresh:
            if self._stop.is_set():
                break
            self._handled.add(challenge["challenge_id"])
            self._respond(challenge)
        return bool(fresh)

    def _respond(self, challenge: dict[str, Any]) -> None:
        if self.mode == "never":
            self._record(Outcome(challenge, None))
            return
        if self.delay and self._stop.wait(self.delay):
            return  # stopped while "reading the screen"
        decision = "deny" if self.mode == "deny" else "approve"
        pin = self.wrong_pin if self.mode == "wrong_pin" else self.pin
        outcome = Outcome(challenge, decision)
        try:
            outcome.result = self.phone.answer(challenge, decision, pin)
        except PhoneError as exc:
            outcome.error = exc
        except requests.RequestException as exc:
            outcome.error = PhoneError("unreachable", str(exc), 0)
        self._record(outcome)

    def _record(self, outcome: Outcome) -> None:
        with self._changed:
            self.outcomes.append(outcome)
            self._changed.notify_all()
        if self.on_outcome is not None:
            self.on_outcome(outcome)

    def _record_error(self, exc: Exception) -> None:
        with self._changed:
            self.errors.append(exc)
            self._changed.notify_all()


def _other_pin(pin: str) -> str:
    """A PIN of the same length that is not ``pin`` (4 digits if none given)."""
    length = len(pin) if pin else 4
    for digit in "09":
        candidate = digit * length
        if candidate != pin:
            return candidate
    raise AssertionError("unreachable")  # pragma: no cover
