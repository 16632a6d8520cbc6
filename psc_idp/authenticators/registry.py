"""Authenticators by short name, built from the ``[authenticators]`` config table at start-up."""

from __future__ import annotations

from typing import Any

from ..config import ConfigError
from .base import Authenticator
from .card import CardAuthenticator
from .ecps_otp import EcpsOtpAuthenticator
from .ecps_push import EcpsPushAuthenticator
from .persona import PersonaAuthenticator

REGISTRY: dict[str, type[Authenticator]] = {
    PersonaAuthenticator.id: PersonaAuthenticator,
    EcpsPushAuthenticator.id: EcpsPushAuthenticator,
    EcpsOtpAuthenticator.id: EcpsOtpAuthenticator,
    CardAuthenticator.id: CardAuthenticator,
}


def build_authenticators(config: dict[str, dict[str, Any]], *,
                         emulation_enabled: bool) -> dict[str, Authenticator]:
    """Instantiate each configured authenticator; an unknown name or setting fails here."""
    built: dict[str, Authenticator] = {}
    for name, settings in config.items():
        cls = REGISTRY.get(name)
        if cls is None:
            raise ConfigError(f"unknown authenticator {name!r}; known: {sorted(REGISTRY)}")
        if cls.emulation_only and not emulation_enabled:
            raise ConfigError(f"authenticator {name!r} is for demo/test mode only")
        try:
            built[name] = cls(dict(settings or {}))
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"authenticator {name!r}: {exc}") from exc
    if not built:
        raise ConfigError("no authenticator configured: nobody could sign in")
    return built
