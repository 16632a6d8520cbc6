"""Input meant to break the API answers 400 or 404, never a 500: NUL and control characters
(PostgreSQL refuses NUL), ids beyond the integer columns, odd types; parallel creations and
ends of the same professional apply once."""

from __future__ import annotations

import requests

from psc_idp.directory.national_id import make_rpps
from tests.served import fire

from .apihelp import GP, HOSPITAL, new_key


def test_control_characters_are_400(api):
    assert api.get("/professionals?name=a%00b").status_code == 400
    assert api.get("/professionals?national_id=8%00").status_code == 400
    assert api.get("/professionals?profession=1%000").status_code == 400
    assert api.get("/structures?name=%00").status_code == 400
    assert api.get("/professionals/8100%0099").status_code == 400
    assert api.get("/structures/R1%00").status_code == 400
    body = {"national_id": "8" + make_rpps(6_060_606), "family_name": "A\x00B",
            "given_name": "C"}
    response = api.post("/professionals", json=body)
    assert response.status_code == 400
    assert "contrôle" in response.get_json()["error_description"]
    assert api.patch(f"/structures/{HOSPITAL}", json={"name": "X\x07"}).status_code == 400


def test_ids_beyond_the_columns_are_404(api):
    for path in ("/situations/99999999999999999999", "/situations/2147483648",
                 "/imports/99999999999999999999"):
        assert api.get(path).status_code == 404, path
    assert api.post("/situations/99999999999999999999/end").status_code == 404


def test_odd_types(api):
    for body in ({"structure": ["F0B0750017"], "profession": "10"},
                 {"structure": HOSPITAL, "profession": 10},
                 {"structure": HOSPITAL, "profession": "10", "started_on": 20250101},
                 {"structure": HOSPITAL, "profession": "10", "genre": {"x": 1}}):
        assert api.post(f"/professionals/{GP}/situations", json=body).status_code == 400
    for body in ({"rpps_plus": "yes"}, {"other_ids": "8"}, {"other_ids": [1]},
                 {"other_ids": [{"identifier": GP, "origin": "RPPS", "quality": True}]},
                 {"other_ids": [{"identifier": GP, "origin": "RPPS"}] * 21}):
        assert api.patch(f"/professionals/{GP}", json=body).status_code == 400, body
    assert api.post(f"/professionals/{GP}/end", json={"ended_on": "2026-02-30"}
                    ).status_code == 400


def test_parallel_creations_of_one_professional_create_one(live):
    _, key = new_key(live.app)
    url = f"{live.base_url}/api/admin/directory/professionals"
    body = {"national_id": "8" + make_rpps(7_070_707), "family_name": "DOUBLE",
            "given_name": "Clic"}
    answers = fire(6, lambda _: requests.post(url, json=body, timeout=60,
                                              headers={"Authorization": f"Bearer {key}"}))
    assert sorted(a.status_code for a in answers) == [201] + [409] * 5, \
        [a.text for a in answers]
    listed = requests.get(url, params={"national_id": body["national_id"]}, timeout=30,
                          headers={"Authorization": f"Bearer {key}"}).json()
    assert listed["total"] == 1


def test_parallel_ends_of_one_professional_apply_once(live):
    _, key = new_key(live.app)
    url = f"{live.base_url}/api/admin/directory/professionals/{GP}/end"
    answers = fire(6, lambda _: requests.post(url, timeout=60,
                                              headers={"Authorization": f"Bearer {key}"}))
    assert sorted(a.status_code for a in answers) == [200] + [409] * 5
