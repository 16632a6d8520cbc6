"""The RPPS+ audit events, added to the one table of ``audit.EVENTS`` when this package's
service is imported (a typo in an event name still fails loudly in ``record``)."""

from __future__ import annotations

from ..audit import EVENTS

RPPS_PLUS_EVENTS: dict[str, str] = {
    "rpps_plus.habilitation_granted": "a person was habilitated on a structure (RPPS+ manager "
                                      "or registration authority)",
    "rpps_plus.registration_submitted": "an RPPS+ manager registered a professional",
    "rpps_plus.registration_validated": "the registration authority validated an RPPS+ "
                                        "registration (RPPS number, situation created)",
    "rpps_plus.registration_refused": "the registration authority refused an RPPS+ registration",
    "rpps_plus.decision_refused": "a decision on an RPPS+ registration was refused (already "
                                  "decided, no habilitation, matching conflict)",
    "rpps_plus.situation_ended": "an RPPS+ manager ended a professional's situation in the "
                                 "structure",
    "rpps_plus.access_refused": "the RPPS+ portal refused a person without the habilitation",
}

EVENTS.update(RPPS_PLUS_EVENTS)
