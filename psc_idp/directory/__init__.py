"""The emulated Annuaire Santé: professionals, their practices and structures, and demo personas.

PSC builds its claims from the national directory (RPPS and RPPS+); this package is that
directory for psc-idp. It holds the models (``models``), the national identifier rules
(``national_id``), the code tables and claim OIDs (``nomenclature``), the demo personas
(``demo_data``), loading and export (``loader``) and lookups (``lookup``).

The pure parts (identifiers, nomenclature) are imported eagerly; the database-bound parts are
imported on first use so that ``claims`` can use the nomenclature without pulling in Flask.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .national_id import (
    is_valid_rpps,
    make_rpps,
    national_id_from_rpps,
    parse_identifier,
    rpps_check_digit,
    rpps_from_national_id,
)
from .nomenclature import is_rpps_plus_profession, is_rpps_plus_role, profession_label

if TYPE_CHECKING:
    from .loader import (
        export_professional,
        export_structure,
        load_demo_directory,
        load_directory,
        load_directory_file,
    )
    from .lookup import find_by_identifier, find_by_national_id, list_professionals
    from .models import Activity, Practice, Professional, Structure

_LAZY = {
    "export_professional": "loader",
    "export_structure": "loader",
    "load_demo_directory": "loader",
    "load_directory": "loader",
    "load_directory_file": "loader",
    "find_by_identifier": "lookup",
    "find_by_national_id": "lookup",
    "list_professionals": "lookup",
    "Activity": "models",
    "Practice": "models",
    "Professional": "models",
    "Structure": "models",
}

__all__ = [
    "Activity",
    "Practice",
    "Professional",
    "Structure",
    "export_professional",
    "export_structure",
    "find_by_identifier",
    "find_by_national_id",
    "is_rpps_plus_profession",
    "is_rpps_plus_role",
    "is_valid_rpps",
    "list_professionals",
    "load_demo_directory",
    "load_directory",
    "load_directory_file",
    "make_rpps",
    "national_id_from_rpps",
    "parse_identifier",
    "profession_label",
    "rpps_check_digit",
    "rpps_from_national_id",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value
