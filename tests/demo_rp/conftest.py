"""Make the repository root importable when the project is not installed (``pip install -e .``
does it too); the demo RP tests import ``clients.demo_rp``. Fixtures: ``provider`` (the fake
PSC of ``fake_psc.py``, one per module, reset before each test) and ``rp`` (the demo RP behind
Flask's test client)."""

import sys
from pathlib import Path

import pytest

ROOT = str(Path(__file__).resolve().parents[2])
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from tests.demo_rp.fake_psc import FakeProvider, make_rp  # noqa: E402


@pytest.fixture(scope="module")
def provider():
    fake = FakeProvider()
    fake.thread.start()
    yield fake
    fake.server.shutdown()
    fake.server.server_close()
    fake.thread.join(timeout=5)


@pytest.fixture(autouse=True)
def _fresh_provider(request):
    if "provider" in request.fixturenames:
        request.getfixturevalue("provider").reset()


@pytest.fixture
def rp(provider):
    return make_rp(provider.issuer)
