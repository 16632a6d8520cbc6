"""Fixtures of the negative tests: a live provider whose every 5xx fails the test."""

from __future__ import annotations

import pytest

from tests.negative import guarded_live
from tests.psc_actions import PscActions


@pytest.fixture
def start(make_live):
    yield from guarded_live(make_live)


@pytest.fixture
def live(start):
    return start()


@pytest.fixture
def psc(live) -> PscActions:
    return PscActions(live.issuer)
