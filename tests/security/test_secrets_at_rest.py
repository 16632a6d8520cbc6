"""Secrets at rest (issue 11 item 7): activation codes, the outbox's copies of them, and PINs.

In production mode, after an activation starts, no code is left in clear in any row of the
database (every table's text is dumped and searched), and what is kept of them is a keyed hash
(HMAC-SHA-256 under ``keys_dir/at-rest.key``, never in the database): neither the plain SHA-256
of a code nor the code itself can be found, the same code gives another digest in another
activation, and another key gives another digest. The activation still completes with the
codes the professional received (an outbox sender stands for the SMS gateway and SMTP). In
demo/test mode the outbox page still shows the codes, which the virtual e-CPS app reads.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
from pathlib import Path
from typing import Any

import requests
import sqlalchemy as sa

from clients.ecps_app.phone import EcpsPhone
from psc_idp import hashing
from psc_idp.credentials import ecps
from psc_idp.credentials.models import EcpsActivation, EcpsDevice, OutboxMessage
from psc_idp.db import db
from psc_idp.directory.demo_data import as_directory_document
from psc_idp.directory.loader import load_directory, parse_directory_document
from tests.conftest import LiveServer, free_port

GP = "810099900010"
PIN = "4321"
API = "/api/mobile/v1"


def production(make_app) -> LiveServer:
    """A production-mode provider (e-CPS means only, no demo data, no admin API), its
    directory loaded as an operator would, and a sender keeping what it is handed."""
    port = free_port()
    app = make_app(demo=False, mode="production", public_url=f"http://127.0.0.1:{port}",
                   authenticators={"ecps": {}, "ecps_otp": {}}, ecps={"activation_delay": 0})
    assert app.extensions["psc_idp"].settings.is_production
    with app.app_context():
        load_directory(db.session, parse_directory_document(as_directory_document()))
        db.session.commit()
    provider = app.extensions["psc_idp"]
    provider.delivered = []
    provider.senders.append(lambda m: provider.delivered.append((m.channel, m.body)))
    return LiveServer(app, port)


def delivered_codes(live: LiveServer) -> dict[str, str]:
    codes: dict[str, str] = {}
    for channel, body in reversed(live.app.extensions["psc_idp"].delivered):
        codes.setdefault(channel, re.search(r"\b(\d{6})\b", body).group(1))
    return codes


def database_text(live: LiveServer) -> str:
    """Every value of every row of every table, as text."""
    lines = []
    with live.app.app_context():
        for table in db.metadata.sorted_tables:
            for row in db.session.execute(sa.select(table)):
                lines.append(f"{table.name}: " + " | ".join(str(v) for v in row))
    return "\n".join(lines)


def found(code: str, text: str) -> bool:
    return re.search(rf"(?<![0-9]){code}(?![0-9])", text) is not None


def start(live: LiveServer) -> dict[str, Any]:
    answer = requests.post(live.base_url + API + "/activations", json={"national_id": GP},
                           timeout=30)
    assert answer.status_code == 201, answer.text
    return answer.json()


def test_production_keeps_no_activation_code_in_clear_and_still_activates(make_app, tmp_path):
    live = production(make_app)
    try:
        started = start(live)
        codes = delivered_codes(live)
        assert set(codes) == {"email", "sms"}
        dump = database_text(live)
        for code in codes.values():
            assert not found(code, dump), "an activation code is in the database in clear"
            assert hashlib.sha256(code.encode()).hexdigest() not in dump  # no unkeyed digest
        with live.app.app_context():
            outbox = list(db.session.scalars(db.select(OutboxMessage)))
            activation = db.session.get(EcpsActivation, started["activation_id"])
            assert len(outbox) == 2 and all("[masqué]" in m.body for m in outbox)
            assert not any(re.search(r"\d{6}", m.body) for m in outbox)
            # keyed: the digest is the HMAC under the at-rest key, bound to this activation
            keyed = hashing.keyed_hash(live.app.extensions["psc_idp"].settings.keys_dir)
            assert activation.email_code_digest == keyed.digest(
                ecps.CODE_PURPOSE, activation.id, "email", codes["email"])
            assert activation.sms_code_digest.startswith("k1$")
            assert keyed.digest(ecps.CODE_PURPOSE, "another-activation", "email",
                                codes["email"]) != activation.email_code_digest
            other_key = hashing.KeyedHash(os.urandom(32))
            assert other_key.digest(ecps.CODE_PURPOSE, activation.id, "email",
                                    codes["email"]) != activation.email_code_digest

        # the professional types the codes received: the activation completes
        phone = EcpsPhone(live.base_url, tmp_path / "phone", GP)
        phone.read_outbox_codes = lambda: (delivered_codes(live)["email"],  # type: ignore
                                           delivered_codes(live)["sms"])
        device = phone.activate(PIN)
        assert device["status"] == "usable"
        dump = database_text(live)
        for code in codes.values():
            assert not found(code, dump)
        with live.app.app_context():
            stored = db.session.get(EcpsDevice, device["device_id"])
            assert stored.pin_hash.startswith("k1$") and PIN not in stored.pin_hash
    finally:
        live.stop()


def test_the_same_code_in_two_activations_is_kept_as_two_unrelated_digests(make_app):
    """A database reader cannot even tell that two activations got the same code."""
    live = production(make_app)
    try:
        first, second = start(live)["activation_id"], start(live)["activation_id"]
        with live.app.app_context():
            keyed = hashing.keyed_hash(live.app.extensions["psc_idp"].settings.keys_dir)
            rows = [db.session.get(EcpsActivation, i) for i in (first, second)]
            digests = {keyed.digest(ecps.CODE_PURPOSE, row.id, "sms", "123456")
                       for row in rows}
            assert len(digests) == 2
            assert all(row.email_code_digest != row.sms_code_digest for row in rows)
    finally:
        live.stop()


def test_the_at_rest_key_stays_with_the_keys_not_in_the_database(make_app):
    live = production(make_app)
    try:
        start(live)
        key_file = Path(live.app.extensions["psc_idp"].settings.keys_dir) / "at-rest.key"
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        key = key_file.read_text().strip()
        assert len(bytes.fromhex(key)) == 32
        assert key not in database_text(live)
    finally:
        live.stop()


def test_demo_and_test_modes_show_the_codes_on_the_outbox_page(live, tmp_path):
    started = start(live)
    messages = requests.get(live.base_url + "/api/admin/outbox", params={"national_id": GP},
                            timeout=10).json()["messages"]
    codes = {m["channel"]: re.search(r"\b(\d{6})\b", m["body"]).group(1) for m in messages}
    page = requests.get(live.base_url + "/admin/outbox", params={"national_id": GP},
                        timeout=10)
    assert all(code in page.text for code in codes.values())
    with live.app.app_context():  # the activation itself keeps keyed digests in every mode
        activation = db.session.get(EcpsActivation, started["activation_id"])
        assert activation.email_code_digest.startswith("k1$")
        assert hashlib.sha256(codes["email"].encode()).hexdigest() not in database_text(live)
    # the virtual e-CPS app activates with the codes it reads there
    assert EcpsPhone(live.base_url, tmp_path / "phone", GP).activate(PIN)["status"] == "usable"
