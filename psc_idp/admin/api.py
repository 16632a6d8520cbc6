"""Admin API for demo/test mode: the outbox (activation codes), the emulated clock, and the
IdP sessions (list, end with the same single-logout fan-out as a browser logout).

These are emulation knobs: the blueprint answers 404 in production mode.
"""

from __future__ import annotations

import math

from flask import Blueprint, Response, abort, current_app, jsonify, request

from .. import jsonbody
from ..audit import record
from ..credentials.outbox import messages_for
from ..db import db

bp = Blueprint("admin_api", __name__, url_prefix="/api/admin")


@bp.before_request
def emulation_only() -> None:
    if not current_app.extensions["psc_idp"].settings.emulation_enabled:
        abort(404)


@bp.get("/outbox")
def outbox() -> Response:
    """Messages sent, newest first; filter with ``national_id`` or ``recipient``."""
    rows = messages_for(recipient=request.args.get("recipient") or None,
                        national_id=request.args.get("national_id") or None)
    return jsonify({"messages": [
        {"id": m.id, "channel": m.channel, "recipient": m.recipient, "subject": m.subject,
         "body": m.body, "national_id": m.national_id, "at": m.created_at.isoformat() + "Z"}
        for m in rows]})


@bp.get("/clock")
def clock() -> Response:
    c = current_app.extensions["psc_idp"].clock
    return jsonify({"offset_seconds": c.offset, "now": c.now().isoformat() + "Z"})


@bp.post("/clock")
def move_clock() -> Response:
    """``{"advance_seconds": N}`` or ``{"offset_seconds": N}``: the 48 h delay, 3-year expiry."""
    try:
        data = jsonbody.read_object()  # size and nesting depth bounded: 400, never a 500
    except jsonbody.JsonBodyError as exc:
        return _invalid(exc.description)
    c = current_app.extensions["psc_idp"].clock
    advance, offset = _seconds(data.get("advance_seconds")), _seconds(data.get("offset_seconds"))
    if advance is not None and abs(c.offset + advance) <= MAX_CLOCK_SECONDS:
        c.advance(advance)
    elif offset is not None:
        c.set_offset(offset)
    else:
        return _invalid("advance_seconds or offset_seconds: a number of seconds, the offset "
                        "within a century")
    record("admin.clock_moved", "info", offset=c.offset)
    db.session.commit()
    current_app.extensions["psc_idp"].wakeups.wake_all()  # waits look at the new time now
    return clock()


MAX_CLOCK_SECONDS = 100 * 365 * 86400
"""A century: beyond it the clock's datetimes overflow (and no test needs more)."""


def _seconds(value: object) -> float | None:
    """A finite number of seconds within a century (not a boolean, NaN or 1e400)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        seconds = float(value)
    except OverflowError:  # an integer too large for a float
        return None
    return seconds if math.isfinite(seconds) and abs(seconds) <= MAX_CLOCK_SECONDS else None


def _invalid(description: str) -> Response:
    response = jsonify({"error": "invalid_request", "error_description": description})
    response.status_code = 400
    return response


@bp.get("/sessions")
def list_sessions() -> Response:
    """Live IdP sessions, newest first; ``national_id`` narrows to one professional."""
    from ..directory.lookup import find_by_identifier
    from ..sessions.queries import live_sessions

    professional_id = None
    if request.args.get("national_id"):
        professional = find_by_identifier(request.args["national_id"][:64])
        if professional is None:
            return jsonify({"sessions": []})
        professional_id = professional.id
    return jsonify({"sessions": [v.as_json() for v in live_sessions(professional_id)]})


@bp.delete("/sessions/<sid>")
def end_session(sid: str) -> Response:
    """End one session: its RPs are told (back-channel), its non-offline tokens revoked."""
    from ..sessions.backchannel import dispatch
    from ..sessions.logout import end_by_id

    outcome = end_by_id(sid, "admin_logout")
    if outcome is None:
        response = jsonify({"error": "not_found", "error_description": "No such live session."})
        response.status_code = 404
        return response
    db.session.commit()
    dispatch(outcome)
    return jsonify({"sid": sid, "ended": True, "backchannel_deliveries": len(outcome.deliveries)})
