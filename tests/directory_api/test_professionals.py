"""Professionals through the admin API: list with paging and filters, get, create, update,
end; validation answers 400 in French, unknown records 404, conflicts 409, never a 500."""

from __future__ import annotations

from psc_idp.audit import AuditEvent
from psc_idp.db import db

from .apihelp import GP, STAFF

NEW = "810000000006"  # 8 + a valid RPPS (10000000006) no demo persona uses


def _valid_new_id() -> str:
    from psc_idp.directory.national_id import make_rpps

    return "8" + make_rpps(4_242_424)


def test_list_pages_through_everyone_in_a_stable_order(api):
    first = api.get("/professionals?limit=5").get_json()
    assert first["limit"] == 5 and first["offset"] == 0 and len(first["items"]) == 5
    total = first["total"]
    assert total > 5
    seen = []
    offset = 0
    while offset < total:
        page = api.get(f"/professionals?offset={offset}&limit=7").get_json()
        seen += [p["national_id"] for p in page["items"]]
        offset += 7
    assert len(seen) == total == len(set(seen))
    assert api.get(f"/professionals?offset={total}").get_json()["items"] == []


def test_list_filters(api):
    by_id = api.get(f"/professionals?national_id={GP}").get_json()
    assert [p["national_id"] for p in by_id["items"]] == [GP] and by_id["total"] == 1
    by_name = api.get("/professionals?name=leRoY").get_json()["items"]
    assert GP in [p["national_id"] for p in by_name]
    assert all("leroy" in (p["family_name"] + p["given_name"]).lower() for p in by_name)
    nurses = api.get("/professionals?profession=60").get_json()["items"]
    assert nurses and all("60" in p["professions"] for p in nurses)
    # LIKE wildcards are searched literally
    assert api.get("/professionals?name=%25").get_json()["total"] == 0


def test_bad_paging_is_a_400(api):
    for query in ("limit=0", "limit=201", "offset=-1", "limit=abc", "offset=1e3"):
        response = api.get(f"/professionals?{query}")
        assert response.status_code == 400, query
        assert response.get_json()["error"] == "invalid_request"


def test_get_one_with_practices_situations_other_ids(api):
    data = api.get(f"/professionals/{GP}").get_json()
    assert data["national_id"] == GP and data["rpps"] == GP[1:]
    situation = data["practices"][0]["situations"][0]
    assert situation["structure"] and situation["active"] is True


def test_a_staff_id_with_a_slash_is_one_path_parameter(api):
    assert api.get(f"/professionals/{STAFF}").get_json()["national_id"] == STAFF
    assert api.get("/professionals/30B0168811%2FCPET00001").status_code == 200


def test_unknown_is_a_404(api):
    response = api.get("/professionals/899999999999")
    assert response.status_code == 404
    assert "inconnu" in response.get_json()["error_description"]


def test_create_update_end(app, api):
    national_id = _valid_new_id()
    created = api.post("/professionals", json={
        "national_id": national_id, "family_name": "NOUVEAU", "given_name": "Jeanne",
        "civility_code": "MME", "birth_date": "1980-02-03", "contact_email": "j@example.org",
        "other_ids": [{"identifier": national_id, "origin": "RPPS"}]})
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert body["rpps"] == national_id[1:] and body["other_ids"][0]["origin"] == "RPPS"
    assert body["practices"] == []

    again = api.post("/professionals", json={"national_id": national_id,
                                             "family_name": "X", "given_name": "Y"})
    assert again.status_code == 409

    updated = api.patch(f"/professionals/{national_id}",
                        json={"given_name": "Jeanne-Marie", "other_ids": []}).get_json()
    assert updated["given_name"] == "Jeanne-Marie" and updated["other_ids"] == []

    ended = api.post(f"/professionals/{national_id}/end", json={"ended_on": "2026-01-31"})
    assert ended.status_code == 200 and ended.get_json()["ended_on"] == "2026-01-31"
    twice = api.post(f"/professionals/{national_id}/end")
    assert twice.status_code == 409

    with app.app_context():
        events = [e.event for e in db.session.query(AuditEvent).filter_by(subject=national_id)]
    assert events.count("directory.professional_created") == 1
    assert events.count("directory.professional_updated") == 1
    assert events.count("directory.professional_ended") == 1


def test_validation_errors_are_400_in_french(api):
    cases = [
        ({"national_id": "810099900011", "family_name": "A", "given_name": "B"}, "clé"),
        ({"national_id": "9123", "family_name": "A", "given_name": "B"}, "national_id"),
        ({"national_id": _valid_new_id(), "given_name": "B"}, "family_name"),
        ({"national_id": _valid_new_id(), "family_name": "A", "given_name": "B",
          "civility_code": "XX"}, "civilite"),
        ({"national_id": _valid_new_id(), "family_name": "A", "given_name": "B",
          "birth_date": "03/02/1980"}, "birth_date"),
        ({"national_id": _valid_new_id(), "family_name": "A" * 101, "given_name": "B"},
         "100 caractères"),
        ({"national_id": _valid_new_id(), "family_name": "A", "given_name": "B",
          "colour": "red"}, "inconnu"),
        ({"national_id": _valid_new_id(), "family_name": "A", "given_name": "B",
          "other_ids": [{"identifier": "x", "origin": "NOPE"}]}, "origine"),
        ({"national_id": 12, "family_name": "A", "given_name": "B"}, "chaîne"),
    ]
    for body, words in cases:
        response = api.post("/professionals", json=body)
        assert response.status_code == 400, (body, response.get_json())
        assert words in response.get_json()["error_description"], response.get_json()


def test_bodies_that_are_not_objects_or_too_big_are_400(api):
    for data in ("[1, 2]", "not json", "[" * 5000 + "]" * 5000, '{"a": "' + "x" * 40000 + '"}'):
        response = api.post("/professionals", data=data, content_type="application/json")
        assert response.status_code in (400, 413), data[:20]
        if response.status_code == 400:
            assert response.get_json()["error"] == "invalid_request"


def test_patch_validates_too(api):
    assert api.patch(f"/professionals/{GP}", json={"family_name": ""}).status_code == 400
    assert api.patch(f"/professionals/{GP}", json={"national_id": NEW}).status_code == 400
    assert api.patch("/professionals/899999999999", json={}).status_code == 404
