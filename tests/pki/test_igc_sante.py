"""The emulated IGC-Santé's certificates (no database): profiles, chains checked by
``cryptography`` and by ``openssl verify``, and ``verify_client_chain``'s refusals."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from psc_idp.pki.authority import LocalPki, new_key
from psc_idp.pki.igc_sante import (
    CARD_AUTH_POLICY,
    CARD_SIGN_POLICY,
    ORGANISATIONS,
    PERSONNES,
    SOFTWARE_POLICY,
    CardHolder,
    IgcSante,
    card_details,
    national_id_of,
)
from psc_idp.pki.verify import ChainRefused, verify_client_chain
from tests.pki.helpers import openssl_verify, pem

BASE = "http://127.0.0.1:5999/pki"
NOW = dt.datetime.now(dt.UTC)
DOCTOR = CardHolder("810002813839", "DUPONT", "JEAN", "Médecin")
STAFF = CardHolder("30B0168811/CPET00001", "MARTIN", "CLAIRE", "",
                   structure_id="30B0168811", structure_name="CLINIQUE TEST")


@pytest.fixture(scope="module")
def igc(tmp_path_factory: pytest.TempPathFactory) -> IgcSante:
    return IgcSante(LocalPki(tmp_path_factory.mktemp("igc") / "pki"), BASE)


def _card(igc: IgcSante, holder: CardHolder = DOCTOR, *, not_before: dt.datetime | None = None,
          not_after: dt.datetime | None = None, key_kind: str = "rsa"):
    return igc.issue_card_certificates(
        holder, card_serial="2001234567", card_type="CPS" if holder is DOCTOR else "CPE",
        auth_public_key=new_key(key_kind).public_key(),
        sign_public_key=new_key(key_kind).public_key(),
        not_after=not_after or NOW + dt.timedelta(days=1095), not_before=not_before)


def _ext(certificate: x509.Certificate, kind: type) -> object:
    return certificate.extensions.get_extension_for_class(kind).value


def test_same_root_and_two_issuing_cas_marked_test(igc):
    pki = igc.pki
    assert igc.trust_anchor() == pki.root().certificate
    assert pki.root_cert_path.exists()
    for name, ca in ((PERSONNES, igc.personnes_ca()), (ORGANISATIONS, igc.organisations_ca())):
        ca.certificate.verify_directly_issued_by(igc.trust_anchor())
        subject = ca.certificate.subject.rfc4514_string()
        assert "PSC-IDP TEST AC IGC-SANTE" in subject and "not IGC-Santé" in subject
        assert ca.cert_path == pki.folder / f"{name}-ca.crt"
        constraints = _ext(ca.certificate, x509.BasicConstraints)
        assert constraints.ca and constraints.path_length == 0
    assert igc.client_ca_names() == [igc.trust_anchor().subject,
                                     igc.personnes_ca().certificate.subject,
                                     igc.organisations_ca().certificate.subject]
    again = IgcSante(LocalPki(pki.folder), BASE)
    assert again.personnes_ca().certificate == igc.personnes_ca().certificate


def test_card_certificates_profile(igc):
    card = _card(igc)
    assert card.chain == [igc.personnes_ca().certificate, igc.trust_anchor()]
    assert card.auth.subject == card.sign.subject
    assert card.auth.subject.rfc4514_string() == (
        "2.5.4.42=JEAN+2.5.4.4=DUPONT+CN=810002813839,2.5.4.12=Médecin,C=FR")
    assert national_id_of(card.auth) == "810002813839"
    assert card_details(card.auth) == card_details(card.sign) == ("CPS", "2001234567")

    auth_usage = _ext(card.auth, x509.KeyUsage)
    assert auth_usage.digital_signature and not auth_usage.content_commitment
    assert list(_ext(card.auth, x509.ExtendedKeyUsage)) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    sign_usage = _ext(card.sign, x509.KeyUsage)
    assert sign_usage.content_commitment and not sign_usage.digital_signature
    with pytest.raises(x509.ExtensionNotFound):
        card.sign.extensions.get_extension_for_class(x509.ExtendedKeyUsage)

    for certificate, policy in ((card.auth, CARD_AUTH_POLICY), (card.sign, CARD_SIGN_POLICY)):
        policies = _ext(certificate, x509.CertificatePolicies)
        assert [p.policy_identifier for p in policies] == [policy]
        points = _ext(certificate, x509.CRLDistributionPoints)
        assert [n.value for p in points for n in p.full_name] == [f"{BASE}/crl/personnes.crl"]
        aki = _ext(certificate, x509.AuthorityKeyIdentifier)
        ca_ski = _ext(igc.personnes_ca().certificate, x509.SubjectKeyIdentifier)
        assert aki.key_identifier == ca_ski.digest
        assert _ext(certificate, x509.SubjectKeyIdentifier)
        assert not _ext(certificate, x509.BasicConstraints).ca
        assert certificate.not_valid_after_utc.date() == (NOW + dt.timedelta(days=1095)).date()


def test_staff_card_names_its_structure(igc):
    card = _card(igc, STAFF)
    subject = card.auth.subject
    assert subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)[0].value == \
        "30B0168811"
    assert subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "CLINIQUE TEST"
    assert not subject.get_attributes_for_oid(NameOID.TITLE)
    assert national_id_of(card.auth) == "30B0168811/CPET00001"
    assert card_details(card.auth) == ("CPE", "2001234567")


def test_software_certificate_profile(igc):
    client = igc.issue_software_certificate(client_id="rp-one", organisation="Clinique Test",
                                            public_key=new_key().public_key())
    assert client.subject.rfc4514_string() == "CN=rp-one,O=Clinique Test,C=FR"
    assert list(_ext(client, x509.ExtendedKeyUsage)) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    assert [p.policy_identifier for p in _ext(client, x509.CertificatePolicies)] == \
        [SOFTWARE_POLICY]
    assert card_details(client) is None
    client.verify_directly_issued_by(igc.organisations_ca().certificate)
    assert (client.not_valid_after_utc - NOW).days in (1094, 1095)

    server = igc.issue_software_certificate(client_id="rp-two", organisation="Clinique Test",
                                            public_key=new_key("rsa").public_key(),
                                            hosts=["rp.example", "127.0.0.1"], lifetime_days=30)
    assert set(_ext(server, x509.ExtendedKeyUsage)) == {ExtendedKeyUsageOID.CLIENT_AUTH,
                                                        ExtendedKeyUsageOID.SERVER_AUTH}
    names = _ext(server, x509.SubjectAlternativeName)
    assert names.get_values_for_type(x509.DNSName) == ["rp.example"]
    assert _ext(server, x509.KeyUsage).key_encipherment
    assert [n.value for p in _ext(server, x509.CRLDistributionPoints) for n in p.full_name] == \
        [f"{BASE}/crl/organisations.crl"]


@pytest.mark.parametrize("kind", ["card", "software"])
def test_chains_verify_with_cryptography_and_openssl(igc, tmp_path: Path, kind: str):
    if kind == "card":
        leaf, issuing = _card(igc).auth, igc.personnes_ca().certificate
    else:
        leaf = igc.issue_software_certificate(client_id="rp", organisation="O",
                                              public_key=new_key().public_key())
        issuing = igc.organisations_ca().certificate
    path = verify_client_chain(leaf, [issuing], anchors=[igc.trust_anchor()])
    assert path == [leaf, issuing, igc.trust_anchor()]
    done = openssl_verify(igc.pki.root_cert_path, pem(tmp_path / "ca.pem", issuing),
                          pem(tmp_path / "leaf.pem", leaf), "-purpose", "sslclient")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith(": OK")


def test_openssl_refuses_a_chain_to_another_root(igc, tmp_path: Path):
    other = IgcSante(LocalPki(tmp_path / "other"), BASE)
    leaf = _card(other).auth
    done = openssl_verify(igc.pki.root_cert_path,
                          pem(tmp_path / "ca.pem", other.personnes_ca().certificate),
                          pem(tmp_path / "leaf.pem", leaf))
    assert done.returncode != 0


def _refusal(leaf: x509.Certificate, intermediates: list[x509.Certificate],
             anchors: list[x509.Certificate], at: dt.datetime | None = None) -> ChainRefused:
    with pytest.raises(ChainRefused) as caught:
        verify_client_chain(leaf, intermediates, anchors=anchors, at=at)
    assert caught.value.message_fr and caught.value.message_fr[0].isupper()
    return caught.value


def test_refusals(igc, tmp_path: Path):
    anchors = [igc.trust_anchor()]
    ca = igc.personnes_ca().certificate
    card = _card(igc)

    other = IgcSante(LocalPki(tmp_path / "other"), BASE)
    foreign = _card(other).auth
    assert _refusal(foreign, [other.personnes_ca().certificate], anchors).reason == \
        "unknown_authority"
    # a foreign leaf presented with our own intermediate: the signature does not match
    assert _refusal(foreign, [ca], anchors).reason == "unknown_authority"
    assert _refusal(card.auth, [], anchors).reason == "unknown_authority"  # no intermediate
    assert _refusal(card.auth, [ca], []).reason == "unknown_authority"

    expired = _card(igc, not_before=NOW - dt.timedelta(days=10),
                    not_after=NOW - dt.timedelta(days=1)).auth
    refused = _refusal(expired, [ca], anchors)
    assert refused.reason == "expired" and "expiré" in refused.message_fr
    assert _refusal(card.auth, [ca], anchors, at=NOW + dt.timedelta(days=1200)).reason == \
        "expired"

    future = _card(igc, not_before=NOW + dt.timedelta(days=2)).auth
    assert _refusal(future, [ca], anchors).reason == "not_yet_valid"
    naive_later = (NOW + dt.timedelta(days=3)).replace(tzinfo=None)
    assert verify_client_chain(future, [ca], anchors=anchors, at=naive_later)[0] == future

    assert _refusal(card.sign, [ca], anchors).reason == "wrong_usage"  # signature certificate
    assert _refusal(ca, [], anchors).reason == "wrong_usage"           # a CA is no client
    server_only = igc.pki.issuing_ca("services")
    from psc_idp.pki.authority import TLS_SERVER, issue, name
    tls_server = issue(server_only, name("rp.example"), new_key().public_key(),
                       lifetime_days=10, usage=TLS_SERVER, sans=["rp.example"])
    assert _refusal(tls_server, [server_only.certificate], anchors).reason == "wrong_usage"
