"""Constant-time comparison of a value someone sent with the one expected.

``secrets.compare_digest`` raises ``TypeError`` when given two ``str`` of which one holds a
non-ASCII character: a form's ``csrf=é`` answered 500 on every form that checked one.
``same_secret`` compares the UTF-8 bytes instead, and answers ``False`` for anything that is
not a string (a missing value, a list from a JSON body).
"""

from __future__ import annotations

import secrets


def _bytes(value: str) -> bytes:
    return value.encode("utf-8", "surrogatepass")


def same_secret(sent: object, expected: object) -> bool:
    """``sent == expected`` in constant time; ``False`` if either is empty or not a ``str``."""
    if not isinstance(sent, str) or not isinstance(expected, str) or not sent or not expected:
        return False
    return secrets.compare_digest(_bytes(sent), _bytes(expected))
