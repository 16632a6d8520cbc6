"""The fidelity suite drives psc-idp the way real PSC relying parties do, in both profiles.

``profile`` is parametrised (psc, strict): each test runs once per profile and states what
each profile must do. ``fidelity_live`` serves a provider in that profile.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.conftest import LiveServer

PROFILES = ("psc", "strict")


@pytest.fixture(params=PROFILES)
def profile(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def fidelity_live(make_live: Callable[..., LiveServer], profile: str
                  ) -> Callable[..., LiveServer]:
    """``fidelity_live(**overrides)``: a live provider in the test's profile."""

    def start(**overrides: Any) -> LiveServer:
        fidelity = {"profile": profile, **overrides.pop("fidelity", {})}
        return make_live(fidelity=fidelity, **overrides)

    return start
