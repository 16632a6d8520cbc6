"""Test personas: in demo/test mode the login page lists the directory and signs one in on click.

It stands in for a card or an e-CPS so RP developers can test without a phone or a reader; the
``auth_mode`` setting says which means it pretends to be (PSC's ``authMode``). Refused in
production mode (``emulation_only``), and announced on every page and in discovery.
"""

from __future__ import annotations

import threading
from typing import Any, ClassVar

from markupsafe import Markup
from werkzeug.datastructures import MultiDict

from .base import Authenticator, LoginContext, Outcome, StepResult

AMR_BY_MODE: dict[str, tuple[str, ...]] = {
    "CARD": ("sc", "pin", "mfa"),     # RFC 8176: smart card + PIN
    "MOBILE": ("swk", "pin", "mfa"),  # RFC 8176: software-secured key + PIN
}


_rendered: dict[str, tuple[Any, Markup]] = {}
_rendered_lock = threading.Lock()


def persona_buttons(locale: str) -> Markup:
    """The persona buttons' HTML (dozens of them, the same for every login), rendered once per
    persona list and language: ``lookup.persona_summaries`` keeps one list object until it
    expires or the directory changes (``forget_cached_summaries``), so a new list object is
    the signal to render again. The per-login parts (form action, CSRF) stay in the page."""
    from flask import render_template

    from ..directory.lookup import persona_summaries
    from ..login.i18n import translator

    rows = persona_summaries()
    with _rendered_lock:
        cached = _rendered.get(locale)
    if cached is not None and cached[0] is rows:
        return cached[1]
    # the template autoescapes every value: its output is safe HTML
    html = Markup(render_template("login/_persona_buttons.html", personas=rows,  # noqa: S704
                                  t=translator(locale)))
    with _rendered_lock:
        _rendered[locale] = (rows, html)
    return html


class PersonaAuthenticator(Authenticator):
    id: ClassVar[str] = "persona"
    label: ClassVar[dict[str, str]] = {"fr": "Personas de test", "en": "Test personas"}
    auth_mode: ClassVar[str] = "CARD"
    amr: ClassVar[tuple[str, ...]] = AMR_BY_MODE["CARD"]
    emulation_only: ClassVar[bool] = True

    def __init__(self, settings: dict[str, Any]):
        super().__init__(settings)
        mode = settings.get("auth_mode", "CARD")
        if mode not in AMR_BY_MODE:
            raise ValueError(f"auth_mode must be one of {sorted(AMR_BY_MODE)}")
        self.simulated_mode = mode
        # What this instance proves (read by the login page's means filter).
        self.auth_mode = mode  # type: ignore[misc]
        self.amr = AMR_BY_MODE[mode]  # type: ignore[misc]

    @classmethod
    def setting_names(cls) -> tuple[str, ...]:
        return ("auth_mode",)

    def begin(self, ctx: LoginContext) -> StepResult:
        return StepResult(Outcome.CHALLENGE, template="login/persona.html",
                          context={"personas_html": persona_buttons(ctx.ui_locale),
                                   "login_hint": ctx.login_hint})

    def resume(self, ctx: LoginContext, form: MultiDict[str, str]) -> StepResult:
        from ..directory.lookup import find_for_login

        if not ctx.emulation_enabled:
            return StepResult(Outcome.FAILURE, error="access_denied", final=True,
                              message="Test personas are disabled in production mode.")
        professional = find_for_login(form.get("national_id", "")[:40])
        if professional is None:
            return StepResult(Outcome.FAILURE, message="unknown_professional")
        return self.sign_in(professional)

    def sign_in(self, professional: Any) -> StepResult:
        """Also used for test autologin (``login_hint`` from a ``--test-autologin`` client)."""
        from ..directory.lookup import login_refusal

        if refusal := login_refusal(professional):  # blocked means, or left the directory
            return StepResult(Outcome.FAILURE, error="access_denied", final=True,
                              message=refusal)
        return self.success(professional.id, professional.national_id,
                            auth_mode=self.simulated_mode, amr=AMR_BY_MODE[self.simulated_mode])
