"""One log line per event, whatever a client sends.

A ``client_id`` or a Basic user name holding a newline was written raw to the log: one request
could add a forged line ("… login.success subject=8100…"). ``escape`` turns every character that
can end or hide a line (C0 and C1 controls, DEL, U+2028/U+2029, the BOM-like format characters)
into a visible ``\\xNN``/``\\uNNNN`` escape, and the backslash itself into ``\\\\`` so an escape
cannot be faked either. ``OneLineFormatter`` keeps every message psc-idp logs on one line too
(controls escaped, backslashes left: the audit values are escaped already); the traceback of
``log.exception`` stays below it, as Python writes it.
"""

from __future__ import annotations

import logging
import re

_CONTROLS = r"\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069"
_UNSAFE = re.compile(rf"[\\{_CONTROLS}]")
_BREAKING = re.compile(rf"[{_CONTROLS}]")


def _replace(match: re.Match[str]) -> str:
    char = match.group()
    if char == "\\":
        return "\\\\"
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape(value: object, *, backslash: bool = True) -> str:
    """``str(value)`` with line breaks, controls and bidi overrides escaped: one line.
    ``backslash=False`` leaves backslashes alone (for text already escaped)."""
    return (_UNSAFE if backslash else _BREAKING).sub(_replace, str(value))


class OneLineFormatter(logging.Formatter):
    """A ``logging.Formatter`` whose message part is always one line (``escape``)."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = escape(record.message, backslash=False)
        return super().formatMessage(record)
