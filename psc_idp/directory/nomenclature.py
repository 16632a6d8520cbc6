"""Code tables of the Annuaire Santé (ANS "NOS" terminologies) and the OIDs PSC puts in claims.

The tables are versioned data files, one per terminology, in ``data/nomenclatures/`` (name, OID,
version, date, source, and codes with their French labels; a code may be ``"status":
"deprecated"`` or ``"verified": false``). They are read once per process, when this module is
first imported (at application start: ``claims`` and the directory import it), by
``load_tables``, which checks every file and raises ``NomenclatureError`` naming the file and
the fault: a broken file stops the start-up with a clear message, never a request.

The public API is unchanged from when the tables were literals: the dicts (``PROFESSIONS``,
``SECTORS``… — active codes only), the helpers, ``TABLES``, ``check_code`` and ``UnknownCode``.
``TABLE_INFO`` gives each table's terminology, OID, version and date (``psc-idp init`` and
``psc-idp directory nomenclature`` show them). Sources are in each file and in
docs/directory.md; in short, ANS's « Terminologies de Santé » v1.12.0 CodeSystems read in
stored public material:

- professions: TRE_G15_ProfessionSante (OID 1.2.250.1.71.1.2.7). The RPPS+ professions 312–330
  and 353 are **TRE_R85_RolePriseCharge** codes (OID 1.2.250.1.213.1.6.1.107), not TRE_G15 ones
  (reference §10): ``profession_oid`` tells them apart. ``PROFESSIONS`` (the ``profession``
  table) still holds both, since a ``codeProfession`` may carry either. JDV_J106 (the RPPS's
  set of professions) also takes 71–73 and 93 from TRE_R95, 41 from TRE_R94 and 99 from
  TRE_R291 (``OTHER_PROFESSION_FILES``): in ``PROFESSIONS``, each with its table's OID.
- RPPS+ roles: TRE_R22_GenreActivite (OID 1.2.250.1.213.1.6.1.19) codes GENR08–GENR12. Their
  definitions are word for word the five roles of seed 004, so the "rôle" of an RPPS+
  professional travels in ``codeGenreActivite``, not in ``codeRole`` (``Code rôle`` of the RPPS
  extraction is another table, TRE_R21_Fonction).
- specialties: TRE_R38_SpecialiteOrdinale (OID 1.2.250.1.213.2.28), complete; the other
  savoir-faire kinds of JDV_J107 (TRE_R39, R40, R42, R43, R44, R45, R97, G13, R359, R394) each
  in its file, all accepted by the ``savoir_faire`` check (``EXPERTISE_TABLES`` per kind).
- activity sectors: TRE_R02_SecteurActivite (OID 1.2.250.1.71.4.2.4), complete.
- roles: TRE_R21_Fonction (OID 1.2.250.1.213.1.6.1.17), complete; TRE_R85 complete too, the
  RPPS+ professions being their own subset file (``profession_rpps_plus``).

Note for readers of the project brief: some codes it quoted belong to other labels in the real
tables (SM53 is "Spécialiste en Médecine générale", not paediatrics, which is SM40; SM15 is
dermatology; SM32 is neurology, psychiatry is SM42; 95 is "Diététicien", 96 "Psychomotricien",
98 "Manipulateur ERM"; SA52 is "Maison de santé ou Pôle de santé", medico-social establishments
are SA16/SA17/SA18/SA20/SA41). The tables follow the ANS terminologies.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DATA_DIR = Path(__file__).resolve().parent / "data" / "nomenclatures"
# --- OIDs and fixed values PSC puts in userinfo (reference §4.1–4.2, verified in the capture) ---

PROFESSION_OID = "1.2.250.1.213.1.1.5.5"
"""``SubjectRole`` = ``"<codeProfession>^1.2.250.1.213.1.1.5.5"``."""
SECTOR_OID = "1.2.250.1.71.4.2.4"
"""``Secteur_Activite`` = ``"<SAxx>^1.2.250.1.71.4.2.4"`` (the OID of TRE_R02)."""
PALIER_AUTHENTIFICATION = "APPPRIP3^1.2.250.1.213.1.5.1.1.1"
PSI_LOCALE = "1.2.250.1.213.1.3.1.1"
GENRE_ACTIVITE_OID = "1.2.250.1.213.1.6.1.19"
"""TRE_R22_GenreActivite, the table holding the five RPPS+ roles."""
TRE_G15_OID = "1.2.250.1.71.1.2.7"
"""The profession table itself (PSC's SubjectRole uses PROFESSION_OID, not this one)."""

TRE_R85_OID = "1.2.250.1.213.1.6.1.107"
"""TRE_R85_RolePriseCharge: the table of the RPPS+ professions 312–330 and 353."""

# --- Loading the data files ---


class NomenclatureError(RuntimeError):
    """A nomenclature data file is missing, unreadable or malformed (the message names it)."""


@dataclass(frozen=True)
class Table:
    """One terminology as its data file describes it."""

    table: str
    terminology: str
    oid: str
    version: str
    date: str
    complete: bool
    source: str
    codes: dict[str, str]
    """Active codes → French label, in the file's order."""
    deprecated: dict[str, str]
    """Codes the terminology has deprecated (still accepted with ``allow_deprecated``)."""
    unverified: frozenset[str]
    """Codes whose label was not checked against the terminology."""
    file: str
    savoir_faire_type: str = ""
    """For a savoir-faire table: the TRE_R04 ``codeTypeSavoirFaire`` whose codes it holds."""

    def info(self) -> dict[str, Any]:
        """What ``psc-idp init`` and the nomenclature command report."""
        return {"terminology": self.terminology, "oid": self.oid, "version": self.version,
                "date": self.date, "codes": len(self.codes), "complete": self.complete,
                "file": self.file}


_REQUIRED = ("table", "terminology", "oid", "version", "date", "source", "complete", "codes")


def _read_table(path: Path) -> Table:
    where = f"nomenclature {path.name}"
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise NomenclatureError(f"{where} : lecture impossible ({exc.strerror or exc})") from exc
    except UnicodeDecodeError as exc:
        raise NomenclatureError(f"{where} : ce n'est pas du texte UTF-8") from exc
    except json.JSONDecodeError as exc:
        raise NomenclatureError(f"{where} : JSON invalide ligne {exc.lineno} colonne "
                                f"{exc.colno} ({exc.msg})") from None
    if not isinstance(doc, dict):
        raise NomenclatureError(f"{where} : un objet JSON est attendu")
    missing = [key for key in _REQUIRED if key not in doc]
    if missing:
        raise NomenclatureError(f"{where} : champ(s) manquant(s) {', '.join(missing)}")
    for key in ("table", "terminology", "oid", "version", "date", "source"):
        if not isinstance(doc[key], str):
            raise NomenclatureError(f"{where} : « {key} » doit être une chaîne")
    kind = doc.get("savoir_faire_type", "")
    if not isinstance(kind, str):
        raise NomenclatureError(f"{where} : « savoir_faire_type » doit être une chaîne")
    if not doc["table"]:
        raise NomenclatureError(f"{where} : « table » est vide")
    if not isinstance(doc["codes"], list) or not doc["codes"]:
        raise NomenclatureError(f"{where} : « codes » doit être une liste non vide")
    active: dict[str, str] = {}
    deprecated: dict[str, str] = {}
    unverified: set[str] = set()
    for i, entry in enumerate(doc["codes"]):
        spot = f"{where}, codes[{i}]"
        if not isinstance(entry, dict):
            raise NomenclatureError(f"{spot} : un objet {{code, label}} est attendu")
        code, label = entry.get("code"), entry.get("label")
        if not isinstance(code, str) or not code or code != code.strip():
            raise NomenclatureError(f"{spot} : « code » manquant ou mal formé")
        if not isinstance(label, str) or not label.strip():
            raise NomenclatureError(f"{spot} : libellé manquant pour le code « {code} »")
        if code in active or code in deprecated:
            raise NomenclatureError(f"{spot} : code « {code} » en double")
        status = entry.get("status", "active")
        if status not in ("active", "deprecated"):
            raise NomenclatureError(f"{spot} : statut « {status} » inconnu "
                                    "(active ou deprecated)")
        (active if status == "active" else deprecated)[code] = label
        if entry.get("verified", True) is False:
            unverified.add(code)
    return Table(table=doc["table"], terminology=doc["terminology"], oid=doc["oid"],
                 version=doc["version"], date=doc["date"], complete=bool(doc["complete"]),
                 source=doc["source"], codes=active, deprecated=deprecated,
                 unverified=frozenset(unverified), file=path.name, savoir_faire_type=kind)


EXPERTISE_FILES = ("savoir_faire", "competence", "competence_exclusive", "desc_non_qualifiant",
                   "capacite", "qualification_pac", "fonction_qualifiee",
                   "droit_exercice_complementaire", "orientation_particuliere",
                   "surspecialite_transversale", "competence_metier")
"""The savoir-faire tables, one per kind of ``codeTypeSavoirFaire`` (``savoir_faire`` is
TRE_R38, the specialties): their data files name the kind in ``savoir_faire_type``."""

OTHER_PROFESSION_FILES = ("profession_r95", "profession_r94", "profession_r291")
"""The professions of JDV_J106_EnsembleProfession_RASS outside TRE_G15 and TRE_R85: TRE_R95
(71 Ostéopathe, 72 Psychothérapeute, 73 Chiropracteur, 93 Psychologue), TRE_R94 (41 Assistant
de service social) and TRE_R291 (99); real extraction lines carry them."""

EXPECTED_FILES = ("profession_sante", "role_prise_charge", "profession_rpps_plus", "categorie",
                  "type_savoir_faire",
                  "mode_exercice", "secteur", "role", "genre_activite",
                  "role_rpps_plus", "section_pharmacien", "civilite",
                  "civilite_exercice") + EXPERTISE_FILES + OTHER_PROFESSION_FILES
"""The ``table`` of each data file this module needs."""


def load_tables(directory: Path = DATA_DIR) -> dict[str, Table]:
    """Read and check every ``*.json`` of ``directory``; ``NomenclatureError`` on any fault
    (unreadable file, bad JSON, missing field, duplicate code or table, a table missing, an
    RPPS+ role whose label differs from TRE_R22's)."""
    if not directory.is_dir():
        raise NomenclatureError(f"dossier des nomenclatures introuvable : {directory}")
    tables: dict[str, Table] = {}
    for path in sorted(directory.glob("*.json")):
        table = _read_table(path)
        if table.table in tables:
            raise NomenclatureError(f"nomenclature {path.name} : la table « {table.table} » "
                                    f"est déjà définie par {tables[table.table].file}")
        tables[table.table] = table
    missing = [name for name in EXPECTED_FILES if name not in tables]
    if missing:
        raise NomenclatureError(f"nomenclature(s) manquante(s) dans {directory} : "
                                f"{', '.join(missing)}")
    _check_expertise_tables(tables)
    r85 = tables["role_prise_charge"]
    for code in tables["profession_rpps_plus"].codes:
        if code not in r85.codes and code not in r85.deprecated:
            raise NomenclatureError(f"nomenclature {tables['profession_rpps_plus'].file} : la "
                                    f"profession « {code} » n'est pas un code de {r85.terminology}")
    genres = tables["genre_activite"].codes
    for code, label in tables["role_rpps_plus"].codes.items():
        if genres.get(code) != label:
            raise NomenclatureError(f"nomenclature {tables['role_rpps_plus'].file} : le rôle "
                                    f"« {code} » n'a pas le libellé de TRE_R22")
    return tables


def _check_expertise_tables(tables: dict[str, Table]) -> None:
    """Each savoir-faire table names a distinct TRE_R04 kind, and no code is in two of them
    (``check_code("savoir_faire", …)`` takes their union, a code must keep one label)."""
    kinds = tables["type_savoir_faire"]
    owner: dict[str, str] = {}
    by_kind: dict[str, str] = {}
    for name in EXPERTISE_FILES:
        table = tables[name]
        kind = table.savoir_faire_type
        if kind not in kinds.codes:
            raise NomenclatureError(f"nomenclature {table.file} : « savoir_faire_type » doit être "
                                    f"un code de {kinds.terminology} (reçu « {kind} »)")
        if kind in by_kind:
            raise NomenclatureError(f"nomenclature {table.file} : le type « {kind} » est déjà "
                                    f"celui de {tables[by_kind[kind]].file}")
        by_kind[kind] = name
        for code in (*table.codes, *table.deprecated):
            if code in owner:
                raise NomenclatureError(f"nomenclature {table.file} : le code « {code} » est "
                                        f"aussi dans {tables[owner[code]].file}")
            owner[code] = name


_TABLES = load_tables()

# --- Professions (codeProfession) ---

HEALTH_PROFESSIONS: dict[str, str] = dict(_TABLES["profession_sante"].codes)
"""TRE_G15_ProfessionSante, active codes."""

RPPS_PLUS_PROFESSIONS: dict[str, str] = dict(_TABLES["profession_rpps_plus"].codes)
"""The 20 professions of the RPPS+ portal (TRE_R85 codes 312–330 and 353, seed 004)."""

ROLES_PRISE_CHARGE: dict[str, str] = dict(_TABLES["role_prise_charge"].codes)
"""TRE_R85_RolePriseCharge, active codes (300–379 but the deprecated ones)."""

OTHER_PROFESSIONS: dict[str, str] = {
    code: label for name in OTHER_PROFESSION_FILES for code, label in _TABLES[name].codes.items()}
"""The JDV_J106 professions of TRE_R95, TRE_R94 and TRE_R291 (71–73, 93, 41, 99)."""

PROFESSIONS: dict[str, str] = {**HEALTH_PROFESSIONS, **RPPS_PLUS_PROFESSIONS, **OTHER_PROFESSIONS}

# --- RPPS+ roles (codeGenreActivite, TRE_R22) ---

RPPS_PLUS_ROLES: dict[str, str] = dict(_TABLES["role_rpps_plus"].codes)
"""The five roles an RPPS+ registration must carry (seed 004), as TRE_R22 codes (verified)."""

ACTIVITY_KINDS: dict[str, str] = dict(_TABLES["genre_activite"].codes)
"""TRE_R22_GenreActivite, active codes (``codeGenreActivite``)."""

# --- Roles in the structure (codeRole, TRE_R21_Fonction) ---

ROLES: dict[str, str] = dict(_TABLES["role"].codes)
"""TRE_R21_Fonction (``codeRole``), active codes. The demo uses FON-48 for the
intern (CPF), FON-09 for the establishment director (CDE) and FON-AU for other structure staff
(CPE/CPA); which codes PSC shows for staff is unverified."""

# --- Specialties (codeSavoirFaire) and their types (codeTypeSavoirFaire) ---

SPECIALTIES: dict[str, str] = dict(_TABLES["savoir_faire"].codes)
"""TRE_R38_SpecialiteOrdinale, active codes (labels without the "(SM)" suffix)."""

EXPERTISE_TABLES: dict[str, str] = {
    _TABLES[name].savoir_faire_type: name for name in EXPERTISE_FILES}
"""``codeTypeSavoirFaire`` (TRE_R04) → the table of its codes: S → ``savoir_faire`` (TRE_R38),
C → ``competence`` (TRE_R39), CEX → TRE_R40, DNQ → TRE_R42, CAPA → TRE_R43, PAC → TRE_R44,
FQ → TRE_R45, DEC → TRE_R97, OP → TRE_G13, SST → TRE_R359, CM → TRE_R394 (the systems of
JDV_J107_EnsembleSavoirFaire_RASS). SH (TRE_R46) is not in that value set: no table."""

SAVOIR_FAIRE: dict[str, str] = {
    code: label for name in EXPERTISE_FILES for code, label in _TABLES[name].codes.items()}
"""Every active savoir-faire code of every kind (the ``savoir_faire`` check): the
extraction's « Code savoir-faire » column carries all of them, its type in another column."""

EXPERTISE_TYPES: dict[str, str] = dict(_TABLES["type_savoir_faire"].codes)
"""``codeTypeSavoirFaire``, TRE_R04_TypeSavoirFaire. "S" is the one seen in the capture."""

# --- Activity sectors (codeSecteurDactivite) ---

SECTORS: dict[str, str] = dict(_TABLES["secteur"].codes)
"""TRE_R02_SecteurActivite, active codes."""

MEDICO_SOCIAL_SECTORS = frozenset({"SA16", "SA17", "SA18", "SA20", "SA41", "SA63"})
"""Sectors of social and medico-social structures (ESMS, DAC): where RPPS+ professionals work."""

# --- Modes of practice, pharmacists' sections, categories, civilities ---

PRACTICE_MODES: dict[str, str] = dict(_TABLES["mode_exercice"].codes)
"""TRE_R23_ModeExercice (``codeModeExercice``)."""

PHARMACIST_SECTIONS: dict[str, str] = dict(_TABLES["section_pharmacien"].codes)
"""Sections of the Ordre des pharmaciens (``codeSectionPharmacien``); unverified against ANS's
table, taken from the Ordre's published sections."""

PROFESSIONAL_CATEGORIES: dict[str, str] = dict(_TABLES["categorie"].codes)
"""``codeCategorieProfessionnelle`` (TRE_R09): C civil, E étudiant, M agent public."""

CIVILITIES: dict[str, str] = dict(_TABLES["civilite"].codes)
"""``codeCivilite`` (civil status)."""

PRACTICE_CIVILITIES: dict[str, str] = dict(_TABLES["civilite_exercice"].codes)
"""``codeCiviliteDexercice``; empty for professions that use no title (nurses, RPPS+…)."""


# --- Helpers ---

def profession_label(code: str) -> str:
    """The French label of a profession code, or the code itself when the table lacks it."""
    return PROFESSIONS.get(code, code)


def is_rpps_plus_profession(code: str) -> bool:
    """True for the professions registered through the RPPS+ portal (312–330 and 353)."""
    return code in RPPS_PLUS_PROFESSIONS


def is_rpps_plus_role(code: str) -> bool:
    """True for the five RPPS+ roles (GENR08–GENR12)."""
    return code in RPPS_PLUS_ROLES


def subject_role(profession_code: str) -> str:
    """One ``SubjectRole`` entry: ``"<profession>^1.2.250.1.213.1.1.5.5"``."""
    return f"{profession_code}^{PROFESSION_OID}"


def sector_claim(sector_code: str) -> str:
    """``Secteur_Activite``: ``"<SAxx>^1.2.250.1.71.4.2.4"``, or "" when there is no sector."""
    return f"{sector_code}^{SECTOR_OID}" if sector_code else ""


# --- Checking codes of input (imports, RPPS+ registrations, the admin API) ---

class UnknownCode(ValueError):
    """A code that its table does not hold; the message is French, for a person or a report."""

    def __init__(self, table: str, code: str) -> None:
        super().__init__(f"code inconnu dans la nomenclature {table} : « {code} »")
        self.table = table
        self.code = code


TABLES: dict[str, dict[str, str]] = {
    "profession": PROFESSIONS,
    "categorie": PROFESSIONAL_CATEGORIES,
    "type_savoir_faire": EXPERTISE_TYPES,
    "savoir_faire": SAVOIR_FAIRE,
    "mode_exercice": PRACTICE_MODES,
    "secteur": SECTORS,
    "role": ROLES,
    "genre_activite": ACTIVITY_KINDS,
    "role_rpps_plus": RPPS_PLUS_ROLES,
    "section_pharmacien": PHARMACIST_SECTIONS,
    "civilite": CIVILITIES,
    "civilite_exercice": PRACTICE_CIVILITIES,
    "profession_sante": HEALTH_PROFESSIONS,
    "role_prise_charge": ROLES_PRISE_CHARGE,
    "profession_rpps_plus": RPPS_PLUS_PROFESSIONS,
    "specialite_ordinale": SPECIALTIES,
    **{name: dict(_TABLES[name].codes) for name in EXPERTISE_FILES if name != "savoir_faire"},
    **{name: dict(_TABLES[name].codes) for name in OTHER_PROFESSION_FILES},
}
"""Every table by the name input checks use (the keys are a contract: imports, RPPS+ and the
admin API name them). ``profession`` is TRE_G15, the RPPS+ TRE_R85 codes and the other
JDV_J106 professions (``OTHER_PROFESSIONS``) together;
``profession_sante`` (TRE_G15) and ``profession_rpps_plus`` (the 20 RPPS+ professions) are each
alone; ``role_prise_charge`` is the whole TRE_R85. ``savoir_faire`` is every
savoir-faire kind together (``SAVOIR_FAIRE``); ``specialite_ordinale`` (TRE_R38) and each
kind's table (``competence``, ``capacite``… see ``EXPERTISE_TABLES``) are each alone. Active
codes only."""

_UNION_DEPRECATED: dict[str, dict[str, str]] = {
    "profession": {**_TABLES["profession_sante"].deprecated,
                   **_TABLES["profession_rpps_plus"].deprecated,
                   **{code: label for name in OTHER_PROFESSION_FILES
                      for code, label in _TABLES[name].deprecated.items()}},
    "savoir_faire": {code: label for name in EXPERTISE_FILES
                     for code, label in _TABLES[name].deprecated.items()},
    "specialite_ordinale": _TABLES["savoir_faire"].deprecated,
}
_DEPRECATED: dict[str, dict[str, str]] = {
    name: _UNION_DEPRECATED[name] if name in _UNION_DEPRECATED else _TABLES[name].deprecated
    for name in TABLES
}

TABLE_INFO: dict[str, dict[str, Any]] = {
    name: table.info() for name, table in sorted(_TABLES.items())
}
"""Each data file's terminology, OID, version, date, number of active codes, completeness."""


def table_versions() -> dict[str, str]:
    """``{table: "<terminology> <version>"}``: what ``psc-idp init`` reports."""
    return {name: f"{info['terminology']} {info['version'] or '(version inconnue)'}".strip()
            for name, info in TABLE_INFO.items()}


def table_codes(table: str) -> list[dict[str, Any]]:
    """Every code of a data-file table (active and deprecated), in the file's order, with its
    label, status and whether its label was verified; KeyError for an unknown table."""
    loaded = _TABLES[table]
    rows = [{"code": code, "label": label, "status": "active"}
            for code, label in loaded.codes.items()]
    rows += [{"code": code, "label": label, "status": "deprecated"}
             for code, label in loaded.deprecated.items()]
    for row in rows:
        row["verified"] = row["code"] not in loaded.unverified
    return rows


def profession_oid(code: str) -> str:
    """The OID of the terminology a ``codeProfession`` belongs to: TRE_G15 for health
    professions, TRE_R85 for the RPPS+ ones (312–330, 353), its own table's for the other
    JDV_J106 professions (93 is active in TRE_R95, only deprecated in TRE_G15); "" for an
    unknown code."""
    if code in HEALTH_PROFESSIONS:
        return TRE_G15_OID
    if code in RPPS_PLUS_PROFESSIONS:
        return TRE_R85_OID
    for name in OTHER_PROFESSION_FILES:
        if code in _TABLES[name].codes:
            return _TABLES[name].oid
    if code in _TABLES["profession_sante"].deprecated:
        return TRE_G15_OID
    return ""


def check_expertise(kind: str, code: str, *, may_be_empty: bool = True,
                    allow_deprecated: bool = False) -> str:
    """The French label of savoir-faire ``code`` in the table of its ``codeTypeSavoirFaire``
    ``kind`` (``EXPERTISE_TABLES``); without a kind, any savoir-faire table. ``UnknownCode``
    (table ``savoir_faire`` or the kind's table) for a code the kind's table does not hold, or
    an unknown kind."""
    if not kind:
        return check_code("savoir_faire", code, may_be_empty=may_be_empty,
                          allow_deprecated=allow_deprecated)
    table = EXPERTISE_TABLES.get(kind)
    if table is None:
        raise UnknownCode("type_savoir_faire", kind)
    return check_code("specialite_ordinale" if table == "savoir_faire" else table, code,
                      may_be_empty=may_be_empty, allow_deprecated=allow_deprecated)


def check_code(table: str, code: str, *, may_be_empty: bool = True,
               allow_deprecated: bool = False) -> str:
    """The French label of ``code`` in ``table`` ("" for an empty code where allowed); raises
    ``UnknownCode`` for a code the table does not hold (a deprecated code too, unless
    ``allow_deprecated``: old extraction rows may still carry one)."""
    if not code and may_be_empty:
        return ""
    label = TABLES[table].get(code)
    if label is None and allow_deprecated:
        label = _DEPRECATED[table].get(code)
    if label is None:
        raise UnknownCode(table, code)
    return label
