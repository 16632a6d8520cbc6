"""The demo habilitations: seeded by ``init --demo`` (idempotent), and removed with the demo
material (``demo-data remove``) without breaking on the structures RPPS+ rows refer to."""

from __future__ import annotations

from sqlalchemy import select

from psc_idp.admin.cli import initialise
from psc_idp.admin.demo_material import remove
from psc_idp.db import db
from psc_idp.directory.models import Structure
from psc_idp.rpps_plus import service
from psc_idp.rpps_plus.demo import demo_habilitations
from psc_idp.rpps_plus.form import check_registration
from psc_idp.rpps_plus.models import RppsPlusRegistration, StructureHabilitation
from tests.rpps_plus.helpers import EHPAD, IME, MANAGER_ID, form


def test_seeded_once_then_removed_with_the_demo(make_app):
    app = make_app()
    report = initialise(app, True)  # a second init changes nothing
    assert report["rpps_plus"] == {"habilitations_granted": 0, "skipped": []}
    with app.app_context():
        rows = {(h.national_id, h.kind) for h in db.session.scalars(
            select(StructureHabilitation))}
        assert rows == {(n, k) for n, _, k in demo_habilitations()}
        data, _ = check_registration(form())
        service.submit(service.find_structure(EHPAD), MANAGER_ID, data)

        removed = remove(db.session)
        db.session.commit()
        assert removed["rows"]["structure_habilitation"] == 4
        assert db.session.scalar(select(db.func.count()).select_from(
            StructureHabilitation)) == 0
        kept = {s.technical_id for s in db.session.scalars(select(Structure))}
        assert EHPAD in kept and IME not in kept  # the EHPAD has a registration
        assert db.session.scalar(select(db.func.count()).select_from(
            RppsPlusRegistration)) == 1
