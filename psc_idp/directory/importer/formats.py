"""The two extraction layouts, read by header name (never by position) and checked line by line.

- ``libreacces``: the public ``PS_LibreAcces_Personne_activite_<ts>.txt`` (code and label
  columns; files from 2025 add ``Code fonction``/``Code genre d'activité`` and move savoir-faire
  to ``PS_LibreAcces_SavoirFaire_<ts>.txt``).
- ``psc``: PSC's own ``Extraction_ProSanteConnect_Personne_activite_<ts>.txt`` (49 columns with
  civil status and contact data; ``pscextract`` adds ``Autres identifiants`` and
  ``Code genre d'activité``).

Headers differ between vintages in case and wording (``Indice répétition voie (coord.
Structure)``, ``Code Département (structure)``): names are compared without accents, case or
punctuation.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime

FORMATS = ("libreacces", "psc")


class FormatError(ValueError):
    """The file cannot be read as an extraction at all (its header); French message."""


def normalise(name: str) -> str:
    """``"Indice répétition voie (coord. Structure)"`` →
    ``"indice repetition voie coord structure"``."""
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", " ", plain.lower()).strip()


# Normalised header name → field name of a parsed line.
COLUMNS: dict[str, str] = {
    "type d identifiant pp": "id_type",
    "identifiant pp": "id_pp",
    "identification nationale pp": "national_id",
    "nom de famille": "family_name",
    "prenoms": "given_names",
    "date de naissance": "birth_date",
    "code commune de naissance": "birth_place_code",
    "telephone coord correspondance": "contact_mobile",
    "adresse e mail coord correspondance": "contact_email",
    "code civilite": "civility",
    "code civilite d exercice": "practice_civility",
    "nom d exercice": "practice_family_name",
    "prenom d exercice": "practice_given_name",
    "code profession": "profession",
    "code categorie professionnelle": "category",
    "code type savoir faire": "expertise_type",
    "code savoir faire": "expertise",
    "code mode exercice": "mode",
    "code secteur d activite": "sector",
    "code section tableau pharmaciens": "pharmacist_section",
    "code role": "role",
    "code fonction": "role",
    "code genre d activite": "activity_kind",
    "numero siret site": "siret",
    "numero siren site": "siren",
    "numero finess site": "finess_site",
    "numero finess etablissement juridique": "finess_legal",
    "identifiant technique de la structure": "technical_id",
    "raison sociale site": "name",
    "enseigne commerciale site": "trade_name",
    "complement destinataire coord structure": "addressee_complement",
    "complement point geographique coord structure": "geo_complement",
    "numero voie coord structure": "street_number",
    "indice repetition voie coord structure": "street_repeat",
    "code type de voie coord structure": "street_type",
    "libelle voie coord structure": "street_name",
    "mention distribution coord structure": "distribution",
    "bureau cedex coord structure": "cedex_office",
    "code postal coord structure": "postal_code",
    "code commune coord structure": "commune_code",
    "code pays coord structure": "country_code",
    "telephone coord structure": "phone",
    "telephone 2 coord structure": "phone2",
    "telecopie coord structure": "fax",
    "adresse e mail coord structure": "email",
    "code departement coord structure": "department_code",
    "code departement structure": "department_code",
    "ancien identifiant de la structure": "former_id",
    "autorite d enregistrement": "registration_authority",
    "autres identifiants": "other_ids",
}

REQUIRED = {
    "libreacces": ("id_type", "id_pp", "national_id", "profession", "practice_family_name",
                   "practice_given_name", "technical_id", "mode"),
    "psc": ("id_type", "id_pp", "national_id", "family_name", "given_names", "profession",
            "technical_id", "mode"),
}
"""Columns each layout must have in its header (the values may still be empty where allowed)."""

# Nomenclature table checked for each code field (an unknown code rejects the line).
CODE_TABLES = {
    "civility": "civilite",
    "practice_civility": "civilite_exercice",
    "profession": "profession",
    "category": "categorie",
    "expertise_type": "type_savoir_faire",
    "expertise": "savoir_faire",
    "mode": "mode_exercice",
    "sector": "secteur",
    "pharmacist_section": "section_pharmacien",
    "role": "role",
    "activity_kind": "genre_activite",
}

# Longest value each field may hold (the column it lands in): longer → the line is rejected,
# never cut (a cut identifier would be another one).
LIMITS = {
    "national_id": 64, "id_pp": 11, "family_name": 100, "given_name": 100,
    "birth_place_code": 10, "contact_email": 200, "contact_mobile": 30, "civility": 5,
    "practice_civility": 5, "practice_family_name": 100, "practice_given_name": 100,
    "profession": 10, "category": 5, "expertise_type": 5, "expertise": 10, "mode": 5,
    "sector": 10, "pharmacist_section": 5, "role": 10, "activity_kind": 10,
    "technical_id": 40, "name": 200, "trade_name": 200, "finess_site": 9, "finess_legal": 9,
    "siret": 14, "siren": 9, "addressee_complement": 100, "geo_complement": 100,
    "street_number": 10, "street_repeat": 5, "street_type": 10, "street_name": 100,
    "distribution": 100, "cedex_office": 100, "postal_code": 10, "commune_code": 10,
    "country_code": 10, "department_code": 5, "phone": 30, "phone2": 30, "fax": 30,
    "email": 200, "former_id": 40, "registration_authority": 60,
}

LABELS = {
    "national_id": "Identification nationale PP", "id_pp": "Identifiant PP",
    "family_name": "Nom de famille", "given_name": "Prénoms",
    "practice_family_name": "Nom d'exercice", "practice_given_name": "Prénom d'exercice",
    "technical_id": "Identifiant technique de la structure", "name": "Raison sociale site",
}

_OTHER_ID = re.compile(r"([^,;]+),([A-Z]+),([0-9])")


@dataclass(frozen=True)
class Layout:
    """Where each field sits in this file's lines, from its header."""

    format: str
    positions: dict[str, int]
    column_count: int
    has_expertise: bool
    header_names: list[str] = field(default_factory=list)

    def get(self, values: list[str], name: str) -> str:
        pos = self.positions.get(name)
        return values[pos].strip() if pos is not None else ""


def split(line: str) -> list[str]:
    """Fields of one line: pipe-separated, no quoting, the trailing ``|`` giving a last empty
    field (kept: the header has it too, so counts compare)."""
    return line.rstrip("\r\n").split("|")


def read_layout(header: str, wanted: str | None) -> Layout:
    """The layout of a file from its header line; ``wanted`` (``--format``) must match it."""
    names = split(header.lstrip("\ufeff"))
    positions: dict[str, int] = {}
    for index, name in enumerate(names):
        key = COLUMNS.get(normalise(name))
        if key is not None and key not in positions:
            positions[key] = index
    if "national_id" not in positions:
        raise FormatError("en-tête non reconnu : colonne « Identification nationale PP » "
                          "absente (est-ce une extraction de l'Annuaire Santé ?)")
    found = "psc" if "family_name" in positions else "libreacces"
    if wanted and wanted != found:
        raise FormatError(f"le fichier est au format « {found} » (d'après son en-tête), "
                          f"pas « {wanted} »")
    missing = [name for name in REQUIRED[found] if name not in positions]
    if missing:
        raise FormatError("colonnes absentes de l'en-tête : " + ", ".join(missing))
    return Layout(format=found, positions=positions, column_count=len(names),
                  has_expertise="expertise" in positions, header_names=names)


@dataclass
class Line:
    """One accepted line: the person, the practice, the situation and its structure."""

    national_id: str
    person: dict[str, object]
    practice: dict[str, str] | None
    structure: dict[str, str] | None
    activity: dict[str, str] | None
    other_ids: list[tuple[str, str, int]]


class Rejected(ValueError):
    """A line refused, with the reason in French."""


def _birth_date(text: str) -> date | None:
    if not text:
        return None
    try:
        return datetime.strptime(text, "%d/%m/%Y").date()
    except ValueError:
        raise Rejected(f"date de naissance illisible (attendu JJ/MM/AAAA) : « {text} »"
                       ) from None


def _other_ids(text: str) -> list[tuple[str, str, int]]:
    """``Autres identifiants`` as pscextract writes them: ``id,ORIGINE,qualité;…``."""
    found = []
    for part in filter(None, text.split(";")):
        match = _OTHER_ID.fullmatch(part.strip())
        if match is None:
            raise Rejected(f"« Autres identifiants » illisible : « {part} »")
        found.append((match.group(1), match.group(2), int(match.group(3))))
    return found


def parse_line(layout: Layout, text: str) -> Line:
    """Check one data line and turn it into rows; raises ``Rejected`` with the reason."""
    from ..national_id import national_id_problem
    from ..nomenclature import UnknownCode, check_code

    values = split(text)
    if len(values) != layout.column_count:
        raise Rejected(f"nombre de colonnes incorrect : {len(values)} au lieu de "
                       f"{layout.column_count}")
    v = {name: values[pos].strip() for name, pos in layout.positions.items()}
    national_id = v["national_id"]
    problem = national_id_problem(national_id)
    if problem:
        raise Rejected(problem)
    if v["id_type"] + v["id_pp"] != national_id:
        raise Rejected(f"« Type d'identifiant PP » + « Identifiant PP » ({v['id_type']}"
                       f"{v['id_pp']}) ne donnent pas l'identification nationale "
                       f"« {national_id} »")
    for name, table in CODE_TABLES.items():
        try:
            check_code(table, v.get(name, ""), allow_deprecated=True)  # old rows keep them
        except UnknownCode as exc:
            raise Rejected(str(exc)) from None
    if layout.format == "psc":
        family_name = v["family_name"]
        given_name = v["given_names"].split("'")[0].strip()
    else:
        family_name, given_name = v["practice_family_name"], v["practice_given_name"]
    v["given_name"] = given_name
    v["family_name"] = family_name
    if not family_name:
        raise Rejected("nom de famille vide")
    for name, limit in LIMITS.items():
        if len(v.get(name, "")) > limit:
            raise Rejected(f"« {LABELS.get(name, name)} » trop long ({len(v[name])} caractères, "
                           f"{limit} au plus)")
    if layout.format == "libreacces" and not v["profession"]:
        raise Rejected("code profession vide")
    person: dict[str, object] = {
        "national_id": national_id,
        "rpps": v["id_pp"] if v["id_type"] == "8" else None,
        "civility_code": v.get("civility", ""),
        "family_name": family_name,
        "given_name": given_name,
    }
    if layout.format == "psc":
        person.update(birth_date=_birth_date(v.get("birth_date", "")),
                      birth_place_code=v.get("birth_place_code", ""),
                      contact_email=v.get("contact_email", ""),
                      contact_mobile=v.get("contact_mobile", ""))
    other_ids = _other_ids(v.get("other_ids", ""))
    origin = {"8": "RPPS", "0": "ADELI"}.get(v["id_type"])
    if origin:
        other_ids.insert(0, (national_id, origin, 1))
    practice = structure = activity = None
    if v["profession"]:
        practice = {
            "profession_code": v["profession"], "category_code": v.get("category", "") or "C",
            "practice_civility_code": v.get("practice_civility", ""),
            "practice_family_name": v.get("practice_family_name", ""),
            "practice_given_name": v.get("practice_given_name", ""),
            "expertise_type_code": v.get("expertise_type", ""),
            "expertise_code": v.get("expertise", ""),
        }
    technical_id = v["technical_id"]
    if practice is not None and technical_id:
        if not technical_id.isascii() or " " in technical_id:
            raise Rejected(f"identifiant technique de structure illisible : « {technical_id} »")
        structure = {name: v.get(name, "") for name in STRUCTURE_FIELDS}
        structure["country_code"] = structure["country_code"] or "99000"
        activity = {
            "mode_code": v["mode"], "sector_code": v.get("sector", ""),
            "pharmacist_section_code": v.get("pharmacist_section", ""),
            "role_code": v.get("role", ""), "activity_kind_code": v.get("activity_kind", ""),
        }
    return Line(national_id=national_id, person=person, practice=practice,
                structure=structure, activity=activity, other_ids=other_ids)


STRUCTURE_FIELDS = (
    "technical_id", "name", "trade_name", "finess_site", "finess_legal", "siret", "siren",
    "sector", "addressee_complement", "geo_complement", "street_number", "street_repeat",
    "street_type", "street_name", "distribution", "cedex_office", "postal_code",
    "commune_code", "country_code", "department_code", "phone", "phone2", "fax", "email",
    "former_id", "registration_authority",
)


# ------------------------------------------------------------------ savoir-faire (2025 files)

@dataclass(frozen=True)
class ExpertiseLayout:
    positions: dict[str, int]
    column_count: int


def read_expertise_layout(header: str) -> ExpertiseLayout:
    """``PS_LibreAcces_SavoirFaire_<ts>.txt``: one line per person × profession × savoir-faire."""
    names = split(header.lstrip("\ufeff"))
    positions: dict[str, int] = {}
    for index, name in enumerate(names):
        key = COLUMNS.get(normalise(name))
        if key is not None and key not in positions:
            positions[key] = index
    missing = [n for n in ("national_id", "profession", "expertise_type", "expertise")
               if n not in positions]
    if missing:
        raise FormatError("fichier savoir-faire : colonnes absentes de l'en-tête : "
                          + ", ".join(missing))
    return ExpertiseLayout(positions=positions, column_count=len(names))


def parse_expertise(layout: ExpertiseLayout, text: str) -> tuple[str, str, str, str]:
    """(national id, profession, type, savoir-faire) of one savoir-faire line, or Rejected."""
    from ..national_id import national_id_problem
    from ..nomenclature import UnknownCode, check_code, check_expertise

    values = split(text)
    if len(values) != layout.column_count:
        raise Rejected(f"fichier savoir-faire : nombre de colonnes incorrect : {len(values)} "
                       f"au lieu de {layout.column_count}")
    nid, prof, kind, code = (values[layout.positions[n]].strip() for n in
                             ("national_id", "profession", "expertise_type", "expertise"))
    problem = national_id_problem(nid)
    if problem:
        raise Rejected("fichier savoir-faire : " + problem)
    try:
        check_code("profession", prof, may_be_empty=False, allow_deprecated=True)
        check_code("type_savoir_faire", kind, allow_deprecated=True)
        check_expertise(kind, code, allow_deprecated=True)  # the code in its own kind's table
    except UnknownCode as exc:
        raise Rejected("fichier savoir-faire : " + str(exc)) from None
    return nid, prof, kind, code


def expertise_rank(kind: str, code: str) -> tuple[int, str]:
    """Which savoir-faire a practice shows when a person has several for one profession: the
    ordinal specialty (``S``) first, then the others; the smallest code among equals (the
    model keeps one per practice, as PSC's ``exercices[]`` does)."""
    return (0 if kind == "S" else 1 if kind else 2, code)
