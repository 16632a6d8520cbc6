"""The authenticator contract (after Keycloak's Authenticator SPI, narrowed).

``begin`` runs when the professional picks the means, ``resume`` when a form comes back, ``poll``
while waiting on something outside the browser (a phone). Each returns a ``StepResult`` whose
``outcome`` says what the login page does next.
"""

from __future__ import annotations

import enum
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

from werkzeug.datastructures import MultiDict


class Outcome(enum.Enum):
    SUCCESS = "success"      # authenticated: result is set
    CHALLENGE = "challenge"  # show ``template`` with ``context`` and wait for a form
    PENDING = "pending"      # waiting for something outside the browser; poll again
    FAILURE = "failure"      # this attempt failed; ``error`` and ``message`` say why


@dataclass(frozen=True)
class AuthResult:
    """What a successful authentication proves, as the protocol needs it."""

    professional_id: int
    national_id: str
    auth_mode: str
    """PSC's ``authMode``: CARD or MOBILE."""
    acr: str
    amr: list[str]
    auth_time: int = field(default_factory=lambda: int(time.time()))
    authenticator: str = ""


@dataclass
class StepResult:
    outcome: Outcome
    result: AuthResult | None = None
    template: str | None = None
    context: dict[str, Any] = field(default_factory=dict)
    error: str = ""
    """OAuth error code for the RP when the failure ends the request (e.g. access_denied)."""
    message: str = ""
    """A sentence for the professional, shown on the login page."""
    final: bool = False
    """A failure that ends the authorization request (the RP gets ``error``)."""


@dataclass
class LoginContext:
    """What an authenticator may see of the pending authorization request."""

    interaction_uid: str
    client_id: str
    client_name: str
    login_hint: str
    ui_locale: str
    data: dict[str, Any]
    """The authenticator's own state for this login (saved with the interaction)."""
    emulation_enabled: bool


class Authenticator(ABC):
    """One means of authentication. Subclasses set the class attributes and the three steps."""

    id: ClassVar[str]
    label: ClassVar[dict[str, str]]
    """Button label per locale (fr, en)."""
    auth_mode: ClassVar[str]
    amr: ClassVar[tuple[str, ...]]
    acr: ClassVar[str] = "eidas1"
    emulation_only: ClassVar[bool] = False
    """True for test helpers that must never run in production mode."""

    def __init__(self, settings: dict[str, Any]):
        unknown = set(settings) - set(self.setting_names())
        if unknown:
            raise ValueError(f"unknown settings for authenticator {self.id!r}: {sorted(unknown)}")
        self.settings = settings

    @classmethod
    def setting_names(cls) -> tuple[str, ...]:
        return ()

    @abstractmethod
    def begin(self, ctx: LoginContext) -> StepResult: ...

    @abstractmethod
    def resume(self, ctx: LoginContext, form: MultiDict[str, str]) -> StepResult: ...

    def poll(self, ctx: LoginContext) -> StepResult:
        return StepResult(Outcome.PENDING)

    def wait_topics(self, ctx: LoginContext) -> tuple[str, ...]:
        """What a waiting page listens to (``wakeups.py``) while ``poll`` says pending: it
        looks again as soon as one of these is announced. None: it looks now and then."""
        return ()

    def success(self, professional_id: int, national_id: str, **overrides: Any) -> StepResult:
        result = AuthResult(
            professional_id=professional_id, national_id=national_id,
            auth_mode=overrides.get("auth_mode", self.auth_mode),
            acr=overrides.get("acr", self.acr), amr=list(overrides.get("amr", self.amr)),
            authenticator=self.id)
        return StepResult(Outcome.SUCCESS, result=result)
