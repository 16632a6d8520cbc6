"""The register (both backends), the CRL and OCSP served over real HTTP, ``openssl verify
-crl_check`` with the fetched CRL, and revocation under concurrency."""

from __future__ import annotations

import base64
import datetime as dt
import subprocess
from pathlib import Path
from urllib.parse import quote

import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp

from psc_idp.db import db
from psc_idp.pki.authority import LocalPki, new_key
from psc_idp.pki.igc_sante import ORGANISATIONS, PERSONNES, CardHolder, IgcSante
from psc_idp.pki.models import IssuedCertificate
from psc_idp.pki.register import (
    find_registered,
    register_certificate,
    revoke_certificate,
    serial_hex,
)
from psc_idp.pki.verify import ChainRefused, check_not_revoked
from tests.pki.helpers import openssl_verify, pem
from tests.served import fire

HOLDER = CardHolder("810002813839", "DUPONT", "JEAN", "Médecin")


def _card(igc: IgcSante, serial: str = "2001234567"):
    made = igc.issue_card_certificates(
        HOLDER, card_serial=serial, card_type="CPS", auth_public_key=new_key().public_key(),
        sign_public_key=new_key().public_key(),
        not_after=dt.datetime.now(dt.UTC) + dt.timedelta(days=1095))
    register_certificate(made.auth, authority=PERSONNES, kind="card_auth", card_serial=serial)
    register_certificate(made.sign, authority=PERSONNES, kind="card_sign", card_serial=serial)
    return made


def _igc(app) -> IgcSante:
    return IgcSante.from_settings(app.extensions["psc_idp"].settings)


def test_register_find_revoke(make_app):
    app = make_app(demo=False)
    with app.app_context():
        igc = _igc(app)
        made = _card(igc)
        db.session.commit()
        row = find_registered(made.auth)
        assert row is not None and row.kind == "card_auth" and row.card_serial == "2001234567"
        assert row.serial == serial_hex(made.auth) == format(made.auth.serial_number, "x")
        assert row.sha256 == made.auth.fingerprint(hashes.SHA256()).hex()
        assert row.subject == made.auth.subject.rfc4514_string()
        assert row.not_after == made.auth.not_valid_after_utc.replace(tzinfo=None)
        check_not_revoked(made.auth)

        # a certificate from elsewhere reusing the serial is not ours
        other = IgcSante(LocalPki(Path(app.instance_path) / "other-pki"), "x")
        foreign = other.issue_software_certificate(client_id="x", organisation="x",
                                                   public_key=new_key().public_key())
        assert find_registered(foreign) is None
        check_not_revoked(foreign)  # unknown to the register: not refused here

        assert revoke_certificate(row.serial.upper(), x509.ReasonFlags.key_compromise)
        assert not revoke_certificate(row.serial, x509.ReasonFlags.superseded)
        assert not revoke_certificate("00ff", x509.ReasonFlags.superseded)
        db.session.commit()
        db.session.expire_all()
        again = find_registered(made.auth)
        assert again.revoked_at is not None and again.revocation_reason == "key_compromise"
        try:
            check_not_revoked(made.auth)
        except ChainRefused as refused:
            assert refused.reason == "revoked" and "révoqué" in refused.message_fr
        else:
            raise AssertionError("a revoked certificate passed")
        check_not_revoked(made.sign)  # the other certificate of the card stays valid


def test_crl_and_ca_over_http_and_openssl_crl_check(make_live, tmp_path: Path):
    live = make_live()
    app = live.app
    with app.app_context():
        igc = _igc(app)
        revoked, kept = _card(igc, "2000000001"), _card(igc, "2000000002")
        software = igc.issue_software_certificate(client_id="rp", organisation="RP",
                                                  public_key=new_key().public_key())
        register_certificate(software, authority=ORGANISATIONS, kind="software_client",
                             client_id="rp")
        assert revoke_certificate(serial_hex(revoked.auth), x509.ReasonFlags.key_compromise)
        db.session.commit()
        crl_url = igc.crl_url(PERSONNES)
    assert crl_url == f"{live.base_url}/pki/crl/personnes.crl"

    response = requests.get(crl_url, timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/pkix-crl"
    crl = x509.load_der_x509_crl(response.content)
    ca = igc.personnes_ca().certificate
    assert crl.is_signature_valid(ca.public_key()) and crl.issuer == ca.subject
    assert {c.serial_number for c in crl} == {revoked.auth.serial_number}
    entry = crl.get_revoked_certificate_by_serial_number(revoked.auth.serial_number)
    assert entry.extensions.get_extension_for_class(x509.CRLReason).value.reason == \
        x509.ReasonFlags.key_compromise
    assert crl.next_update_utc - crl.last_update_utc <= dt.timedelta(minutes=10)
    assert crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number > 0

    organisations = x509.load_der_x509_crl(
        requests.get(f"{live.base_url}/pki/crl/organisations.crl", timeout=10).content)
    assert len(organisations) == 0
    assert organisations.is_signature_valid(igc.organisations_ca().certificate.public_key())
    root_crl = x509.load_der_x509_crl(
        requests.get(f"{live.base_url}/pki/crl/root.crl", timeout=10).content)
    assert len(root_crl) == 0 and root_crl.is_signature_valid(igc.trust_anchor().public_key())
    for unknown in ("services", "..%2Fetc", "PERSONNES", "root-ca"):
        assert requests.get(f"{live.base_url}/pki/crl/{unknown}.crl", timeout=10).status_code \
            == 404
    for name, expected in (("root", igc.trust_anchor()), ("personnes", ca),
                           ("organisations", igc.organisations_ca().certificate)):
        got = requests.get(f"{live.base_url}/pki/ca/{name}.crt", timeout=10)
        assert got.status_code == 200
        assert x509.load_pem_x509_certificate(got.content) == expected
    assert requests.get(f"{live.base_url}/pki/ca/services.crt", timeout=10).status_code == 404

    crl_file = tmp_path / "personnes.crl.pem"
    crl_file.write_bytes(crl.public_bytes(serialization.Encoding.PEM))
    both = tmp_path / "both.crl.pem"
    both.write_bytes(crl.public_bytes(serialization.Encoding.PEM)
                     + root_crl.public_bytes(serialization.Encoding.PEM))
    root, issuing = igc.pki.root_cert_path, pem(tmp_path / "ca.pem", ca)
    for made, ok in ((kept, True), (revoked, False)):
        leaf = pem(tmp_path / "leaf.pem", made.auth)
        for check, crls in (("-crl_check", crl_file), ("-crl_check_all", both)):
            done = openssl_verify(root, issuing, leaf, check, "-CRLfile", str(crls))
            assert (done.returncode == 0) is ok, check + done.stdout + done.stderr
            if not ok:
                assert "revoked" in (done.stdout + done.stderr)


def _ocsp(live, certificate: x509.Certificate, issuer: x509.Certificate) -> ocsp.OCSPResponse:
    request = ocsp.OCSPRequestBuilder().add_certificate(
        certificate, issuer, hashes.SHA256()).build()
    got = requests.post(f"{live.base_url}/pki/ocsp",
                        data=request.public_bytes(serialization.Encoding.DER),
                        headers={"Content-Type": "application/ocsp-request"}, timeout=10)
    assert got.status_code == 200
    assert got.headers["Content-Type"] == "application/ocsp-response"
    return ocsp.load_der_ocsp_response(got.content)


def test_ocsp_answers_from_the_register(make_live, tmp_path: Path):
    live = make_live()
    with live.app.app_context():
        igc = _igc(live.app)
        made = _card(igc)
        assert revoke_certificate(serial_hex(made.sign), x509.ReasonFlags.cessation_of_operation)
        db.session.commit()
    ca = igc.personnes_ca()
    good = _ocsp(live, made.auth, ca.certificate)
    assert good.response_status == ocsp.OCSPResponseStatus.SUCCESSFUL
    assert good.certificate_status == ocsp.OCSPCertStatus.GOOD
    ca.key.public_key().verify(good.signature, good.tbs_response_bytes,
                               ec.ECDSA(hashes.SHA256()))
    revoked = _ocsp(live, made.sign, ca.certificate)
    assert revoked.certificate_status == ocsp.OCSPCertStatus.REVOKED
    assert revoked.revocation_reason == x509.ReasonFlags.cessation_of_operation
    unregistered = igc.issue_software_certificate(client_id="x", organisation="x",
                                                  public_key=new_key().public_key())
    unknown = _ocsp(live, unregistered, igc.organisations_ca().certificate)
    assert unknown.certificate_status == ocsp.OCSPCertStatus.UNKNOWN
    foreign = IgcSante(LocalPki(tmp_path / "other"), "x")
    other_leaf = foreign.issue_software_certificate(client_id="y", organisation="y",
                                                    public_key=new_key().public_key())
    refused = _ocsp(live, other_leaf, foreign.organisations_ca().certificate)
    assert refused.response_status == ocsp.OCSPResponseStatus.UNAUTHORIZED
    for certificate, status in ((made.auth, "good"), (made.sign, "revoked")):
        done = subprocess.run(
            ["openssl", "ocsp", "-issuer", str(pem(tmp_path / "issuer.pem", ca.certificate)),
             "-cert", str(pem(tmp_path / "cert.pem", certificate)),
             "-url", f"{live.base_url}/pki/ocsp", "-CAfile", str(igc.pki.root_cert_path)],
            capture_output=True, text=True, timeout=30)
        assert done.returncode == 0, done.stderr
        assert "Response verify OK" in done.stderr + done.stdout
        assert f"cert.pem: {status}" in done.stdout, done.stdout
    sha1 = hashes.SHA1()  # noqa: S303 - the CertID hash openssl ocsp sends by default
    der = ocsp.OCSPRequestBuilder().add_certificate(made.sign, ca.certificate, sha1).build() \
        .public_bytes(serialization.Encoding.DER)
    by_get = requests.get(f"{live.base_url}/pki/ocsp/"
                          + quote(base64.b64encode(der).decode(), safe=""), timeout=10)
    assert by_get.headers["Content-Type"] == "application/ocsp-response"
    assert ocsp.load_der_ocsp_response(by_get.content).certificate_status == \
        ocsp.OCSPCertStatus.REVOKED
    bad_get = requests.get(f"{live.base_url}/pki/ocsp/%%%", timeout=10)
    assert ocsp.load_der_ocsp_response(bad_get.content).response_status == \
        ocsp.OCSPResponseStatus.MALFORMED_REQUEST
    garbage = requests.post(f"{live.base_url}/pki/ocsp", data=b"nonsense", timeout=10)
    assert garbage.status_code == 200
    assert ocsp.load_der_ocsp_response(garbage.content).response_status == \
        ocsp.OCSPResponseStatus.MALFORMED_REQUEST


def test_parallel_revocations_one_winner(make_app):
    app = make_app(demo=False)
    with app.app_context():
        made = _card(_igc(app))
        db.session.commit()
        serial = serial_hex(made.auth)

    def revoke(i: int) -> bool:
        with app.app_context():
            reason = (x509.ReasonFlags.key_compromise if i % 2
                      else x509.ReasonFlags.superseded)
            done = revoke_certificate(serial, reason)
            db.session.commit()
            return done

    results = fire(6, revoke)
    assert results.count(True) == 1, results
    with app.app_context():
        row = db.session.get(IssuedCertificate, serial)
        winner = results.index(True)
        assert row.revocation_reason == ("key_compromise" if winner % 2 else "superseded")


def test_unreadable_authority_is_503_not_500(make_live, tmp_path: Path):
    live = make_live(keys_dir=str(tmp_path / "keys"))
    base = f"{live.base_url}/pki"
    assert requests.get(f"{base}/crl/personnes.crl", timeout=10).status_code == 200
    elsewhere = IgcSante(LocalPki(tmp_path / "elsewhere"), "x")
    leaf = elsewhere.issue_software_certificate(client_id="x", organisation="x",
                                                public_key=new_key().public_key())
    asked = ocsp.OCSPRequestBuilder().add_certificate(
        leaf, elsewhere.organisations_ca().certificate, hashes.SHA256()).build()
    (tmp_path / "keys" / "pki" / "personnes-ca.crt").write_text("not a certificate")
    for got in (requests.get(f"{base}/crl/personnes.crl", timeout=10),
                requests.get(f"{base}/ca/personnes.crt", timeout=10),
                requests.post(f"{base}/ocsp", timeout=10,
                              data=asked.public_bytes(serialization.Encoding.DER))):
        assert got.status_code == 503, got.text
        assert "indisponible" in got.text
