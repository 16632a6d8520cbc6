"""The chip of a virtual CPx card: a folder that behaves as the card's secure element.

Why a folder: the card reader (``clients/card_reader``), the tests and people's scripts all
need the same card, and a real chip keeps its own PIN counter whatever reader it sits in. The
folder is that chip; the provider never sees the PIN (as on PSC, where the Cryptolib CPS
middleware asks for it and the chip checks it). See docs/cards.md.

Folder (mode 0700)::

    card.json   public: serial, type, national_id, holder, structure, validity, the provider's
                issuer and trust anchor (so a reader can verify the server it talks to)
    auth.crt    the authentication certificate, then its chain (issuing CA, root)
    sign.crt    the signature certificate, then its chain
    auth.key    PKCS#8 PEM encrypted with the chip secret (mode 0600)
    sign.key    likewise
    chip.json   the chip's state (mode 0600): scrypt verifiers of the PIN and the PUK (never
                the codes), pin_tries_left (3), puk_tries_left (10), the chip secret
    .lock       the chip's lock file

Every state change takes an exclusive ``fcntl.flock`` on ``.lock`` and writes ``chip.json``
atomically (a temporary file then ``os.replace``). A try is spent *before* the code is checked
(as a chip writes its counter first: pulling the card out mid-check does not give a free try),
and given back on success; so two readers using one card at once never get a fourth try.

This is an emulation: a real chip never lets its keys out, here the chip secret sits in
``chip.json``. The API is what keeps callers honest (``tls_credentials`` and ``sign`` need the
PIN and spend tries).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import secrets
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature as InvalidSignatureError
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from ..filelock import exclusive

FORMAT = 1
PIN_TRIES = 3
"""Wrong PINs before the chip blocks (CPS cards: 3; issue 12, seeds)."""
PUK_TRIES = 10
"""Wrong PUKs before the chip is blocked for good. IAS-ECC cards commonly allow 10; the exact
CPS3/CPS4 value is unverified (docs/cards.md)."""
PIN_RE = re.compile(r"[0-9]{4}")
PUK_RE = re.compile(r"[0-9]{8}")

CARD_JSON, CHIP_JSON, LOCK = "card.json", "chip.json", ".lock"
AUTH_CRT, AUTH_KEY, SIGN_CRT, SIGN_KEY = "auth.crt", "auth.key", "sign.crt", "sign.key"
CARD_FILES = (CARD_JSON, CHIP_JSON, AUTH_CRT, AUTH_KEY, SIGN_CRT, SIGN_KEY)

# scrypt at interactive cost: 16 MiB, ~50 ms. The codes have few values, so the verifier only
# slows an attacker who copied chip.json without the chip secret... which sits beside it: the
# point is that no code is ever written in clear.
_SCRYPT = {"n": 2 ** 14, "r": 8, "p": 1, "dklen": 32}

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


class ChipError(Exception):
    """The chip refused; ``message`` is French, for the person holding the card."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class _WrongCode(ChipError):
    """A wrong code: the try is spent, ``tries_left`` says how many remain."""

    def __init__(self, code: str, tries_left: int, until: str):
        plural = "s" if tries_left > 1 else ""
        super().__init__(f"Code {code} incorrect : il reste {tries_left} essai{plural} avant "
                         f"{until}.")
        self.tries_left = tries_left


class WrongPin(_WrongCode):
    def __init__(self, tries_left: int):
        super().__init__("PIN", tries_left, "le blocage de la carte")


class ChipBlocked(ChipError):
    def __init__(self, message: str = ""):
        super().__init__(message or "Carte bloquée : trois codes PIN erronés. Débloquez-la avec "
                         "le code PUK (card-reader unblock --puk … --new-pin …).")


class WrongPuk(_WrongCode):
    def __init__(self, tries_left: int):
        super().__init__("PUK", tries_left, "le blocage définitif de la carte")


class PukBlocked(ChipError):
    def __init__(self) -> None:
        super().__init__("Carte définitivement bloquée : trop de codes PUK erronés. Demandez "
                         "une carte de remplacement.")


class BadCode(ChipError):
    """A code of the wrong shape: refused before the chip, no try spent."""


def check_pin_format(pin: str, what: str = "Le code PIN") -> str:
    if not isinstance(pin, str) or not PIN_RE.fullmatch(pin):
        raise BadCode(f"{what} est composé de 4 chiffres.")
    return pin


def check_puk_format(puk: str) -> str:
    if not isinstance(puk, str) or not PUK_RE.fullmatch(puk):
        raise BadCode("Le code PUK (code de déblocage) est composé de 8 chiffres.")
    return puk


# ----------------------------------------------------------------------------- verifiers
def _verifier(code: str) -> dict[str, str]:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(code.encode(), salt=salt, **_SCRYPT)
    return {"alg": "scrypt-16384-8-1", "salt": _b64(salt), "hash": _b64(digest)}


def _matches(verifier: dict[str, str], code: str) -> bool:
    digest = hashlib.scrypt(code.encode(), salt=_unb64(verifier["salt"]), **_SCRYPT)
    return hmac.compare_digest(digest, _unb64(verifier["hash"]))


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unb64(text: str) -> bytes:
    return base64.b64decode(text)


# ----------------------------------------------------------------------------- files
def _write_atomic(path: Path, data: bytes, mode: int = 0o600) -> None:
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _json_bytes(data: dict[str, Any]) -> bytes:
    return (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode()


def _pem_chain(chain: list[x509.Certificate]) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in chain)


def _encrypted_key(key: PrivateKey, secret: bytes) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.BestAvailableEncryption(secret))


def _locked(folder: Path) -> AbstractContextManager[None]:
    """The chip's exclusive lock: across threads (one open file description each) and
    processes."""
    return exclusive(folder / LOCK)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise ChipError(f"Carte illisible : {path.name} manquant dans {path.parent}.") from None
    except (OSError, ValueError) as exc:
        raise ChipError(f"Carte illisible : {path} ({exc}).") from None
    if not isinstance(data, dict):
        raise ChipError(f"Carte illisible : {path} n'est pas un objet JSON.")
    return data


def is_card_folder(folder: Path) -> bool:
    return (folder / CARD_JSON).is_file()


def read_meta(folder: Path) -> dict[str, Any]:
    """card.json (public)."""
    return _read_json(Path(folder) / CARD_JSON)


# ----------------------------------------------------------------------------- writing
def write_chip(folder: Path, *, meta: dict[str, Any], auth_chain: list[x509.Certificate],
               sign_chain: list[x509.Certificate], auth_key: PrivateKey, sign_key: PrivateKey,
               pin: str, puk: str) -> None:
    """A new card: fresh chip (new secret, these codes, full counters) and its certificates."""
    check_pin_format(pin)
    check_puk_format(puk)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(folder, 0o700)
    with _locked(folder):
        secret = secrets.token_urlsafe(32).encode()
        state = {"format": FORMAT, "secret": secret.decode(), "pin": _verifier(pin),
                 "puk": _verifier(puk), "pin_tries_left": PIN_TRIES,
                 "puk_tries_left": PUK_TRIES}
        _write_atomic(folder / CHIP_JSON, _json_bytes(state))
        _write_files(folder, meta, auth_chain, sign_chain, auth_key, sign_key, secret)


def rewrite_certificates(folder: Path, *, meta: dict[str, Any],
                         auth_chain: list[x509.Certificate],
                         sign_chain: list[x509.Certificate], auth_key: PrivateKey,
                         sign_key: PrivateKey) -> None:
    """Renewal: new keys and certificates under the same chip (codes and counters untouched)."""
    folder = Path(folder)
    with _locked(folder):
        state = _read_json(folder / CHIP_JSON)
        _write_files(folder, meta, auth_chain, sign_chain, auth_key, sign_key,
                     state["secret"].encode())


def copy_chip(source: Path, target: Path) -> None:
    """Put a copy of ``source``'s chip state (codes, counters, secret) in ``target``: a renewed
    card keeps its codes. ``rewrite_certificates(target, …)`` then writes the new card."""
    source, target = Path(source), Path(target)
    with _locked(source):
        data = (source / CHIP_JSON).read_bytes()
        json.loads(data)  # readable, or ValueError before anything is written
    target.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(target, 0o700)
    with _locked(target):
        _write_atomic(target / CHIP_JSON, data)


def _write_files(folder: Path, meta: dict[str, Any], auth_chain: list[x509.Certificate],
                 sign_chain: list[x509.Certificate], auth_key: PrivateKey,
                 sign_key: PrivateKey, secret: bytes) -> None:
    _write_atomic(folder / AUTH_KEY, _encrypted_key(auth_key, secret))
    _write_atomic(folder / SIGN_KEY, _encrypted_key(sign_key, secret))
    _write_atomic(folder / AUTH_CRT, _pem_chain(auth_chain), 0o644)
    _write_atomic(folder / SIGN_CRT, _pem_chain(sign_chain), 0o644)
    _write_atomic(folder / CARD_JSON, _json_bytes({"format": FORMAT, **meta}), 0o644)


# ----------------------------------------------------------------------------- the chip
class Chip:
    """One virtual card's chip. Cheap to open: every call reads the folder again."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)

    @classmethod
    def open(cls, folder: Path) -> Chip:
        folder = Path(folder)
        if not folder.is_dir():
            raise ChipError(f"Aucune carte dans {folder} (dossier absent).")
        for name in (CARD_JSON, CHIP_JSON, AUTH_CRT, AUTH_KEY):
            if not (folder / name).is_file():
                raise ChipError(f"{folder} n'est pas une carte CPx lisible ({name} manquant).")
        return cls(folder)

    # --------------------------------------------------------------- public reads
    def meta(self) -> dict[str, Any]:
        return read_meta(self.folder)

    def info(self) -> dict[str, Any]:
        meta, state = self.meta(), _read_json(self.folder / CHIP_JSON)
        return {"serial": meta.get("serial", ""), "type": meta.get("type", ""),
                "national_id": meta.get("national_id", ""), "holder": meta.get("holder", {}),
                "structure": meta.get("structure", ""),
                "not_after": meta.get("not_after", ""),
                "pin_tries_left": int(state["pin_tries_left"]),
                "puk_tries_left": int(state["puk_tries_left"]),
                "blocked": int(state["pin_tries_left"]) <= 0,
                "puk_blocked": int(state["puk_tries_left"]) <= 0}

    def certificate(self) -> x509.Certificate:
        """The authentication certificate (the first of auth.crt)."""
        return self.certificate_chain()[0]

    def certificate_chain(self, which: str = "auth") -> list[x509.Certificate]:
        path = self.folder / (AUTH_CRT if which == "auth" else SIGN_CRT)
        try:
            return x509.load_pem_x509_certificates(path.read_bytes())
        except (OSError, ValueError) as exc:
            raise ChipError(f"Carte illisible : {path} ({exc}).") from None

    # --------------------------------------------------------------- codes
    def verify_pin(self, pin: str) -> None:
        """3 wrong in a row block the chip; a right one gives the tries back."""
        check_pin_format(pin)
        with _locked(self.folder):
            self._verify_pin_locked(pin)

    def _verify_pin_locked(self, pin: str) -> dict[str, Any]:
        state = _read_json(self.folder / CHIP_JSON)
        if int(state["puk_tries_left"]) <= 0:
            raise PukBlocked()
        left = int(state["pin_tries_left"])
        if left <= 0:
            raise ChipBlocked()
        state["pin_tries_left"] = left - 1  # spent before the check, as a chip does
        self._save(state)
        if not _matches(state["pin"], pin):
            if left - 1 <= 0:
                raise ChipBlocked("Code PIN incorrect : la carte est maintenant bloquée. "
                                  "Débloquez-la avec le code PUK.")
            raise WrongPin(left - 1)
        state["pin_tries_left"] = PIN_TRIES
        self._save(state)
        return state

    def unblock(self, puk: str, new_pin: str) -> None:
        """The PUK sets a new PIN and gives back the PIN tries (10 wrong PUKs: blocked for
        good)."""
        check_puk_format(puk)
        check_pin_format(new_pin, "Le nouveau code PIN")
        with _locked(self.folder):
            state = _read_json(self.folder / CHIP_JSON)
            left = int(state["puk_tries_left"])
            if left <= 0:
                raise PukBlocked()
            state["puk_tries_left"] = left - 1
            self._save(state)
            if not _matches(state["puk"], puk):
                if left - 1 <= 0:
                    raise PukBlocked()
                raise WrongPuk(left - 1)
            state.update(puk_tries_left=PUK_TRIES, pin_tries_left=PIN_TRIES,
                         pin=_verifier(new_pin))
            self._save(state)

    def change_pin(self, pin: str, new_pin: str) -> None:
        """The current PIN (a try, as any verification) then the new one."""
        check_pin_format(pin)
        check_pin_format(new_pin, "Le nouveau code PIN")
        with _locked(self.folder):
            state = self._verify_pin_locked(pin)
            state["pin"] = _verifier(new_pin)
            self._save(state)

    # --------------------------------------------------------------- key use
    def tls_credentials(self, pin: str) -> tuple[Path, Path, bytes]:
        """After the PIN: what ``ssl.SSLContext.load_cert_chain(certfile, keyfile, password)``
        takes to present the card in a TLS handshake."""
        check_pin_format(pin)
        with _locked(self.folder):
            state = self._verify_pin_locked(pin)
        return self.folder / AUTH_CRT, self.folder / AUTH_KEY, state["secret"].encode()

    def sign(self, pin: str, data: bytes) -> bytes:
        """After the PIN, a signature of ``data`` with the authentication key: RSA PKCS#1 v1.5
        with SHA-256 (as the CPS's IAS-ECC applet), ECDSA with SHA-256 for an EC key."""
        check_pin_format(pin)
        with _locked(self.folder):
            state = self._verify_pin_locked(pin)
        key = self._private_key(AUTH_KEY, state["secret"].encode())
        if isinstance(key, rsa.RSAPrivateKey):
            return key.sign(data, padding.PKCS1v15(), hashes.SHA256())
        return key.sign(data, ec.ECDSA(hashes.SHA256()))

    def _private_key(self, name: str, secret: bytes) -> PrivateKey:
        try:
            key = serialization.load_pem_private_key((self.folder / name).read_bytes(),
                                                     password=secret)
        except (OSError, ValueError, TypeError) as exc:
            raise ChipError(f"Clé de la carte illisible ({name}): {exc}") from None
        if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
            raise ChipError(f"Clé de la carte d'un type inattendu ({name}).")
        return key

    def _save(self, state: dict[str, Any]) -> None:
        _write_atomic(self.folder / CHIP_JSON, _json_bytes(state))


def verify_signature(certificate: x509.Certificate, signature: bytes, data: bytes) -> bool:
    """Whether ``signature`` over ``data`` verifies with the certificate's key (the two
    algorithms ``Chip.sign`` uses)."""
    key = certificate.public_key()
    try:
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, data, ec.ECDSA(hashes.SHA256()))
        else:
            return False
    except (ValueError, TypeError, InvalidSignatureError):
        return False
    return True

