"""Activation with a CPx card, behind ``CardActivationVerifier`` (psc_idp/credentials/card.py).

No verifier is installed by default: the API says so clearly. A test verifier stands in for
the card issue: a test CA issues the professional's card certificate (keys generated here, at
run time, never stored), the "card" signs the activation challenge with ECDSA P-256 or RSA,
and the verifier checks the chain, the validity, the national id and the signature. The
resulting e-CPS then approves a real push login.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
import requests
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID

from clients.ecps_app.phone import EcpsPhone, PhoneError
from psc_idp.audit import AuditEvent
from psc_idp.credentials.card import (
    CardActivationVerifier,
    CardProof,
    CardProofRejected,
    register_card_verifier,
)
from psc_idp.db import db
from tests.ecps.test_mobile_api import GP, NURSE, PIN
from tests.ecps.test_push_login import ecps_login

API = "/api/mobile/v1"


def _name(common_name: str, serial: str | None = None) -> x509.Name:
    attributes = [x509.NameAttribute(NameOID.COUNTRY_NAME, "FR"),
                  x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if serial:
        attributes.append(x509.NameAttribute(NameOID.SERIAL_NUMBER, serial))
    return x509.Name(attributes)


class TestCa:
    """A certification authority for the test (a stand-in for IGC-Santé)."""

    __test__ = False

    def __init__(self) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        now = dt.datetime.now(dt.UTC)
        self.cert = (x509.CertificateBuilder().subject_name(_name("Test CPS CA"))
                     .issuer_name(_name("Test CPS CA")).public_key(self.key.public_key())
                     .serial_number(x509.random_serial_number())
                     .not_valid_before(now - dt.timedelta(days=1))
                     .not_valid_after(now + dt.timedelta(days=30))
                     .add_extension(x509.BasicConstraints(ca=True, path_length=0), True)
                     .sign(self.key, hashes.SHA256()))

    def card(self, national_id: str, kind: str = "ec", days: int = 30) -> Card:
        key = (ec.generate_private_key(ec.SECP256R1()) if kind == "ec"
               else rsa.generate_private_key(public_exponent=65537, key_size=2048))
        now = dt.datetime.now(dt.UTC)
        cert = (x509.CertificateBuilder().subject_name(_name("Carte CPS", national_id))
                .issuer_name(self.cert.subject).public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - dt.timedelta(days=2))
                .not_valid_after(now + dt.timedelta(days=days))
                .sign(self.key, hashes.SHA256()))
        return Card(key, cert)


class Card:
    """The card: a private key that never leaves it, and its certificate."""

    def __init__(self, key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey,
                 cert: x509.Certificate):
        self.key, self.cert = key, cert
        self.signed: list[bytes] = []

    @property
    def pem(self) -> str:
        return self.cert.public_bytes(serialization.Encoding.PEM).decode()

    def sign(self, data: bytes) -> bytes:
        self.signed.append(data)
        if isinstance(self.key, ec.EllipticCurvePrivateKey):
            return self.key.sign(data, ec.ECDSA(hashes.SHA256()))
        return self.key.sign(data, padding.PKCS1v15(), hashes.SHA256())

    def __call__(self, challenge: bytes) -> tuple[str, bytes]:
        return self.pem, self.sign(challenge)


class X509CardVerifier:
    """What the card issue will provide, reduced: chain to one CA, validity, the professional's
    national id in the subject's serialNumber, the signature over the challenge."""

    def __init__(self, ca: x509.Certificate):
        self.ca = ca

    def verify(self, proof: CardProof) -> None:
        try:
            cert = x509.load_pem_x509_certificate(proof.certificate_pem.encode())
        except ValueError:
            raise CardProofRejected("not an X.509 certificate") from None
        try:
            cert.verify_directly_issued_by(self.ca)
        except (ValueError, TypeError, InvalidSignature):
            raise CardProofRejected("certificate not issued by a trusted authority") from None
        now = dt.datetime.now(dt.UTC)
        if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
            raise CardProofRejected("certificate not valid now")
        serials = cert.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)
        if [a.value for a in serials] != [proof.national_id]:
            raise CardProofRejected("certificate of another professional")
        key = cert.public_key()
        try:
            if isinstance(key, ec.EllipticCurvePublicKey):
                key.verify(proof.signature, proof.challenge, ec.ECDSA(hashes.SHA256()))
            elif isinstance(key, rsa.RSAPublicKey):
                key.verify(proof.signature, proof.challenge, padding.PKCS1v15(),
                           hashes.SHA256())
            else:
                raise CardProofRejected("unsupported card key")
        except InvalidSignature:
            raise CardProofRejected("the signature does not verify") from None


@pytest.fixture
def ca() -> TestCa:
    return TestCa()


@pytest.fixture
def with_verifier(live, ca) -> Callable[[], None]:
    verifier = X509CardVerifier(ca.cert)
    assert isinstance(verifier, CardActivationVerifier)
    register_card_verifier(live.app, verifier)
    return verifier


def _audit(live, event: str) -> list[AuditEvent]:
    with live.app.app_context():
        return list(db.session.scalars(db.select(AuditEvent).where(AuditEvent.event == event)))


def test_without_a_verifier_the_card_path_is_a_clear_error(live, tmp_path):
    register_card_verifier(live.app, None)  # create_app installs the IGC-Santé one: remove it
    answer = requests.post(live.base_url + API + "/activations", timeout=10,
                           json={"national_id": GP, "method": "card"})
    assert answer.status_code == 400
    body = answer.json()
    assert body["error"] == "unsupported_method"
    assert "card verifier" in body["error_description"]
    answer = requests.post(live.base_url + API + "/activations", timeout=10,
                           json={"national_id": GP, "method": "pigeon"})
    assert answer.status_code == 400 and answer.json()["error"] == "unsupported_method"


@pytest.mark.parametrize("kind", ["ec", "rsa"])
def test_card_activation_gives_a_usable_ecps(live, with_verifier, ca, tmp_path, kind):
    card = ca.card(GP, kind)
    phone = EcpsPhone(live.base_url, tmp_path / "card-phone", GP)
    device = phone.activate_with_card(PIN, card, device_name="activated with the card")
    assert device["status"] == "usable" and device["name"] == "activated with the card"
    [challenge] = card.signed
    assert challenge.startswith(b"psc-idp-ecps-activation.")
    [started] = [e for e in _audit(live, "ecps.activation_started")]
    assert started.details["method"] == "card"
    # the e-CPS works: a push login approved with the PIN
    login = ecps_login(live)
    login.push()
    assert phone.answer_next("approve", PIN, wait=5)["status"] == "approved"
    done = login.finish()
    assert done.status_code == 302 and "code=" in done.headers["Location"]


def _start(live) -> dict:
    answer = requests.post(live.base_url + API + "/activations", timeout=10,
                           json={"national_id": GP, "method": "card"})
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["method"] == "card" and body["card_challenge"]
    return body


def _prove(live, activation_id: str, certificate: str, signature: bytes | str
           ) -> requests.Response:
    import base64

    encoded = signature if isinstance(signature, str) else \
        base64.urlsafe_b64encode(signature).rstrip(b"=").decode()
    return requests.post(f"{live.base_url}{API}/activations/{activation_id}/card", timeout=10,
                         json={"certificate": certificate, "signature": encoded})


def test_refused_card_proofs(live, with_verifier, ca):
    started = _start(live)
    challenge = started["card_challenge"].encode()
    mine = ca.card(GP)
    cases = {
        "another professional's card": (ca.card(NURSE).pem, ca.card(NURSE).sign(challenge)),
        "a signature over something else": (mine.pem, mine.sign(b"something else")),
        "not a certificate": ("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----",
                              mine.sign(challenge)),
        "a card from another authority": (TestCa().card(GP).pem, mine.sign(challenge)),
        "an expired card": (ca.card(GP, days=-1).pem, mine.sign(challenge)),
    }
    for attempt, (certificate, signature) in enumerate(cases.values(), start=1):
        answer = _prove(live, started["activation_id"], certificate, signature)
        if attempt < 5:
            assert answer.status_code == 403, answer.text
            assert answer.json()["error"] == "invalid_card_proof"
    refused = _audit(live, "ecps.card_proof_refused")
    assert len(refused) == 5 and all(r.subject == GP for r in refused)
    assert refused[0].details["reason"] == "certificate of another professional"
    # 5 refusals (ecps.code_attempts) void the activation: even the right proof is refused
    answer = _prove(live, started["activation_id"], mine.pem, mine.sign(challenge))
    assert answer.status_code == 409 and answer.json()["error"] == "activation_closed"


def test_malformed_signatures_and_methods_are_client_errors(live, with_verifier, ca, tmp_path):
    started = _start(live)
    mine = ca.card(GP)
    answer = _prove(live, started["activation_id"], mine.pem, "!!not base64!!")
    assert answer.status_code == 403 and answer.json()["error"] == "invalid_card_proof"
    # codes are not a card proof, and a card proof is not for a contact activation
    answer = requests.post(f"{live.base_url}{API}/activations/{started['activation_id']}/verify",
                           json={"email_code": "000000", "sms_code": "000000"}, timeout=10)
    assert answer.status_code == 409 and answer.json()["error"] == "wrong_method"
    contact = requests.post(live.base_url + API + "/activations", timeout=10,
                            json={"national_id": GP}).json()
    assert contact["method"] == "contact"
    answer = _prove(live, contact["activation_id"], mine.pem, mine.sign(b"x"))
    assert answer.status_code == 409 and answer.json()["error"] == "wrong_method"
    answer = _prove(live, "no-such-activation", mine.pem, mine.sign(b"x"))
    assert answer.status_code == 404
    # the right proof still works after those
    challenge = started["card_challenge"].encode()
    answer = _prove(live, started["activation_id"], mine.pem, mine.sign(challenge))
    assert answer.status_code == 200 and answer.json()["activation_token"]
    again = _prove(live, started["activation_id"], mine.pem, mine.sign(challenge))
    assert again.status_code == 409  # accepted once


def test_the_challenge_is_bound_to_its_activation(live, with_verifier, ca):
    first, second = _start(live), _start(live)
    assert first["card_challenge"] != second["card_challenge"]
    mine = ca.card(GP)
    answer = _prove(live, second["activation_id"], mine.pem,
                    mine.sign(first["card_challenge"].encode()))
    assert answer.status_code == 403


def test_card_activation_refused_when_means_are_blocked(live, with_verifier):
    answer = requests.post(live.base_url + API + "/activations", timeout=10,
                           json={"national_id": "810099900150", "method": "card"})
    assert answer.status_code == 403 and answer.json()["error"] == "means_blocked"


def test_removing_the_verifier_closes_the_card_path(live, with_verifier, tmp_path, ca):
    register_card_verifier(live.app, None)
    with pytest.raises(PhoneError) as refused:
        EcpsPhone(live.base_url, tmp_path / "p", GP).activate_with_card(PIN, ca.card(GP))
    assert refused.value.code == "unsupported_method" and refused.value.status == 400
    with pytest.raises(TypeError):
        register_card_verifier(live.app, object())  # type: ignore[arg-type]
