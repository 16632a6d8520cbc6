"""Structures (list, get, create, update) and the imports' records (read-only)."""

from __future__ import annotations

from datetime import datetime

from psc_idp.db import db
from psc_idp.directory.importer.models import DirectoryImport, DirectoryImportRejection

from .apihelp import HOSPITAL


def test_list_and_get(api):
    page = api.get("/structures?limit=3").get_json()
    assert len(page["items"]) == 3 and page["total"] > 3
    assert api.get(f"/structures/{HOSPITAL}").get_json()["technical_id"] == HOSPITAL
    assert api.get("/structures/R999999").status_code == 404
    ehpads = api.get("/structures?sector=SA17").get_json()["items"]
    assert ehpads and all(s["sector_code"] == "SA17" for s in ehpads)
    assert api.get("/structures?name=tilleuls").get_json()["total"] == 1


def test_create_and_update(api):
    created = api.post("/structures", json={
        "technical_id": "R123456", "name": "CABINET NEUF",
        "sector_code": "SA07", "postal_code": "75011"})
    assert created.status_code == 201, created.get_json()
    assert api.post("/structures", json={"technical_id": "R123456", "name": "X"}
                    ).status_code == 409
    updated = api.patch("/structures/R123456", json={"name": "CABINET RENOMME",
                                                     "former_id": ""})
    assert updated.status_code == 200 and updated.get_json()["name"] == "CABINET RENOMME"


def test_structure_validation(api):
    cases = [
        ({"technical_id": "3" + "00000001815646", "name": "X"}, "ancien identifiant"),
        ({"technical_id": "F123456789", "name": "X"}, "FINESS"),
        ({"technical_id": "C12345678901234", "name": "X"}, "SIRET"),
        ({"technical_id": "R7", "name": "X", "sector_code": "SA99"}, "secteur"),
        ({"technical_id": "R7", "name": "X", "siret": "12345678901234"}, "SIRET"),
        ({"technical_id": "R7", "name": ""}, "name"),
        ({"technical_id": "R7"}, "name"),
    ]
    for body, words in cases:
        response = api.post("/structures", json=body)
        assert response.status_code == 400, (body, response.get_json())
        assert words in response.get_json()["error_description"], response.get_json()
    assert api.patch(f"/structures/{HOSPITAL}", json={"technical_id": "R1"}).status_code == 400


def test_imports_are_listed_with_their_rejections(app, api):
    assert api.get("/imports").get_json() == {"total": 0, "offset": 0, "limit": 50,
                                              "items": []}
    with app.app_context():
        run = DirectoryImport(format="libreacces", file_name="PS_LibreAcces.txt",
                              file_sha256="ab" * 32, file_size=1234, status="done",
                              lines_done=10, accepted=7, rejected=3,
                              finished_at=datetime(2026, 12, 1, 12, 0))
        db.session.add(run)
        db.session.flush()
        for line in (4, 9, 2):
            db.session.add(DirectoryImportRejection(import_id=run.id, line_number=line,
                                                    reason=f"ligne {line} : code inconnu"))
        db.session.commit()
        run_id = run.id
    page = api.get("/imports").get_json()
    assert page["total"] == 1 and page["items"][0]["rejected"] == 3
    detail = api.get(f"/imports/{run_id}?limit=2").get_json()
    assert [r["line_number"] for r in detail["rejections"]["items"]] == [2, 4]
    assert detail["rejections"]["total"] == 3
    assert api.get(f"/imports/{run_id + 1}").status_code == 404
    assert api.post("/imports", json={}).status_code == 405  # read-only
