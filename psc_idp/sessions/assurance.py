"""Levels of assurance: what a means of identification proves, and what an RP asks for.

PSC only documents ``eidas1`` (every RP sends ``acr_values=eidas1`` and expects it back), but a
2023 sandbox capture showed ``eidas3`` after a card login. psc-idp orders the three eIDAS levels
and gives each means the level it reaches, so that an RP asking for more than the SSO session
proved triggers a new authentication (Keycloak's step-up). An RP may also name the means it
wants with psc-idp's ``auth_mode`` parameter (``CARD`` or ``MOBILE``, PSC's ``authMode`` values).
"""

from __future__ import annotations

ACR_LEVELS: dict[str, int] = {"eidas1": 1, "eidas2": 2, "eidas3": 3}
AUTH_MODES = ("CARD", "MOBILE")


def means_level(auth_mode: str, amr: list[str]) -> int:
    """CARD (smart card + PIN): 3; e-CPS approved with the PIN: 2; e-CPS code alone: 1."""
    if auth_mode == "CARD":
        return 3
    if "pin" in amr or "mfa" in amr:
        return 2
    return 1


def known_acr_values(acr_values: str) -> list[str]:
    return [value for value in acr_values.split() if value in ACR_LEVELS]


def required_level(acr_values: list[str]) -> int | None:
    """``acr_values`` are voluntary and in order of preference: the weakest one listed is
    enough (OIDC Core §3.1.2.1). Unknown values are ignored, as Keycloak does."""
    levels = [ACR_LEVELS[value] for value in acr_values if value in ACR_LEVELS]
    return min(levels) if levels else None


def granted_acr(acr_values: list[str], level: int, default: str) -> str:
    """The ``acr`` to put in the tokens: the strongest requested value the means reached,
    else ``default`` (``eidas1``, what PSC's RPs check)."""
    reached = [value for value in acr_values
               if value in ACR_LEVELS and ACR_LEVELS[value] <= level]
    return max(reached, key=ACR_LEVELS.__getitem__) if reached else default


def means_fits(auth_mode: str, amr: list[str], acr_values: str, wanted_mode: str) -> bool:
    """Can a means (its ``authMode`` and ``amr``) meet what the authorization request asked?"""
    wanted = required_level(known_acr_values(acr_values))
    if wanted is not None and means_level(auth_mode, amr) < wanted:
        return False
    return not wanted_mode or wanted_mode == auth_mode
