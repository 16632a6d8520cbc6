"""Settings of the demo relying party.

Defaults, then the TOML file named by ``PSC_DEMO_RP_CONFIG``, then the ``PSC_DEMO_RP_*``
environment variables, then explicit overrides (tests). Field names are the variable names
without the prefix; the TOML file may spell them in upper or lower case::

    issuer = "https://auth.bas.psc.esante.gouv.fr/auth/realms/esante-wallet"
    client_id = "my-registered-client"

Read only inside ``create_app`` (never at import time), so tests can build apps side by side.
"""

from __future__ import annotations

import dataclasses
import os
import re
import secrets
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

ENV_PREFIX = "PSC_DEMO_RP_"
DISCOVERY_SUFFIX = "/.well-known/wallet-openid-configuration"
"""PSC's non-standard discovery document name (reference §1 and §8 quirk 1)."""
TOKEN_AUTH_METHODS = ("client_secret_basic", "client_secret_post")
DEFAULT_ACCENT = "#000091"
"""PSC's dark blue."""
_ACCENT = re.compile(r"#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})|[a-zA-Z]{3,20}")

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


class ConfigError(ValueError):
    """A setting is missing or malformed."""


@dataclass
class Settings:
    ISSUER: str = "http://127.0.0.1:5000/auth/realms/esante-wallet"
    """The provider's issuer; ID tokens, userinfo JWTs and the RFC 9207 ``iss`` must equal it."""
    DISCOVERY_URL: str = ""
    """Empty: ``{ISSUER}/.well-known/wallet-openid-configuration`` (PSC's name)."""
    CLIENT_ID: str = "psc-demo-rp"
    CLIENT_SECRET: str = "demo-rp-secret"  # noqa: S105 - the local provider's demo client
    TOKEN_AUTH_METHOD: str = "client_secret_basic"  # noqa: S105 - a method name
    """How the client authenticates at the token endpoint: client_secret_basic or _post."""
    HOST: str = "127.0.0.1"
    PORT: int = 5001
    PUBLIC_URL: str = "http://127.0.0.1:5001"
    """Base URL browsers use to reach this app: redirect URI ``{PUBLIC_URL}/callback``."""
    SCOPE: str = "openid scope_all"
    ACR_VALUES: str = "eidas1"
    """Sent as ``acr_values``; the ID token's ``acr`` must be one of these values."""
    TITLE: str = "Service de démonstration"
    LABEL: str = ""
    """Short badge next to the title (e.g. "RP 1") to tell two instances apart; empty: none."""
    ACCENT: str = DEFAULT_ACCENT
    """Colour of the banner, its badge and the signed-in card: ``#rgb``, ``#rrggbb``, a name."""
    SECRET_KEY: str = ""
    """Signs the session cookie. Empty: random per process (sessions end at restart)."""
    TLS_VERIFY: bool | str = True
    """Verify the provider's TLS certificate: true, false, or a CA bundle path."""

    @property
    def discovery_url(self) -> str:
        return self.DISCOVERY_URL or self.ISSUER.rstrip("/") + DISCOVERY_SUFFIX

    @property
    def redirect_uri(self) -> str:
        return self.PUBLIC_URL.rstrip("/") + "/callback"

    @property
    def post_logout_redirect_uri(self) -> str:
        return self.PUBLIC_URL.rstrip("/") + "/"

    @property
    def backchannel_logout_uri(self) -> str:
        """What to register as the client's ``backchannel_logout_uri``."""
        return self.PUBLIC_URL.rstrip("/") + "/backchannel-logout"

    @property
    def frontchannel_logout_uri(self) -> str:
        """What to register as the client's ``frontchannel_logout_uri`` (session required)."""
        return self.PUBLIC_URL.rstrip("/") + "/frontchannel-logout"

    @property
    def accepted_acr(self) -> list[str]:
        return self.ACR_VALUES.split()

    def validate(self) -> None:
        for name in ("ISSUER", "PUBLIC_URL"):
            _check_url(name, getattr(self, name))
        if self.DISCOVERY_URL:
            _check_url("DISCOVERY_URL", self.DISCOVERY_URL)
        if not self.CLIENT_ID:
            raise ConfigError("CLIENT_ID must not be empty")
        if self.TOKEN_AUTH_METHOD not in TOKEN_AUTH_METHODS:
            raise ConfigError(
                f"TOKEN_AUTH_METHOD must be one of {TOKEN_AUTH_METHODS}, "
                f"not {self.TOKEN_AUTH_METHOD!r}"
            )
        if "openid" not in self.SCOPE.split():
            raise ConfigError("SCOPE must contain 'openid'")
        if not self.accepted_acr:
            raise ConfigError("ACR_VALUES must not be empty")
        if not _ACCENT.fullmatch(self.ACCENT):
            raise ConfigError(f"ACCENT must be #rgb, #rrggbb or a colour name, not {self.ACCENT!r}")
        if len(self.LABEL) > 40:
            raise ConfigError("LABEL must be at most 40 characters")
        if not 0 < self.PORT < 65536:
            raise ConfigError(f"PORT out of range: {self.PORT}")


def _check_url(name: str, value: str) -> None:
    if not value.startswith(("http://", "https://")):
        raise ConfigError(f"{name} must be an http(s) URL, not {value!r}")


def load_settings(
    overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Defaults < TOML file (``PSC_DEMO_RP_CONFIG``) < environment < ``overrides``."""
    env = os.environ if environ is None else environ
    data: dict[str, Any] = {}
    path = env.get(ENV_PREFIX + "CONFIG")
    if path:
        try:
            with open(path, "rb") as fh:
                data.update({k.upper(): v for k, v in tomllib.load(fh).items()})
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"cannot read {path}: {exc}") from exc
    for name in _field_names():
        if ENV_PREFIX + name in env:
            data[name] = env[ENV_PREFIX + name]
    data.update({k.upper(): v for k, v in (overrides or {}).items()})
    unknown = sorted(set(data) - set(_field_names()))
    if unknown:
        raise ConfigError(f"unknown setting(s): {', '.join(unknown)}")
    settings = Settings(**{name: _coerce(name, value) for name, value in data.items()})
    if not settings.SECRET_KEY:
        settings.SECRET_KEY = secrets.token_hex(32)
    settings.validate()
    return settings


def _field_names() -> list[str]:
    return [f.name for f in dataclasses.fields(Settings)]


def _coerce(name: str, value: Any) -> Any:
    if name == "PORT":
        try:
            return int(value)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"PORT must be an integer, not {value!r}") from exc
    if name == "TLS_VERIFY":
        if isinstance(value, bool):
            return value
        text = str(value).strip()
        if text.lower() in _TRUE:
            return True
        if text.lower() in _FALSE:
            return False
        return text  # a CA bundle path, as requests' ``verify`` accepts
    if not isinstance(value, str):
        raise ConfigError(f"{name} must be a string, not {value!r}")
    return value
