"""Which DMP document types each RPPS+ role may read (seed 004, "Les 5 rôles et les droits
d'accès associés").

The matrix is data (``data/dmp_access.json``): the five roles GENR08–GENR12 (TRE_R22) and, for
each, the document types transcribed word for word from the seed's tables, each with a stable
code: the DMP's own type code (LOINC, or TRE_A05-TypeDocComplementaire) where one was found in
ANS's value sets, else a ``dmp-…`` slug (``system`` says which, ``match`` how sure the mapping
is). Loaded once per process. docs/dmp-access.md.

PSC publishes no claim carrying these rights (as far as anyone knows): nothing here reaches the
claims.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

DATA_FILE = "dmp_access.json"


class UnknownRole(LookupError):
    """A role that is none of the five RPPS+ roles; the message is French."""

    def __init__(self, role: str) -> None:
        super().__init__(f"rôle RPPS+ inconnu : « {role} » (attendu : GENR08 à GENR12)")
        self.role = role


class UnknownDocumentType(LookupError):
    """A document type that is neither a code nor an exact label of the matrix (French)."""

    def __init__(self, document_type: str) -> None:
        super().__init__(f"type de document DMP inconnu : « {document_type} » (un code ou le "
                         "libellé exact ; `psc-idp directory dmp-matrix` les liste)")
        self.document_type = document_type


@dataclass(frozen=True)
class DocumentType:
    code: str
    label: str
    """Word for word as in seed 004."""
    system: str
    """``LOINC``, ``TRE_A05`` or ``slug`` (no sourced code)."""
    official_label: str
    """The label in ANS's table, when it differs in spelling or wording ("" for a slug)."""
    match: str
    """exact, spelling, close, inferred or none: how the code was matched to the seed's label."""
    note: str

    def as_json(self) -> dict[str, Any]:
        return {"code": self.code, "label": self.label, "system": self.system,
                "official_label": self.official_label, "match": self.match, "note": self.note}


@dataclass(frozen=True)
class Role:
    code: str
    label: str
    """The seed's table heading for the role."""
    documents: tuple[str, ...]
    """Document type codes, in the seed's order."""


@dataclass(frozen=True)
class Matrix:
    roles: dict[str, Role]
    document_types: dict[str, DocumentType]
    by_label: dict[str, str]
    """Seed labels and ANS labels → code."""


@cache
def matrix() -> Matrix:
    """The matrix, read and checked once per process (a broken data file fails loudly)."""
    raw = json.loads(resources.files("psc_idp.directory").joinpath("data", DATA_FILE)
                     .read_text(encoding="utf-8"))
    types = {d["code"]: DocumentType(code=d["code"], label=d["label"], system=d["system"],
                                     official_label=d.get("official_label", ""),
                                     match=d["match"], note=d.get("note", ""))
             for d in raw["document_types"]}
    by_label: dict[str, str] = {}
    for t in types.values():
        by_label.setdefault(t.label, t.code)
        if t.official_label:
            by_label.setdefault(t.official_label, t.code)
    roles = {}
    for r in raw["roles"]:
        missing = [c for c in r["documents"] if c not in types]
        if missing:
            raise ValueError(f"{DATA_FILE}: role {r['code']} names unknown types {missing}")
        roles[r["code"]] = Role(code=r["code"], label=r["label"], documents=tuple(r["documents"]))
    return Matrix(roles=roles, document_types=types, by_label=by_label)


def role_code(role: str) -> str:
    """``GENR08``…``GENR12`` (any case, surrounding spaces ignored), or ``UnknownRole``."""
    code = role.strip().upper() if isinstance(role, str) else ""
    if code not in matrix().roles:
        raise UnknownRole(str(role))
    return code


def document_type(text: str) -> DocumentType:
    """A document type by its code or its exact French label (the seed's or ANS's)."""
    m = matrix()
    if isinstance(text, str):
        code = text.strip()
        if code in m.document_types:
            return m.document_types[code]
        if code in m.by_label:
            return m.document_types[m.by_label[code]]
    raise UnknownDocumentType(str(text))


def can_read(role: str, document_type_text: str) -> bool:
    """True when the role may read that document type in the DMP; ``UnknownRole`` or
    ``UnknownDocumentType`` for names the matrix does not hold."""
    code = role_code(role)
    return document_type(document_type_text).code in matrix().roles[code].documents


def documents_for(role: str) -> list[DocumentType]:
    """The document types a role may read, in the seed's order."""
    m = matrix()
    return [m.document_types[c] for c in m.roles[role_code(role)].documents]


def matrix_json() -> dict[str, Any]:
    """The whole matrix as JSON: roles (with the TRE_R22 label) and document types."""
    from .nomenclature import RPPS_PLUS_ROLES

    m = matrix()
    return {
        "roles": [{"code": r.code, "label": r.label, "table_label": RPPS_PLUS_ROLES.get(r.code, ""),
                   "documents": list(r.documents)} for r in m.roles.values()],
        "document_types": [t.as_json() for t in m.document_types.values()],
    }
