"""e-CPS push: the professional types the national identifier (or RPPS), the provider pushes
the login to every usable e-CPS of that professional, and the page waits for the phone.

The phone shows the service name and a two-digit binding code (the one on the page), and the
professional approves with the PIN; the device signs the answer with its key. So the login
proves possession of a software-secured key (``swk``) unlocked by a PIN (``pin``): two factors
(``mfa``), the RFC 8176 values. PSC's ``authMode`` for the e-CPS is ``MOBILE``.

State lives in ``ctx.data`` (saved with the interaction), never in this process: the challenge
id and the professional it was sent to, so any server process can finish the login.

Outcomes (documented in docs/ecps-login.md):

- unknown or malformed identifier, no e-CPS activated, e-CPS blocked (wrong PINs), still in
  its activation delay, expired or revoked → the form again with a message (retryable: the
  professional can fix it, pick another means, or cancel, which sends ``access_denied``);
- at most ``credentials.ecps.MAX_PENDING`` logins wait per professional: a new push withdraws
  the oldest beyond it (a stranger typing the owner's public RPPS number neither floods the
  phone nor keeps the owner's own login from being pushed);
- means of identification blocked in the directory → ``access_denied`` to the RP (final);
- the phone denies → ``access_denied`` to the RP (final: the professional's explicit answer);
- nobody answers before ``ecps.challenge_lifetime`` → the form again with ``ecps_request_expired``
  and a *Réessayer* button (retryable, as Keycloak restarts a timed-out login); the login
  itself still expires after its own lifetime;
- the last wrong PIN blocks the e-CPS (or it is revoked) while the push waits → the push is
  withdrawn and the waiting page shows ``ecps_blocked`` (or ``ecps_expired``) at once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from werkzeug.datastructures import MultiDict

from .base import Authenticator, LoginContext, Outcome, StepResult

DENIED = "The professional denied the request"
MEANS_BLOCKED = "The professional's means of identification are blocked"


def _provider() -> Any:
    from flask import current_app

    return current_app.extensions["psc_idp"]


def _format_when(when: datetime, locale: str) -> str:
    return when.strftime("%d/%m/%Y %H:%M UTC" if locale == "fr" else "%Y-%m-%d %H:%M UTC")


def device_problem(devices: list[Any], locale: str) -> tuple[str, dict[str, str]] | None:
    """Why a professional with these e-CPS devices (``ecps.devices_of``) cannot use them: an
    i18n key and its arguments (None: usable).

    Several devices: one usable is enough; else a device in its activation delay says when
    it will be usable; else a blocked one says so; else they are expired or revoked.
    """
    from ..credentials import ecps

    if not devices:
        return "ecps_not_activated", {}
    statuses = [(ecps.device_status(d), d) for d in devices]
    if any(status == "usable" for status, _ in statuses):
        return None
    waiting = [d.usable_from for status, d in statuses if status == "waiting"]
    if waiting:
        return "ecps_waiting", {"when": _format_when(min(waiting), locale)}
    if any(status == "blocked" for status, _ in statuses):
        return "ecps_blocked", {}
    return "ecps_expired", {}


def refuse_device(professional: Any, authenticator: str, reason: str,
                  args: dict[str, str], national_id_typed: str) -> StepResult:
    """The retryable "no usable e-CPS" page, audited with the professional's identifier."""
    from ..audit import record

    record("ecps.no_usable_device", "failure", subject=professional.national_id,
           authenticator=authenticator, reason=reason)
    return StepResult(Outcome.FAILURE, message=reason,
                      context={"message_args": args, "national_id": national_id_typed})


def _withdraw(challenge: Any) -> bool:
    """This login's pending push withdrawn (one conditional update decides: ``store.settle``,
    as for a push superseded by a newer one); the phone hears of it on the professional's
    topic."""
    from ..credentials import ecps, store
    from ..wakeups import announce

    if store.settle(challenge, "cancelled") is None:
        return False
    announce(ecps.topic(challenge.professional_id))
    return True


class EcpsPushAuthenticator(Authenticator):
    id: ClassVar[str] = "ecps"
    label: ClassVar[dict[str, str]] = {"fr": "e-CPS (application mobile)",
                                       "en": "e-CPS (mobile app)"}
    auth_mode: ClassVar[str] = "MOBILE"
    amr: ClassVar[tuple[str, ...]] = ("swk", "pin", "mfa")

    # ------------------------------------------------------------------ the form
    def begin(self, ctx: LoginContext) -> StepResult:
        return StepResult(Outcome.CHALLENGE, template="login/ecps_push.html",
                          context={"national_id": ctx.login_hint[:40]})

    def resume(self, ctx: LoginContext, form: MultiDict[str, str]) -> StepResult:
        from ..audit import record
        from ..credentials import ecps
        from ..directory.lookup import ENDED_ERROR_DESCRIPTION as ENDED
        from ..directory.lookup import find_for_login, login_refusal

        typed = form.get("national_id", "").strip()[:40]
        professional = find_for_login(typed)  # one Core statement, a frozen view
        if professional is None:
            return StepResult(Outcome.FAILURE, message="unknown_professional",
                              context={"national_id": typed})
        if refusal := login_refusal(professional, MEANS_BLOCKED, ENDED):  # or left the directory
            return StepResult(Outcome.FAILURE, error="access_denied", final=True,
                              message=refusal)
        # PostgreSQL: the professional's row is locked in the same statement (the cap on
        # pending pushes), and held until this request commits.
        devices, locked = ecps.devices_for_push(professional.id)
        problem = device_problem(devices, ctx.ui_locale)
        if problem is not None:
            return refuse_device(professional, self.id, problem[0], problem[1], typed)
        self.abandon(ctx)  # a second submission replaces the first push
        # At most MAX_PENDING wait per professional: the oldest others are withdrawn.
        challenge = ecps.push_challenge(professional, ctx.client_id, ctx.client_name,
                                        {"interaction": ctx.interaction_uid}, devices, locked)
        ctx.data.clear()
        ctx.data.update({"challenge_id": challenge.id, "professional_id": professional.id,
                         "national_id": professional.national_id})
        record("ecps.push_sent", subject=professional.national_id, client_id=ctx.client_id,
               challenge_id=challenge.id, binding_code=challenge.binding_code)
        return self._waiting(challenge)

    # ------------------------------------------------------------------ waiting
    def poll(self, ctx: LoginContext) -> StepResult:
        """Idempotent: the status endpoint, the event stream and the finish page call it.

        One statement per look (``store.login_look``): the challenge, whether a usable e-CPS
        remains, and the professional's refusal columns; the devices themselves are read only
        when none is usable (to say why)."""
        from ..audit import record
        from ..credentials import store
        from ..directory.lookup import ENDED_ERROR_DESCRIPTION as ENDED
        from ..directory.lookup import login_refusal

        now = _provider().clock.now()
        look = self._look(ctx, now)
        if look is None:
            return StepResult(Outcome.FAILURE, message="ecps_no_request",
                              context={"challenge_status": "none"})
        challenge = look.challenge
        status = store.effective_status(challenge, now)
        # An expiry is written (and audited) once: by the request whose update made it.
        noticed = status == "expired" and challenge.status == "pending" and \
            store.settle(challenge, "expired") is not None
        context = {"challenge_status": status}
        if status == "pending":
            blocked = None if look.usable_device else self._no_usable_device(ctx, challenge)
            return blocked if blocked is not None else self._waiting(challenge, now)
        if status == "approved":
            professional = look.professional
            if professional.id != ctx.data.get("professional_id"):
                return StepResult(Outcome.FAILURE, error="access_denied", final=True,
                                  message="The e-CPS answer does not match this login",
                                  context=context)
            # blocked means, or left the directory (the attributes login_refusal reads)
            if refusal := login_refusal(professional, MEANS_BLOCKED, ENDED):  # type: ignore[arg-type]
                return StepResult(Outcome.FAILURE, error="access_denied", final=True,
                                  message=refusal, context=context)
            step = self.success(professional.id, professional.national_id)
            step.context = context
            return step
        if status == "denied":
            return StepResult(Outcome.FAILURE, error="access_denied", final=True,
                              message=DENIED, context=context)
        if status == "expired":
            if noticed:  # recorded once: by the poll that wrote the expiry
                record("ecps.push_expired", "failure", subject=ctx.data.get("national_id", ""),
                       client_id=ctx.client_id, challenge_id=challenge.id)
            # Retryable: the page offers to send it again (Keycloak restarts a timed-out
            # login rather than failing it); the login itself keeps its own expiry.
            return StepResult(Outcome.FAILURE, message="ecps_request_expired",
                              context={**context, "national_id": ctx.data.get("national_id", "")})
        # cancelled (replaced by another submission, or withdrawn because the e-CPS was
        # blocked) or anything unexpected: start again, saying why when the e-CPS is the cause
        blocked = None if look.usable_device else self._no_usable_device(ctx, challenge)
        if blocked is not None:
            return blocked
        return StepResult(Outcome.FAILURE, message="ecps_no_request", context=context)

    def _no_usable_device(self, ctx: LoginContext, challenge: Any) -> StepResult | None:
        """A push whose professional has no usable e-CPS left (the last wrong PIN blocked it,
        or it was revoked): the push is withdrawn if still pending and the page says why at
        once (the block is announced on the professional's topic, which wakes the waits).
        Called only when the look found no usable device: the devices are read to say why."""
        from ..audit import record
        from ..credentials import ecps

        problem = device_problem(ecps.devices_of(challenge.professional_id), ctx.ui_locale)
        if problem is None:  # usable again since the look (an activation delay just ended)
            return None
        if challenge.status == "pending" and _withdraw(challenge):
            record("ecps.push_cancelled", subject=ctx.data.get("national_id", ""),
                   client_id=ctx.client_id, challenge_id=challenge.id, reason=problem[0])
        return StepResult(Outcome.FAILURE, message=problem[0], context={
            "challenge_status": "cancelled",
            "message_args": problem[1], "national_id": ctx.data.get("national_id", "")})

    def wait_topics(self, ctx: LoginContext) -> tuple[str, ...]:
        from ..credentials import ecps

        professional_id = ctx.data.get("professional_id")
        return (ecps.topic(professional_id),) if isinstance(professional_id, int) else ()

    def abandon(self, ctx: LoginContext) -> None:
        """Withdraw this login's pending push (another submission, or the login cancelled)."""
        from ..audit import record

        challenge = self._challenge(ctx)
        if challenge is not None and challenge.status == "pending" and _withdraw(challenge):
            record("ecps.push_cancelled", subject=ctx.data.get("national_id", ""),
                   client_id=ctx.client_id, challenge_id=challenge.id)

    def _challenge(self, ctx: LoginContext) -> Any:
        from ..credentials import store

        challenge_id = self._challenge_id(ctx)
        if challenge_id is None:
            return None
        challenge = store.challenge(challenge_id)
        return challenge if challenge is not None and self._ours(ctx, challenge) else None

    def _look(self, ctx: LoginContext, now: datetime) -> Any:
        from ..credentials import store

        challenge_id = self._challenge_id(ctx)
        if challenge_id is None:
            return None
        # One Core SELECT into frozen rows: every look (a long-poll loop's too) reads the
        # row as it is now, the phone's answer included.
        look = store.login_look(challenge_id, now)
        return look if look is not None and self._ours(ctx, look.challenge) else None

    @staticmethod
    def _challenge_id(ctx: LoginContext) -> str | None:
        challenge_id = ctx.data.get("challenge_id")
        return challenge_id if isinstance(challenge_id, str) else None

    @staticmethod
    def _ours(ctx: LoginContext, challenge: Any) -> bool:
        return challenge.origin == "browser" and \
            challenge.professional_id == ctx.data.get("professional_id")

    def _waiting(self, challenge: Any, now: datetime | None = None) -> StepResult:
        remaining = (challenge.expires_at - (now or _provider().clock.now())).total_seconds()
        return StepResult(Outcome.PENDING, template="login/ecps_wait.html", context={
            "binding_code": challenge.binding_code, "service_name": challenge.service_name,
            "expires_in": max(int(remaining), 0), "challenge_status": "pending"})
