"""Helpers of the card tests: holders the demo directory may not have (a student, structure
staff), added under ids of their own so they never collide with the demo's."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from psc_idp.db import db
from psc_idp.directory import demo_data
from psc_idp.directory.models import Activity, Practice, Professional, Structure
from psc_idp.directory.national_id import make_rpps, national_id_from_rpps

GP = national_id_from_rpps(demo_data.GP_RPPS)
BLOCKED = national_id_from_rpps(demo_data.BLOCKED_RPPS)
RPPS_PLUS = national_id_from_rpps(demo_data.RPPS_PLUS_COORDINATION_RPPS)
STUDENT = national_id_from_rpps(make_rpps(1_009_998_801))
CPE_STAFF = "30B0750017/CPET99001"
CPA_STAFF = "590099001100018/CPAT99045"
CDE_STAFF = "30B0750017/CDET99002"
HOSPITAL = demo_data.HOSPITAL_PARIS
PHARMACY = demo_data.OFFICINE_MARCHE
PIN, PUK = "1234", "12345678"


@pytest.fixture(name="app")
def holders_app(make_app: Callable[..., Flask]) -> Flask:
    """A provider whose directory has the demo's holders and ``add_holders``' (a fixture:
    import it into a test module to use it as its ``app``)."""
    app = make_app()
    add_holders(app)
    return app


def settings_of(app: Flask) -> Any:
    return app.extensions["psc_idp"].settings


def add_holders(app: Flask) -> None:
    """A student (practice category E) and three structure staff identities."""
    with app.app_context():
        structures = {s.technical_id: s for s in db.session.scalars(db.select(Structure))}
        for national_id, family, given, structure, code, category in (
                (STUDENT, "ETUDIANT", "Emma", HOSPITAL, "10", "E"),
                (CPE_STAFF, "ACCUEIL", "Paul", HOSPITAL, "", "C"),
                (CPA_STAFF, "COMPTOIR", "Lina", PHARMACY, "", "C"),
                (CDE_STAFF, "DIRECTRICE", "Anne", HOSPITAL, "", "C")):
            if db.session.scalars(db.select(Professional).filter_by(
                    national_id=national_id)).first():
                continue
            rpps = national_id[1:] if national_id.startswith("8") else None
            professional = Professional(national_id=national_id, rpps=rpps,
                                        civility_code="MME", family_name=family,
                                        given_name=given)
            practice = Practice(profession_code=code, category_code=category)
            practice.activities.append(Activity(structure=structures[structure],
                                                mode_code="S", sector_code="SA01"))
            professional.practices.append(practice)
            db.session.add(professional)
        db.session.commit()


def issue(app: Flask, out: Path, national_id: str = GP, card_type: str = "CPS",
          structure: str | None = None, **extra):
    from psc_idp.credentials.cards import issue_card

    with app.app_context():
        issued = issue_card(national_id=national_id, card_type=card_type, structure=structure,
                            pin=extra.pop("pin", PIN), puk=extra.pop("puk", PUK), out=out,
                            **extra)
        return issued
