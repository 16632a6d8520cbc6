"""One code redeemed by many token requests at once over real HTTP: exactly one token
response (the single conditional UPDATE decides), and a later replay revokes the grant."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import requests

from tests.psc_actions import DEMO_CLIENT, PscActions, query

PARALLEL = 8


def test_parallel_redemptions_of_one_code_give_one_token_response(live):
    psc = PscActions(live.issuer)
    rp = psc.client()
    start, callback = psc.login(rp)
    code = query(callback)["code"]
    endpoint = psc.metadata["token_endpoint"]
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": DEMO_CLIENT[2],
            "code_verifier": start.verifier}
    barrier = threading.Barrier(PARALLEL)

    def redeem(_: int) -> requests.Response:
        barrier.wait(timeout=30)
        return requests.post(endpoint, data=form, auth=DEMO_CLIENT[:2], timeout=60)

    with ThreadPoolExecutor(PARALLEL) as pool:
        answers = list(pool.map(redeem, range(PARALLEL)))
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [200] + [400] * (PARALLEL - 1), [a.text for a in answers]
    assert all(a.json()["error"] == "invalid_grant" for a in answers if a.status_code == 400)
    tokens = next(a.json() for a in answers if a.status_code == 200)

    # a replay after the race revokes the grant: the one access token dies with it
    replay = requests.post(endpoint, data=form, auth=DEMO_CLIENT[:2], timeout=60)
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    info = requests.get(psc.metadata["userinfo_endpoint"], timeout=10,
                        headers={"Authorization": "Bearer " + tokens["access_token"]})
    assert info.status_code == 401
    refreshed = requests.post(endpoint, auth=DEMO_CLIENT[:2], timeout=60, data={
        "grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]})
    assert refreshed.status_code == 400 and refreshed.json()["error"] == "invalid_grant"
