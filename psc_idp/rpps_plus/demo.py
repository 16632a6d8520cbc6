"""Demo habilitations (``psc-idp init --demo``): a medico-social demo structure with a
"gestionnaire RPPS+" and a registration authority, so the portal (``/rpps-plus/``) can be
tried with the persona login at once.

- EHPAD LES TILLEULS (``F0B0330019``): manager Nicolas ROUX (secrétaire d'accueil there),
  authority Martine ROCHE (the demo's establishment director, holder of a CDE);
- IME LES PETITS PONTS (``F0B0590015``): manager Chloé LEGRAND (éducatrice there), authority
  Martine ROCHE: a second structure, to register someone already registered by the EHPAD.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from ..db import db
from ..directory.models import Structure

DEMO_STRUCTURES = {
    "F0B0330019": dict(name="EHPAD LES TILLEULS", finess_site="0B0330019",
                       finess_legal="1B0330001", sector_code="SA17", postal_code="33700",
                       commune_code="33281", department_code="33"),
    "F0B0590015": dict(name="IME LES PETITS PONTS", finess_site="0B0590015",
                       finess_legal="1B0590007", sector_code="SA16", postal_code="59000",
                       commune_code="59350", department_code="59"),
}


def demo_habilitations() -> list[tuple[str, str, str]]:
    """(national id, structure technical id, kind) of the demo."""
    from ..directory.demo_data import CDE_DIRECTOR_ID, demo_rpps
    from ..directory.national_id import national_id_from_rpps
    from .models import AUTHORITY, MANAGER

    roux = national_id_from_rpps(demo_rpps(18))
    legrand = national_id_from_rpps(demo_rpps(19))
    return [(roux, "F0B0330019", MANAGER), (CDE_DIRECTOR_ID, "F0B0330019", AUTHORITY),
            (legrand, "F0B0590015", MANAGER), (CDE_DIRECTOR_ID, "F0B0590015", AUTHORITY)]


def seed_demo_habilitations() -> dict[str, Any]:
    """Idempotent; the structures are created if the demo data lacks them; a persona missing
    from the directory is skipped (reported). The caller commits."""
    from .service import RppsPlusError, grant_habilitation

    for technical_id, values in DEMO_STRUCTURES.items():
        if db.session.scalar(select(Structure.id).filter_by(technical_id=technical_id)) is None:
            db.session.add(Structure(technical_id=technical_id, **values))
    db.session.flush()
    granted, skipped = 0, []
    for national_id, structure, kind in demo_habilitations():
        try:
            _, created = grant_habilitation(national_id, structure, kind, granted_by="demo")
        except RppsPlusError:
            skipped.append(national_id)
            continue
        granted += created
    return {"habilitations_granted": granted, "skipped": skipped}


def forget_demo_habilitations(session: Any, national_ids: list[str]) -> int:
    """``demo-data remove``: the demo people's habilitations are demo material too."""
    from sqlalchemy import delete

    from .models import StructureHabilitation

    if not national_ids:
        return 0
    result = session.execute(delete(StructureHabilitation).where(
        StructureHabilitation.national_id.in_(national_ids)))
    return result.rowcount or 0


def structure_references() -> list[Any]:
    """Selects of the structure ids RPPS+ rows still refer to: ``demo-data remove`` keeps
    those structures (a registration made on a demo structure is not demo material)."""
    from .models import RppsPlusRegistration, StructureHabilitation

    return [select(RppsPlusRegistration.structure_id),
            select(StructureHabilitation.structure_id)]
