"""``decide()``: may an authorization request be answered from the browser's IdP session?
(OIDC Core §3.1.2.1 ``prompt``/``max_age``, a ``login_hint`` for someone else, ``acr``.)"""

from __future__ import annotations

import pytest

from psc_idp.sessions import IdpSession, SessionDecision, decide

NOW = 1_700_000_000
GP_ID = 7


CARD_AMR = ["sc", "pin", "mfa"]
PUSH_AMR = ["swk", "pin", "mfa"]
OTP_AMR = ["otp", "swk"]


def session(auth_time: int = NOW - 100, professional_id: int = GP_ID, acr: str = "eidas1",
            auth_mode: str = "CARD", amr: list[str] | None = None) -> IdpSession:
    return IdpSession(id="sid-1", cookie_digest="d", professional_id=professional_id,
                      auth_time=auth_time, acr=acr, amr=amr or CARD_AMR,
                      auth_mode=auth_mode, authenticator="persona")


def ask(current: IdpSession | None, *, prompt: set[str] | None = None, max_age: int | None = None,
        hinted: int | None = None, acr: list[str] | None = None, mode: str = ""
        ) -> SessionDecision:
    return decide(current, prompt=prompt or set(), max_age=max_age, hinted_professional_id=hinted,
                  acr_values=acr if acr is not None else ["eidas1"], auth_mode=mode, now=NOW)


def test_no_session():
    assert ask(None) == SessionDecision(False, "no_session")
    assert ask(None, prompt={"none"}).reason == "no_session"


def test_valid_session_is_reused():
    assert ask(session()) == SessionDecision(True, "session_valid")
    assert ask(session(), prompt={"none"}).reuse is True
    assert ask(session(), prompt={"consent"}).reuse is True
    assert ask(session(), hinted=GP_ID).reuse is True
    assert ask(session(), acr=[]).reuse is True


def test_prompt_login_forces_a_login():
    assert ask(session(), prompt={"login"}) == SessionDecision(False, "prompt_login")
    assert ask(session(), prompt={"login", "consent"}).reason == "prompt_login"
    # prompt=login outranks everything after it
    assert ask(session(), prompt={"login"}, max_age=0, hinted=99, acr=["eidas2"]).reason == \
        "prompt_login"


@pytest.mark.parametrize("age,max_age,reuse", [
    (100, 3600, True),
    (100, 100, True),     # elapsed == max_age: not "greater than" (OIDC Core §3.1.2.1)
    (101, 100, False),
    (1, 0, False),
    (100, None, True),
    (10**6, 10**7, True),
])
def test_max_age(age, max_age, reuse):
    decision = ask(session(auth_time=NOW - age), max_age=max_age)
    assert decision.reuse is reuse
    if not reuse:
        assert decision.reason == "max_age"


def test_max_age_zero_always_asks_for_a_login():
    """OIDC Core 1.0 (errata set 2) §3.1.2.1: "max_age=0 is equivalent to prompt=login", even
    within the second of the previous authentication."""
    assert ask(session(auth_time=NOW), max_age=0).reuse is False


def test_login_hint_of_another_professional():
    assert ask(session(), hinted=GP_ID + 1) == SessionDecision(
        False, "login_hint_other_professional")
    assert ask(session(), hinted=None).reuse is True


@pytest.mark.parametrize("mode,amr,acr,reuse", [
    ("MOBILE", OTP_AMR, ["eidas1"], True),
    ("MOBILE", OTP_AMR, ["eidas2"], False),     # a code alone does not reach eidas2
    ("MOBILE", PUSH_AMR, ["eidas2"], True),     # device key + PIN
    ("MOBILE", PUSH_AMR, ["eidas3"], False),
    ("MOBILE", PUSH_AMR, ["eidas3", "eidas2"], True),  # voluntary: the weakest listed is enough
    ("CARD", CARD_AMR, ["eidas3"], True),
    ("MOBILE", OTP_AMR, ["unknown-acr"], True),  # unknown values are ignored (Keycloak)
])
def test_acr_levels(mode, amr, acr, reuse):
    decision = ask(session(auth_mode=mode, amr=amr), acr=acr)
    assert decision.reuse is reuse
    assert decision.reason == ("session_valid" if reuse else "acr_not_satisfied")


def test_another_means_than_the_session_s():
    card = session(auth_mode="CARD")
    assert ask(card, mode="MOBILE") == SessionDecision(False, "means_differs")
    assert ask(card, mode="CARD").reuse is True
    assert ask(session(auth_mode="MOBILE", amr=PUSH_AMR), mode="CARD").reason == "means_differs"


def test_reasons_are_checked_in_order():
    old_other = session(auth_time=NOW - 5000, auth_mode="MOBILE", amr=OTP_AMR)
    assert ask(old_other, max_age=10, hinted=GP_ID + 1, acr=["eidas2"], mode="CARD").reason == \
        "max_age"
    assert ask(old_other, hinted=GP_ID + 1, acr=["eidas2"], mode="CARD").reason == \
        "login_hint_other_professional"
    assert ask(old_other, acr=["eidas2"], mode="CARD").reason == "acr_not_satisfied"


def test_now_defaults_to_the_clock():
    fresh = session(auth_time=10**10)  # far in the future: elapsed is negative
    assert decide(fresh, prompt=set(), max_age=60, hinted_professional_id=None,
                  acr_values=[]).reuse is True
    stale = session(auth_time=1)
    assert decide(stale, prompt=set(), max_age=60, hinted_professional_id=None,
                  acr_values=[]).reason == "max_age"
