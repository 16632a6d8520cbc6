"""PSC's claims: userinfo, the ``sub`` and ``otherIds`` shared with tokens, and their schemas.

Built from the directory's ``Professional`` by pure functions (no Flask, no database writes);
``schemas`` validates the issued documents against ``docs/*.schema.json``.
"""

from __future__ import annotations

from .schemas import validate_access_token_claims, validate_userinfo
from .userinfo import (
    SCOPE_ALL,
    SHAPE_2023,
    SHAPE_2024,
    SHAPES,
    build_userinfo,
    minimal_identity,
    other_ids,
    subject,
)

__all__ = [
    "SCOPE_ALL",
    "SHAPES",
    "SHAPE_2023",
    "SHAPE_2024",
    "build_userinfo",
    "minimal_identity",
    "other_ids",
    "subject",
    "validate_access_token_claims",
    "validate_userinfo",
]
