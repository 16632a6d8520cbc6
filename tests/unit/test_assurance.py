"""Levels of assurance: the acr a means reaches and the acr put back in the tokens."""

from __future__ import annotations

import pytest

from psc_idp.sessions.assurance import (
    granted_acr,
    known_acr_values,
    means_level,
    required_level,
)


@pytest.mark.parametrize("mode,amr,level", [
    ("CARD", ["sc", "pin", "mfa"], 3),
    ("MOBILE", ["swk", "pin", "mfa"], 2),
    ("MOBILE", ["otp", "swk"], 1),
])
def test_means_level(mode, amr, level):
    assert means_level(mode, amr) == level


def test_required_level_is_the_weakest_known_value():
    assert required_level([]) is None
    assert required_level(["foo"]) is None
    assert required_level(["eidas3", "eidas2"]) == 2
    assert known_acr_values("eidas1 0 eidas3 x") == ["eidas1", "eidas3"]


@pytest.mark.parametrize("asked,level,acr", [
    ([], 3, "eidas1"),                        # nothing asked: PSC's eidas1
    (["eidas1"], 3, "eidas1"),                # what every PSC RP sends and checks
    (["eidas3"], 3, "eidas3"),
    (["eidas1", "eidas3"], 3, "eidas3"),      # the strongest reached
    (["eidas3"], 2, "eidas1"),                # not reached: the default says so
    (["eidas2", "eidas3"], 2, "eidas2"),
])
def test_granted_acr(asked, level, acr):
    assert granted_acr(asked, level, "eidas1") == acr
