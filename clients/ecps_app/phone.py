"""A virtual e-CPS phone over the mobile API: what the real app does, as a Python object.

It keeps its state (device key, device token, OTP seed) in a folder, activates with the contact
codes (read from the provider's outbox in demo/test mode), long-polls pending logins, and
approves or denies them with the PIN and an ECDSA P-256 signature by its key.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyotp
import requests
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

API = "/api/mobile/v1"


class PhoneError(RuntimeError):
    """The provider refused an operation; ``code`` is its ``error``."""

    def __init__(self, code: str, description: str, status: int):
        super().__init__(f"{code}: {description} (HTTP {status})")
        self.code = code
        self.status = status


@dataclass
class EcpsPhone:
    server: str
    home: Path
    national_id: str = ""

    def __post_init__(self) -> None:
        self.server = self.server.rstrip("/")
        self.home = Path(self.home)
        self.http = requests.Session()
        self.http.trust_env = False

    # ------------------------------------------------------------------ local state
    @property
    def _state_file(self) -> Path:
        return self.home / f"{self.national_id or 'device'}.json"

    def _load(self) -> dict[str, Any]:
        if not self._state_file.exists():
            raise PhoneError("not_activated", f"no e-CPS for {self.national_id} in {self.home}",
                             0)
        return json.loads(self._state_file.read_text())

    def _save(self, state: dict[str, Any]) -> None:
        self.home.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._state_file.write_text(json.dumps(state, indent=2))
        self._state_file.chmod(0o600)

    def _key(self) -> ec.EllipticCurvePrivateKey:
        pem = self._load()["private_key_pem"].encode()
        key = serialization.load_pem_private_key(pem, password=None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        return key

    # ------------------------------------------------------------------ HTTP
    def _call(self, method: str, path: str, *, token: bool = True, **kwargs: Any) -> Any:
        headers = kwargs.pop("headers", {})
        if token:
            headers["Authorization"] = "Bearer " + self._load()["device_token"]
        response = self.http.request(method, self.server + API + path, headers=headers,
                                     timeout=kwargs.pop("timeout", 35), **kwargs)
        body = response.json() if response.content else {}
        if response.status_code >= 400:
            raise PhoneError(body.get("error", "http_error"), body.get("error_description", ""),
                             response.status_code)
        return body

    # ------------------------------------------------------------------ activation
    def read_outbox_codes(self) -> tuple[str, str]:
        """demo/test mode: the newest e-mail and SMS codes sent to this professional."""
        response = self.http.get(self.server + "/api/admin/outbox",
                                 params={"national_id": self.national_id}, timeout=10)
        response.raise_for_status()
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
        key = ec.generate_private_key(ec.SECP256R1())
        public_pem = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
        device = self._call("POST", f"/activations/{started['activation_id']}/complete",
                            token=False, json={"activation_token": verified["activation_token"],
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
        return self._call("GET", "/challenges", params={"wait": wait})["challenges"]

    def sign(self, challenge_id: str, binding_code: str, decision: str) -> str:
        message = f"{challenge_id}.{binding_code}.{decision}".encode()
        signature = self._key().sign(message, ec.ECDSA(hashes.SHA256()))
        return base64.urlsafe_b64encode(signature).rstrip(b"=").decode()

    def answer(self, challenge: dict[str, Any], decision: str, pin: str) -> dict[str, Any]:
        signature = self.sign(challenge["challenge_id"], challenge["binding_code"], decision)
        return self._call("POST", f"/challenges/{challenge['challenge_id']}/answer",
                          json={"decision": decision, "pin": pin, "signature": signature})

    def answer_next(self, decision: str, pin: str, wait: float = 20) -> dict[str, Any]:
        """Wait for the next pending login and answer it; returns the answered challenge."""
        pending = self.pending(wait=wait)
        if not pending:
            raise PhoneError("no_pending_request", "nothing to answer", 0)
        return self.answer(pending[0], decision, pin)

    def otp(self) -> str:
        return pyotp.TOTP(self._load()["otp_secret"]).now()

    def device(self) -> dict[str, Any]:
        return self._call("GET", "/device")

    def devices(self) -> list[dict[str, Any]]:
        return self._call("GET", "/devices")["devices"]

    def revoke(self, device_id: str) -> dict[str, Any]:
        return self._call("DELETE", f"/devices/{device_id}")

    def card(self) -> dict[str, Any]:
        return self._call("GET", "/me/card")
