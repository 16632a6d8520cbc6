"""The browser fixtures (provider + demo relying service) for the RPPS+ journey."""

from tests.browser.conftest import psc  # noqa: F401
