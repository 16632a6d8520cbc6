"""IdP sessions (SSO): one per browser sign-in, the RPs it served, the cookie that finds it."""

from .models import IdpSession, SessionClient
from .service import (
    SessionDecision,
    clear_session_cookie,
    current_session,
    decide,
    end_session,
    establish_session,
    note_client,
    set_session_cookie,
)

__all__ = [
    "IdpSession", "SessionClient", "SessionDecision", "clear_session_cookie", "current_session",
    "decide",
    "end_session", "establish_session", "note_client", "set_session_cookie",
]
