"""e-CPS one-time code: when the phone cannot receive pushes, the e-CPS app shows a TOTP code
(RFC 6238: 6 digits, 30 s) and the professional types it with the national identifier.

``amr`` is ``["otp", "swk"]`` (RFC 8176): ``otp`` because a one-time password was entered;
``swk`` because the code proves possession of the seed kept in the e-CPS app, a
software-secured key provisioned at activation. Not ``pin``: the app may ask for its PIN before
showing the code, but nothing the provider receives proves it was entered. Hence not ``mfa``
either: the provider verified one factor, possession. ``authMode`` stays ``MOBILE`` (PSC's
value for the e-CPS, whatever the channel).

The rules are the service's (``credentials.ecps.verify_otp``): a code is accepted once (replay
refused), ``ecps.otp_drift_steps`` steps of drift either way, and after ``ecps.otp_attempts``
wrong codes in a row the device's OTP login is blocked (even a right code is refused). Every
refusal shows the form again (retryable: the push login or another means stay available); a
professional whose means are blocked in the directory ends the request with ``access_denied``.
No state is kept between requests: ``ctx.data`` is left empty.
"""

from __future__ import annotations

from typing import Any, ClassVar

from werkzeug.datastructures import MultiDict

from .base import Authenticator, LoginContext, Outcome, StepResult
from .ecps_push import MEANS_BLOCKED, device_problem, refuse_device

# The service's error codes → the login page's messages (login/i18n.py).
_MESSAGES = {"invalid_otp": "otp_wrong", "otp_replayed": "otp_replayed",
             "otp_unavailable": "otp_unavailable"}


class EcpsOtpAuthenticator(Authenticator):
    id: ClassVar[str] = "ecps_otp"
    label: ClassVar[dict[str, str]] = {"fr": "e-CPS : code à usage unique",
                                       "en": "e-CPS: one-time code"}
    auth_mode: ClassVar[str] = "MOBILE"
    amr: ClassVar[tuple[str, ...]] = ("otp", "swk")

    def begin(self, ctx: LoginContext) -> StepResult:
        return StepResult(Outcome.CHALLENGE, template="login/ecps_otp.html",
                          context={"national_id": ctx.login_hint[:40]})

    def resume(self, ctx: LoginContext, form: MultiDict[str, str]) -> StepResult:
        from ..audit import record
        from ..credentials import ecps
        from ..directory.lookup import find_by_identifier

        typed = form.get("national_id", "").strip()[:40]
        code = "".join(form.get("code", "").split())[:12]
        kept = {"national_id": typed}
        professional = find_by_identifier(typed)
        if professional is None:
            return StepResult(Outcome.FAILURE, message="unknown_professional", context=kept)
        if professional.means_blocked:
            return StepResult(Outcome.FAILURE, error="access_denied", final=True,
                              message=MEANS_BLOCKED)
        if not (code.isascii() and code.isdigit() and len(code) == 6):
            return StepResult(Outcome.FAILURE, message="otp_malformed", context=kept)
        problem = device_problem(ecps.devices_of(professional.id), ctx.ui_locale)
        if problem is not None:
            return refuse_device(professional, self.id, problem[0], problem[1], typed)
        try:
            device = ecps.verify_otp(professional, code)
        except ecps.EcpsError as error:  # counters and audit rows commit with the retry page
            message = _MESSAGES.get(error.code, "otp_wrong")
            if error.code == "invalid_otp" and self._locked(professional.id):
                message = "otp_locked"
            return StepResult(Outcome.FAILURE, message=message, context=kept)
        record("ecps.otp_accepted", subject=professional.national_id,
               client_id=ctx.client_id, device_id=device.id)
        return self.success(professional.id, professional.national_id)

    @staticmethod
    def _locked(professional_id: int) -> bool:
        """Every usable device has used up its wrong-code allowance."""
        from flask import current_app

        from ..credentials import ecps

        limit: Any = current_app.extensions["psc_idp"].settings.ecps.otp_attempts
        devices = ecps.usable_devices(professional_id)
        return bool(devices) and all(d.otp_failures >= limit for d in devices)
