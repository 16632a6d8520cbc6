"""Practice situations: add one in a structure, end it; codes checked against the
nomenclatures; identical parallel requests apply once (real HTTP requests in threads)."""

from __future__ import annotations

import jsonschema
import requests
import sqlalchemy as sa

from psc_idp.db import db
from psc_idp.directory.models import Activity, Practice, Professional
from tests.served import fire

from .apihelp import EHPAD, GP, HOSPITAL, STAFF, Api, new_key, response_schema


def test_add_a_second_situation_then_end_it(app, api):
    added = api.post(f"/professionals/{GP}/situations", json={
        "structure": HOSPITAL, "profession": "10", "role": "FON-33", "genre": "GENR01",
        "mode": "S", "started_on": "2025-09-01"})
    assert added.status_code == 201, added.get_json()
    situation = added.get_json()
    assert situation["national_id"] == GP and situation["structure"] == HOSPITAL
    assert situation["sector_code"] == "SA01"  # the structure's, by default
    assert situation["active"] is True

    practices = api.get(f"/professionals/{GP}").get_json()["practices"]
    assert sum(len(p["situations"]) for p in practices) == 2
    assert len(practices) == 1  # same profession: under the same practice

    same = api.post(f"/professionals/{GP}/situations", json={
        "structure": HOSPITAL, "profession": "10", "role": "FON-33", "genre": "GENR01",
        "mode": "S"})
    assert same.status_code == 409

    assert api.get(f"/situations/{situation['id']}").get_json()["id"] == situation["id"]
    ended = api.post(f"/situations/{situation['id']}/end", json={"ended_on": "2026-01-15"})
    assert ended.status_code == 200 and ended.get_json()["ended_on"] == "2026-01-15"
    assert ended.get_json()["active"] is False
    assert api.post(f"/situations/{situation['id']}/end").status_code == 409
    assert api.post("/situations/999999/end").status_code == 404
    # ended: the same situation may be added again
    assert api.post(f"/professionals/{GP}/situations", json={
        "structure": HOSPITAL, "profession": "10", "role": "FON-33", "genre": "GENR01",
        "mode": "S"}).status_code == 201


def test_an_rpps_plus_role_in_a_new_profession_makes_a_practice(api):
    added = api.post(f"/professionals/{GP}/situations", json={
        "structure": EHPAD, "profession": "330", "genre": "GENR08", "mode": "S"})
    assert added.status_code == 201, added.get_json()
    practices = api.get(f"/professionals/{GP}").get_json()["practices"]
    assert sorted(p["profession_code"] for p in practices) == ["10", "330"]


def test_structure_staff_get_a_situation_without_a_profession(api):
    added = api.post(f"/professionals/{STAFF}/situations", json={
        "structure": HOSPITAL, "role": "FON-AU", "genre": "GENR04", "mode": "S"})
    assert added.status_code == 201, added.get_json()
    assert added.get_json()["national_id"] == STAFF
    assert added.get_json()["profession_code"] == ""
    practices = api.get(f"/professionals/{STAFF}").get_json()["practices"]
    assert len(practices) == 1  # under the staff member's existing practice
    refused = api.post(f"/professionals/{GP}/situations", json={"structure": HOSPITAL})
    assert refused.status_code == 400  # a professional needs a profession


def test_situation_validation(api):
    cases = [
        ({"structure": HOSPITAL}, "profession"),
        ({"structure": HOSPITAL, "profession": "999"}, "profession"),
        ({"structure": HOSPITAL, "profession": "10", "genre": "GENR77"}, "genre"),
        ({"structure": HOSPITAL, "profession": "10", "role": "FON-XX"}, "role"),
        ({"structure": HOSPITAL, "profession": "10", "mode": "Z"}, "mode"),
        ({"structure": HOSPITAL, "profession": "10", "started_on": "2025-13-01"}, "started_on"),
        ({"structure": "F123", "profession": "10"}, "FINESS"),
        ({"structure": HOSPITAL, "profession": "10", "extra": 1}, "inconnu"),
    ]
    for body, words in cases:
        response = api.post(f"/professionals/{GP}/situations", json=body)
        assert response.status_code == 400, (body, response.get_json())
        assert words in response.get_json()["error_description"], response.get_json()
    missing = api.post(f"/professionals/{GP}/situations",
                       json={"structure": "R424242", "profession": "10"})
    assert missing.status_code == 404
    assert api.post("/professionals/899999999999/situations",
                    json={"structure": HOSPITAL, "profession": "10"}).status_code == 404
    started = api.post(f"/professionals/{GP}/situations", json={
        "structure": HOSPITAL, "profession": "10", "started_on": "2025-09-01"}).get_json()
    early = api.post(f"/situations/{started['id']}/end", json={"ended_on": "2025-08-31"})
    assert early.status_code == 400 and "avant" in early.get_json()["error_description"]


def test_an_ended_professional_gets_no_new_situation(api):
    assert api.post(f"/professionals/{GP}/end").status_code == 200
    refused = api.post(f"/professionals/{GP}/situations",
                       json={"structure": HOSPITAL, "profession": "10"})
    assert refused.status_code == 409


def _count_situations(app, national_id: str) -> int:
    with app.app_context():
        return db.session.scalar(
            sa.select(sa.func.count(Activity.id)).join(Practice).join(Professional)
            .where(Professional.national_id == national_id)) or 0


def test_parallel_identical_additions_add_one(live):
    _, key = new_key(live.app)
    before = _count_situations(live.app, GP)
    url = f"{live.base_url}/api/admin/directory/professionals/{GP}/situations"
    body = {"structure": HOSPITAL, "profession": "10", "role": "FON-33", "genre": "GENR01",
            "mode": "S"}
    answers = fire(6, lambda _: requests.post(url, json=body, timeout=60,
                                              headers={"Authorization": f"Bearer {key}"}))
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [201] + [409] * 5, [a.text for a in answers]
    assert _count_situations(live.app, GP) == before + 1


def test_parallel_ends_apply_once(live):
    from psc_idp.audit import AuditEvent

    _, key = new_key(live.app)
    api = Api(live.app, key)
    situation = api.post(f"/professionals/{GP}/situations", json={
        "structure": HOSPITAL, "profession": "10", "mode": "S"}).get_json()
    url = f"{live.base_url}/api/admin/directory/situations/{situation['id']}/end"
    answers = fire(6, lambda _: requests.post(url, timeout=60,
                                              headers={"Authorization": f"Bearer {key}"}))
    assert sorted(a.status_code for a in answers) == [200] + [409] * 5
    for answer in answers:  # what the live server sent matches the document too
        schema = response_schema("/situations/{situation_id}/end", "post", answer.status_code)
        jsonschema.Draft202012Validator(schema).validate(answer.json())
    with live.app.app_context():
        ends = db.session.query(AuditEvent).filter_by(event="directory.situation_ended").count()
    assert ends == 1
