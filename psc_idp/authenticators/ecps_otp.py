"""e-CPS one-time code: when the phone cannot receive pushes, the e-CPS app shows a TOTP code
(RFC 6238: 6 digits, 30 s) and the professional types it with the national identifier.

``amr`` is ``["otp", "swk"]`` (RFC 8176): ``otp`` because a one-time password was entered;
``swk`` because the code proves possession of the seed kept in the e-CPS app, a
software-secured key provisioned at activation. Not ``pin``: the app may ask for its PIN before
showing the code, but nothing the provider receives proves it was entered. Hence not ``mfa``
either: the provider verified one factor, possession. ``authMode`` stays ``MOBILE`` (PSC's
value for the e-CPS, whatever the channel).

The rules are the service's (``credentials.ecps.verify_otp``): a code (a 30 s step) is
accepted once, ever, per device (replay refused), ``ecps.otp_drift_steps`` steps of drift
either way. A code is typed next to a public national id, so a wrong one is anonymous: it never
blocks the device's OTP, it is throttled: ``ecps.otp_attempts`` wrong codes per login
(``otp_locked`` for this login), and twice that per professional per window (``otp_throttled``
for everyone until the window ends; 15 min, doubling up to 24 h). Every refusal shows the form
again (retryable: the push login or another means stay available); a professional whose means
are blocked in the directory ends the request with ``access_denied``. No state is kept in
``ctx.data``: the budgets are counted in the database (``credentials/attempts.py``).
"""

from __future__ import annotations

from typing import ClassVar

from werkzeug.datastructures import MultiDict

from .base import Authenticator, LoginContext, Outcome, StepResult
from .ecps_push import MEANS_BLOCKED, device_problem, refuse_device

# The service's error codes → the login page's messages (login/i18n.py).
_MESSAGES = {"invalid_otp": "otp_wrong", "otp_replayed": "otp_replayed",
             "otp_unavailable": "otp_unavailable", "otp_locked": "otp_locked",
             "otp_throttled": "otp_throttled"}


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
        from ..directory.lookup import ENDED_ERROR_DESCRIPTION as ENDED
        from ..directory.lookup import find_for_login, login_refusal

        typed = form.get("national_id", "").strip()[:40]
        code = "".join(form.get("code", "").split())[:12]
        kept = {"national_id": typed}
        professional = find_for_login(typed)  # one Core statement, a frozen view
        if professional is None:
            return StepResult(Outcome.FAILURE, message="unknown_professional", context=kept)
        if refusal := login_refusal(professional, MEANS_BLOCKED, ENDED):  # or left the directory
            return StepResult(Outcome.FAILURE, error="access_denied", final=True,
                              message=refusal)
        if not (code.isascii() and code.isdigit() and len(code) == 6):
            return StepResult(Outcome.FAILURE, message="otp_malformed", context=kept)
        problem = device_problem(ecps.devices_of(professional.id), ctx.ui_locale)
        if problem is not None:
            return refuse_device(professional, self.id, problem[0], problem[1], typed)
        try:
            device = ecps.verify_otp(professional, code, source=ctx.interaction_uid)
        except ecps.EcpsError as error:  # audit rows commit with the retry page
            return StepResult(Outcome.FAILURE, message=_MESSAGES.get(error.code, "otp_wrong"),
                              context=kept)
        record("ecps.otp_accepted", subject=professional.national_id,
               client_id=ctx.client_id, device_id=device.id)
        return self.success(professional.id, professional.national_id)
