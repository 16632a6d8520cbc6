"""JSON Schema validation of what psc-idp issues: userinfo documents and access-token claims.

The schemas live in the repository's ``docs/`` folder (``psc-userinfo.schema.json``, holding both
userinfo shapes, and ``psc-access-token.schema.json``) so RP developers can read and reuse them;
they are loaded once and the compiled validators cached.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker

DOCS_DIR = Path(__file__).resolve().parents[2] / "docs"
USERINFO_SCHEMA = DOCS_DIR / "psc-userinfo.schema.json"
ACCESS_TOKEN_SCHEMA = DOCS_DIR / "psc-access-token.schema.json"


@cache
def _validator(path: Path, definition: str = "") -> Draft202012Validator:
    """The schema at ``path``, or only its ``$defs/<definition>`` (refs still resolve)."""
    schema = json.loads(path.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    if definition:
        if definition not in schema.get("$defs", {}):
            raise ValueError(f"{path.name} has no $defs/{definition}")
        schema = {key: value for key, value in schema.items() if key != "anyOf"}
        schema["$ref"] = f"#/$defs/{definition}"
    return Draft202012Validator(schema, format_checker=FormatChecker())


def userinfo_validator(shape: str = "") -> Draft202012Validator:
    """Either shape (``shape`` empty), or exactly the ``2024`` or ``2023`` one."""
    return _validator(USERINFO_SCHEMA, f"userinfo-{shape}" if shape else "")


def access_token_validator() -> Draft202012Validator:
    return _validator(ACCESS_TOKEN_SCHEMA)


def validate_userinfo(doc: dict[str, Any], shape: str = "") -> None:
    """Raise ``jsonschema.ValidationError`` if ``doc`` is not a PSC-shaped userinfo (of
    ``shape``, ``2024`` or ``2023``, when given)."""
    userinfo_validator(shape).validate(doc)


def validate_access_token_claims(doc: dict[str, Any]) -> None:
    """Raise ``jsonschema.ValidationError`` if ``doc`` is not a PSC-shaped access-token body."""
    access_token_validator().validate(doc)
