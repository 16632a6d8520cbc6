"""``psc-idp pki show`` and ``psc-idp pki issue-software-cert`` through the real console script
(a subprocess configured by ``PSC_IDP_*`` variables), on both backends."""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import ExtendedKeyUsageOID

from psc_idp.audit import AuditEvent
from psc_idp.db import db
from psc_idp.pki.authority import new_key
from psc_idp.pki.igc_sante import PERSONNES, CardHolder, IgcSante
from psc_idp.pki.models import IssuedCertificate
from psc_idp.pki.register import register_certificate, serial_hex
from psc_idp.pki.verify import verify_client_chain
from tests.pki.helpers import openssl_verify

PSC_IDP = Path(sys.executable).with_name("psc-idp")


def _run(database_url: str, folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PSC_IDP_")}
    env.update({"PSC_IDP_DATABASE_URL": database_url, "PSC_IDP_KEYS_DIR": str(folder / "keys"),
                "PSC_IDP_INSTANCE_DIR": str(folder), "PSC_IDP_MODE": "test",
                "PSC_IDP_LOG_LEVEL": "WARNING",
                "PSC_IDP_PUBLIC_URL": "http://127.0.0.1:5998"})
    return subprocess.run([str(PSC_IDP), *args], env=env, capture_output=True, text=True,
                          timeout=180, cwd=folder)


@pytest.mark.one_backend
def test_show_and_issue_software_certificate(make_app, backend, tmp_path: Path):
    app = make_app(demo=False)  # the backend's database, migrated and empty
    _, url = backend
    shown = _run(url, tmp_path, "pki", "show")
    assert shown.returncode == 0, shown.stderr
    described = json.loads(shown.stdout)
    for key in ("root_ca", "root_ca_subject", "root_ca_sha256", "services_ca", "personnes_ca",
                "organisations_ca", "crl_urls"):
        assert described[key], key
    assert described["crl_urls"] == {
        "personnes": "http://127.0.0.1:5998/pki/crl/personnes.crl",
        "organisations": "http://127.0.0.1:5998/pki/crl/organisations.crl"}
    for key in ("root_ca", "services_ca", "personnes_ca", "organisations_ca"):
        assert Path(described[key]).is_file()

    out = tmp_path / "out"
    done = _run(url, tmp_path, "pki", "issue-software-cert", "--client-id", "future-rp",
                "--out", str(out), "--organisation", "Clinique des Tests",
                "--host", "rp.example")
    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout)
    assert set(printed) >= {"serial", "subject", "sha256", "x5t#S256", "not_after",
                            "cert_file", "key_file", "ca_file"}
    assert printed["subject"] == "CN=future-rp,O=Clinique des Tests,C=FR"
    assert printed["client_registered"] is False
    assert stat.S_IMODE(os.stat(printed["key_file"]).st_mode) == 0o600
    chain = x509.load_pem_x509_certificates(Path(printed["cert_file"]).read_bytes())
    root = x509.load_pem_x509_certificate(Path(printed["ca_file"]).read_bytes())
    leaf = chain[0]
    assert len(chain) == 2 and root.subject == chain[1].issuer
    assert format(leaf.serial_number, "x") == printed["serial"]
    digest = leaf.fingerprint(hashes.SHA256())
    assert printed["sha256"] == digest.hex()
    assert printed["x5t#S256"] == base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    assert set(leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == {
        ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.SERVER_AUTH}
    key = serialization.load_pem_private_key(Path(printed["key_file"]).read_bytes(), None)
    assert key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo) == \
        leaf.public_key().public_bytes(serialization.Encoding.DER,
                                       serialization.PublicFormat.SubjectPublicKeyInfo)
    assert verify_client_chain(leaf, chain[1:], anchors=[root])[-1] == root
    assert openssl_verify(Path(printed["ca_file"]), Path(printed["cert_file"]),
                          Path(printed["cert_file"])).returncode == 0

    with app.app_context():
        row = db.session.get(IssuedCertificate, printed["serial"])
        assert row is not None and row.client_id == "future-rp"
        assert row.kind == "software_server" and row.authority == "organisations"
        audit = db.session.query(AuditEvent).filter_by(event="pki.certificate_issued").one()
        assert audit.client_id == "future-rp" and audit.details["serial"] == printed["serial"]

    revoked = _run(url, tmp_path, "pki", "revoke", "0x" + printed["serial"].upper(),
                   "--reason", "key_compromise")
    assert revoked.returncode == 0, revoked.stderr
    assert json.loads(revoked.stdout) == {"serial": printed["serial"], "revoked": True,
                                          "reason": "key_compromise"}
    again = _run(url, tmp_path, "pki", "revoke", printed["serial"])
    assert again.returncode == 1 and "already revoked" in again.stderr
    assert "Traceback" not in again.stderr
    with app.app_context():
        db.session.expire_all()
        row = db.session.get(IssuedCertificate, printed["serial"])
        assert row.revoked_at is not None and row.revocation_reason == "key_compromise"
        audit = db.session.query(AuditEvent).filter_by(event="pki.certificate_revoked").one()
        assert audit.client_id == "future-rp" and audit.details["reason"] == "key_compromise"


@pytest.mark.one_backend
def test_issue_errors_are_one_line(make_app, backend, tmp_path: Path):
    make_app(demo=False)
    _, url = backend
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    for args, expected in (
            (("--client-id", "rp", "--out", str(blocker / "sub")), "cannot create"),
            (("--client-id", " ", "--out", str(tmp_path / "o")), "--client-id"),
            (("--client-id", "x" * 65, "--out", str(tmp_path / "o")), "--client-id"),
            (("--out", str(tmp_path / "o")), "--client-id")):
        done = _run(url, tmp_path, "pki", "issue-software-cert", *args)
        assert done.returncode != 0
        assert "Traceback" not in done.stderr and expected in done.stderr, done.stderr
    unknown = _run(url, tmp_path, "pki", "revoke", "abc123")
    assert unknown.returncode == 1 and "no certificate" in unknown.stderr
    assert "Traceback" not in unknown.stderr


def test_card_certificates_are_revoked_with_the_card(make_app, backend, tmp_path: Path):
    app = make_app(demo=False)
    _, url = backend
    with app.app_context():
        igc = IgcSante.from_settings(app.extensions["psc_idp"].settings)
        made = igc.issue_card_certificates(
            CardHolder("810002813839", "DUPONT", "JEAN"), card_serial="2000000042",
            card_type="CPS", auth_public_key=new_key().public_key(),
            sign_public_key=new_key().public_key(),
            not_after=dt.datetime.now(dt.UTC) + dt.timedelta(days=30))
        register_certificate(made.auth, authority=PERSONNES, kind="card_auth",
                             card_serial="2000000042")
        db.session.commit()
        serial = serial_hex(made.auth)
    done = _run(url, tmp_path, "pki", "revoke", serial)
    assert done.returncode == 1 and "card lost 2000000042" in done.stderr, done.stderr
    with app.app_context():
        assert db.session.get(IssuedCertificate, serial).revoked_at is None
