"""Reading JSON request bodies with a size and a nesting-depth limit.

Python's ``json`` module parses nested arrays and objects recursively: 20,000 ``[`` in a body
raised ``RecursionError`` (a 500) on every JSON endpoint. ``check`` refuses a body deeper than
``MAX_DEPTH`` or larger than ``MAX_BYTES`` before any parsing; ``read_object`` is what the JSON
endpoints call; ``LimitedJSONProvider`` puts the same check under every ``request.get_json``
(Flask's JSON provider), so a view that forgets the helper still answers 400, not 500.
"""

from __future__ import annotations

import json
from typing import Any

from flask import request
from flask.json.provider import DefaultJSONProvider

MAX_DEPTH = 32
"""No psc-idp JSON body nests deeper than 3; 32 leaves room and stays far from the stack."""
MAX_BYTES = 32 * 1024
"""The largest body psc-idp reads is a device's PEM key and name (~1 KB); the app-wide limit
(``MAX_CONTENT_LENGTH``, 64 KB) still answers 413 above it."""

_OPEN = frozenset(b"[{")
_CLOSE = frozenset(b"]}")


class JsonBodyError(ValueError):
    """A body refused before parsing (too large, too deep) or not a JSON object."""

    def __init__(self, description: str):
        super().__init__(description)
        self.description = description


def depth(data: bytes | str) -> int:
    """The deepest nesting of arrays and objects in ``data`` (brackets in strings ignored)."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    if raw.count(b"[") + raw.count(b"{") <= MAX_DEPTH:
        return 0  # cannot be deeper than the limit: skip the scan
    deepest = level = 0
    in_string = escaped = False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in _OPEN:
            level += 1
            deepest = max(deepest, level)
        elif byte in _CLOSE:
            level -= 1
    return deepest


def check(data: bytes | str) -> None:
    """Raise ``JsonBodyError`` for a body over ``MAX_BYTES`` or nested over ``MAX_DEPTH``."""
    if len(data) > MAX_BYTES:
        raise JsonBodyError(f"The JSON body is larger than {MAX_BYTES} bytes.")
    if depth(data) > MAX_DEPTH:
        raise JsonBodyError(f"The JSON body is nested deeper than {MAX_DEPTH} levels.")


def loads(data: bytes | str) -> Any:
    """``json.loads`` after ``check``; every failure is a ``ValueError``."""
    check(data)
    try:
        return json.loads(data)
    except RecursionError as exc:  # not expected after check(): still never a 500
        raise JsonBodyError("The JSON body is nested too deeply.") from exc


def read_object() -> dict[str, Any]:
    """The request's JSON object body, or ``JsonBodyError`` saying what is wrong with it."""
    data = request.get_data(cache=True)
    try:
        body = loads(data) if data else None
    except JsonBodyError:
        raise
    except ValueError as exc:
        raise JsonBodyError("The body is not valid JSON.") from exc
    if not isinstance(body, dict):
        raise JsonBodyError("A JSON object body is required.")
    return body


class LimitedJSONProvider(DefaultJSONProvider):
    """Flask's JSON provider with ``check`` before every parse (``request.get_json`` included:
    its ``ValueError`` becomes a 400, or ``None`` with ``silent=True``)."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        check(s)
        try:
            return json.loads(s, **kwargs)
        except RecursionError as exc:
            raise JsonBodyError("The JSON body is nested too deeply.") from exc
