"""The login page offers only the means that meet what the RP asked (acr level, auth_mode);
all of them when none does (acr_values are voluntary)."""

from __future__ import annotations

import re

import pytest

from tests.psc_actions import PscActions

CHOOSE = re.compile(r'id="means-([a-z_]+)"')


def _means_offered(psc: PscActions, **params: str) -> tuple[set[str], str]:
    page = psc.open(psc.start(psc.client(), **params).url)
    assert page.status_code == 200, page.text[:300]
    uid = re.search(r"/login/([A-Za-z0-9_-]+)/", page.text).group(1)
    base = psc.issuer.split("/auth/realms")[0]
    listing = psc.browser.get(f"{base}/login/{uid}", timeout=10)
    return set(CHOOSE.findall(listing.text)), uid


@pytest.mark.one_backend
@pytest.mark.parametrize("params,offered", [
    ({}, {"persona", "card", "ecps", "ecps_otp"}),
    ({"acr_values": "eidas1"}, {"persona", "card", "ecps", "ecps_otp"}),
    ({"acr_values": "eidas2"}, {"persona", "card", "ecps"}),        # not the code alone
    ({"acr_values": "eidas3"}, {"persona", "card"}),        # the card (and personas as CARD)
    ({"auth_mode": "MOBILE"}, {"ecps", "ecps_otp"}),
    ({"auth_mode": "MOBILE", "acr_values": "eidas2"}, set()),  # one means left: its page
    ({"auth_mode": "MOBILE", "acr_values": "eidas3"},
     {"persona", "card", "ecps", "ecps_otp"}),
])
def test_means_offered(live, params, offered):
    psc = PscActions(live.issuer)
    found, _ = _means_offered(psc, **params)
    assert found == offered


@pytest.mark.one_backend
def test_a_means_left_out_cannot_be_used_directly(live):
    psc = PscActions(live.issuer)
    _, uid = _means_offered(psc, acr_values="eidas2")
    base = psc.issuer.split("/auth/realms")[0]
    assert psc.browser.get(f"{base}/login/{uid}/ecps_otp", timeout=10).status_code == 404
    assert psc.browser.get(f"{base}/login/{uid}/ecps", timeout=10).status_code == 200
