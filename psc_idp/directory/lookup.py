"""Reading the directory inside a Flask app context (``db.session``).

The login form, CIBA ``login_hint`` and the CLI all take what a person typed; ``find_by_identifier``
normalises it first (national id, bare RPPS, or a structure staff id such as
``500000001815646/CPAT00045``; check digits verified) so a typo is a clean "not found" rather
than a query on garbage.

``login_refusal`` says whether a person found may sign in: not when every means is blocked, nor
when the person left the directory (``ended_on`` today or earlier, as an import ends people
absent from a newer extraction). Every authenticator, CIBA and SSO reuse ask it.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, date, datetime
from typing import Any

from flask import g, has_app_context
from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload

from ..db import db
from . import store
from .models import Activity, Practice, Professional
from .national_id import parse_identifier
from .store import ProfessionalView

# One query for a professional with practices, activities and structures (claims need them all).
_WHOLE = (joinedload(Professional.practices).joinedload(Practice.activities)
          .joinedload(Activity.structure))
_OTHER_IDS = selectinload(Professional.other_ids)

ENDED_REFUSAL = "Ce professionnel ne figure plus dans l'annuaire santé : connexion refusée."
"""The French refusal for an ended person (the login pages' text of ``ENDED``)."""
ENDED_ERROR_DESCRIPTION = "This professional is no longer in the directory."
"""The same refusal in an OAuth ``error_description`` (CIBA): ASCII, as RFC 6749 §5.2 requires,
in English like the protocol's other descriptions."""


def _today() -> date:
    """Today on the provider's clock (tests move it), or UTC's today outside a provider app
    (a bare directory app, a script)."""
    from flask import current_app, has_app_context

    if has_app_context() and "psc_idp" in current_app.extensions:
        return current_app.extensions["psc_idp"].clock.now().date()
    return datetime.now(UTC).date()


def is_ended(professional: Professional, today: date | None = None) -> bool:
    """True when the person left the directory: ``ended_on`` is today or earlier."""
    ended_on = professional.ended_on
    return ended_on is not None and ended_on <= (today or _today())


ENDED = "professional_ended"
"""The message key of that refusal (``login/i18n.py`` holds its French and English text), the
sibling of ``means_blocked``; it is also the ``error_description`` an RP then receives."""


def login_refusal(professional: Professional, blocked: str = "means_blocked",
                  ended: str = ENDED) -> str | None:
    """None when ``professional`` may sign in; otherwise why not, in the caller's words:
    ``blocked`` for blocked means, ``ended`` for a person who left the directory."""
    if professional.means_blocked:
        return blocked
    if is_ended(professional):
        return ended
    return None


def _remembered(professional_id: int) -> Any:
    """What this request already read of that professional (``_remember``), if anything."""
    return g.get("psc_professionals", {}).get(professional_id) if has_app_context() else None


def _remember(professional: Any) -> Any:
    """Keep a strong reference for the request: the identity map's are weak."""
    if professional is not None and has_app_context():
        g.setdefault("psc_professionals", {})[professional.id] = professional
    return professional


def get_professional(professional_id: int, *, whole: bool = False) -> Professional | None:
    """By primary key, once per request. ``whole``: with practices, activities and structures
    in the same query (what userinfo needs); otherwise the row alone (what tokens need)."""
    known = _remembered(professional_id)
    if isinstance(known, Professional) and (not whole or "practices" in known.__dict__):
        return known
    options = [_WHOLE, _OTHER_IDS] if whole else []
    return _remember(db.session.get(Professional, professional_id, options=options,
                                    populate_existing=whole and known is not None))


def find_by_national_id(national_id: str) -> Professional | None:
    """The professional whose national identifier (``8`` + RPPS, or a staff id ``3…/…`` or
    ``5…/…``) is exactly ``national_id``."""
    query = select(Professional).filter_by(national_id=national_id)
    return _remember(db.session.scalars(query).first())


def find_by_identifier(text: str) -> Professional | None:
    """Accepts a national id, an RPPS or a staff id, with stray whitespace (staff ids in any
    case); None if malformed or unknown."""
    national_id = parse_identifier(text)
    if national_id is None:
        return None
    return find_by_national_id(national_id)


def find_for_login(text: str) -> ProfessionalView | None:
    """``find_by_identifier`` as a sign-in needs it: the person and its identifiers in one Core
    statement (no ORM on the login's hot path), remembered for the rest of the request."""
    national_id = parse_identifier(text)
    if national_id is None:
        return None
    return _remember(store.professional_by_national_id(national_id))


def signed_in_professional(professional_id: int) -> Any:
    """The professional a login just identified, for its code and session: the object this
    request already read (``find_for_login``, or the ORM), else one Core statement."""
    known = _remembered(professional_id)
    return known if known is not None else _remember(store.professional(professional_id))


def list_professionals() -> list[Professional]:
    """Everyone in the directory, by family name, given name then national id (stable order)."""
    query = select(Professional).order_by(
        Professional.family_name, Professional.given_name, Professional.national_id)
    return list(db.session.scalars(query.options(_WHOLE, _OTHER_IDS)).unique())


_SUMMARY_TTL = 5.0
_summary_cache: dict[str, tuple[float, list[dict[str, Any]]]] = {}
_summary_lock = threading.Lock()


def persona_summaries() -> list[dict[str, Any]]:
    """The login page's persona list as plain rows, cached a few seconds per process.

    The directory changes only through the CLI; a page at most five seconds stale is fine,
    and the page is the hottest read of a demo login.
    """
    key = str(db.engine.url)
    now = time.monotonic()
    with _summary_lock:
        cached = _summary_cache.get(key)
        if cached and now - cached[0] < _SUMMARY_TTL:
            return cached[1]
    rows = [{"national_id": p.national_id, "given_name": p.given_name,
             "family_name": p.family_name, "persona_label": p.persona_label,
             "means_blocked": p.means_blocked, "ended": is_ended(p),
             "has_active_practice": bool(p.active_practices)}
            for p in list_professionals()]
    with _summary_lock:
        _summary_cache[key] = (now, rows)
    return rows


def forget_cached_summaries() -> None:
    """Called after the directory is loaded, so this process shows the change at once."""
    with _summary_lock:
        _summary_cache.clear()
