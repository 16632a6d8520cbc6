"""Code tables of the Annuaire Santé (ANS "NOS" terminologies) and the OIDs PSC puts in claims.

Plain dicts, code → French label, covering what the demo directory and the claims need; they are
not the complete terminologies. Sources (checked against ANS "Terminologies de Santé" FHIR
CodeSystems v1.12.0 found in stored public material unless marked otherwise):

- professions: TRE_G15_ProfessionSante (OID 1.2.250.1.71.1.2.7); RPPS+ professions 312–330 and
  353 from seed 004 (ANS RPPS+ guide).
- RPPS+ roles: TRE_R22_GenreActivite (OID 1.2.250.1.213.1.6.1.19) codes GENR08–GENR12. Their
  definitions are word for word the five roles of seed 004, so the "rôle" of an RPPS+
  professional travels in ``codeGenreActivite``, not in ``codeRole`` (``Code rôle`` of the RPPS
  extraction is another table, TRE_R21_Fonction).
- specialties: TRE_R38_SpecialiteOrdinale (OID 1.2.250.1.213.2.28).
- activity sectors: TRE_R02_SecteurActivite (OID 1.2.250.1.71.4.2.4).

Note for readers of the project brief: some codes it quoted belong to other labels in the real
tables (SM53 is "Spécialiste en Médecine générale", not paediatrics, which is SM40; SM15 is
dermatology; SM32 is neurology, psychiatry is SM42; 95 is "Diététicien", 96 "Psychomotricien",
98 "Manipulateur ERM"; SA52 is "Maison de santé ou Pôle de santé", medico-social establishments
are SA16/SA17/SA18/SA20/SA41). The tables below follow the ANS terminologies.
"""

from __future__ import annotations

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

# --- Professions (codeProfession) ---

HEALTH_PROFESSIONS: dict[str, str] = {
    "10": "Médecin",
    "21": "Pharmacien",
    "26": "Audioprothésiste",
    "28": "Opticien-Lunetier",
    "31": "Assistant dentaire",
    "32": "Physicien médical",
    "40": "Chirurgien-Dentiste",
    "50": "Sage-Femme",
    "60": "Infirmier",
    "69": "Infirmier psychiatrique",
    "70": "Masseur-Kinésithérapeute",
    "80": "Pédicure-Podologue",
    "81": "Orthoprothésiste",
    "82": "Podo-Orthésiste",
    "83": "Orthopédiste-Orthésiste",
    "84": "Oculariste",
    "85": "Epithésiste",
    "86": "Technicien de laboratoire médical",
    "91": "Orthophoniste",
    "92": "Orthoptiste",
    "94": "Ergothérapeute",
    "95": "Diététicien",
    "96": "Psychomotricien",
    "98": "Manipulateur ERM",
}
"""TRE_G15_ProfessionSante, active codes."""

RPPS_PLUS_PROFESSIONS: dict[str, str] = {
    "312": "Autre salarié ou intervenant au sein d'un ESMS",
    "313": "Aide-soignant",
    "314": "Ambulancier",
    "315": "Auxiliaire de puériculture",
    "316": "Préparateur en pharmacie hospitalière",
    "317": "Préparateur en pharmacie (officine)",
    "318": "Auxiliaire de vie sociale",
    "319": "Technicien de l'intervention sociale et familiale",
    "320": "Conseiller en économie sociale et familiale",
    "321": "Médiateur familial",
    "322": "Assistant familial",
    "323": "Aide médico-psychologique (AMP)",
    "324": "Moniteur éducateur",
    "325": "Educateur de jeunes enfants",
    "326": "Educateur spécialisé",
    "327": "Educateur technique spécialisé",
    "328": "Accompagnant éducatif et social",
    "329": "Conseiller en génétique",
    "330": "Coordonnateur de parcours",
    "353": "Membre de l'équipe de soins",
}
"""The 20 professions of the RPPS+ portal, exactly as listed in seed 004."""

PROFESSIONS: dict[str, str] = {**HEALTH_PROFESSIONS, **RPPS_PLUS_PROFESSIONS}

# --- RPPS+ roles (codeGenreActivite, TRE_R22) ---

RPPS_PLUS_ROLES: dict[str, str] = {
    "GENR08": "Coordination et orientation",
    "GENR09": "Administratif ou appui à l'organisation de l'accompagnement social/médico-social",
    "GENR10": "Accompagnement social/médico-social à la vie sociale, professionnelle, éducative",
    "GENR11": "Accompagnement social/médico-social au soin",
    "GENR12": "Encadrement et organisation de l'accompagnement social/médico-social",
}
"""The five roles an RPPS+ registration must carry (seed 004), as TRE_R22 codes (verified)."""

ACTIVITY_KINDS: dict[str, str] = {
    "GENR01": "Activité de soin et de pharmacie",
    "GENR02": "Activité de soins ou de pharmacien en tant que remplaçant",
    "GENR03": "Remplacement dans une activité de soins",
    "GENR04": "Activité non soignante",
    "GENR06": "Délégation de responsabilité pour continuité de service",
    **RPPS_PLUS_ROLES,
    "GENR13": "Activité médico-administrative",
    "GENR99": "Autre activité",
}
"""TRE_R22_GenreActivite, active codes (``codeGenreActivite``)."""

# --- Roles in the structure (codeRole, TRE_R21_Fonction) ---

ROLES: dict[str, str] = {
    "FON-01": "Titulaire de cabinet",
    "FON-03": "Titulaire d'officine",
    "FON-05": "Adjoint",
    "FON-09": "Responsable d'établissement",
    "FON-33": "Salarié en poste fixe",
    "FON-43": "Cadre de santé",
    "FON-45": "Directeur des soins",
    "FON-48": "Interne",
    "FON-57": "Docteur junior",
    "FON-63": "Coordonnateur en EHPAD",
    "FON-AU": "Fonction non définie",
}
"""A subset of TRE_R21_Fonction (``codeRole``), labels as in ANS's JDV_J108
EnsembleFonction-RASS (verified in stored ANS terminology material). The demo uses FON-48 for
the intern (CPF), FON-09 for the establishment director (CDE) and FON-AU for other structure
staff (CPE/CPA); which codes PSC shows for staff is unverified."""

# --- Specialties (codeSavoirFaire) and their types (codeTypeSavoirFaire) ---

SPECIALTIES: dict[str, str] = {
    "SM02": "Anesthésie-réanimation",
    "SM04": "Cardiologie et Maladies vasculaires",
    "SM15": "Dermatologie et Vénéréologie",
    "SM18": "Gériatrie",
    "SM19": "Gynécologie médicale",
    "SM20": "Gynécologie-obstétrique",
    "SM26": "Qualifié en Médecine générale",
    "SM32": "Neurologie",
    "SM38": "Ophtalmologie",
    "SM40": "Pédiatrie",
    "SM42": "Psychiatrie",
    "SM44": "Radio-diagnostic",
    "SM53": "Spécialiste en Médecine générale",
    "SM54": "Médecine générale",
    "SM59": "Médecine d'urgence",
    "SM73": "Médecine cardiovasculaire",
    "SCD01": "Orthopédie dento-faciale",
    "SCD02": "Chirurgie orale",
    "SCD03": "Médecine bucco-dentaire",
    "SI01": "Exercice infirmier en pratique avancée pathologies chroniques stabilisées",
    "SI04": "Exercice infirmier en pratique avancée santé mentale",
}
"""A subset of TRE_R38_SpecialiteOrdinale (labels without the "(SM)" suffix)."""

EXPERTISE_TYPES: dict[str, str] = {
    "S": "Spécialité ordinale",
    "C": "Compétence",
    "CEX": "Compétence exclusive",
}
"""``codeTypeSavoirFaire``. "S" is verified in the capture; C and CEX are unverified here."""

# --- Activity sectors (codeSecteurDactivite) ---

SECTORS: dict[str, str] = {
    "SA01": "Etablissement public de santé",
    "SA02": "Hôpital militaire du Service de santé des armées",
    "SA03": "Etablissement privé PSPH",
    "SA04": "Etablissement privé non PSPH",
    "SA05": "Centre de santé",
    "SA07": "Cabinet individuel",
    "SA08": "Cabinet de groupe",
    "SA09": "Exercice en société",
    "SA16": "Etablissement pour personnes handicapées",
    "SA17": "Etablissement pour personnes âgées",
    "SA18": "Etablissement aide à la famille",
    "SA20": "Etablissement pour la protection de l'enfance",
    "SA25": "Laboratoire de biologie médicale",
    "SA33": "Pharmacie d'officine",
    "SA41": "Autre établissement du domaine social ou médico-social",
    "SA52": "Maison de santé ou Pôle de santé",
    "SA63": "Structures de coordination et d'orientation",
}
"""A subset of TRE_R02_SecteurActivite."""

MEDICO_SOCIAL_SECTORS = frozenset({"SA16", "SA17", "SA18", "SA20", "SA41", "SA63"})
"""Sectors of social and medico-social structures (ESMS, DAC): where RPPS+ professionals work."""

# --- Modes of practice, pharmacists' sections, categories, civilities ---

PRACTICE_MODES: dict[str, str] = {
    "L": "Libéral, indépendant, artisan, commerçant",
    "S": "Salarié",
    "B": "Bénévole",
}
"""TRE_R23_ModeExercice (``codeModeExercice``)."""

PHARMACIST_SECTIONS: dict[str, str] = {
    "A": "Pharmaciens titulaires d'officine",
    "B": "Pharmaciens de l'industrie",
    "C": "Pharmaciens de la distribution en gros",
    "D": "Pharmaciens adjoints d'officine et autres exercices",
    "E": "Pharmaciens des départements et collectivités d'outre-mer",
    "G": "Pharmaciens biologistes",
    "H": "Pharmaciens des établissements de santé et médico-sociaux",
}
"""Sections of the Ordre des pharmaciens (``codeSectionPharmacien``); unverified against ANS's
table, taken from the Ordre's published sections."""

PROFESSIONAL_CATEGORIES: dict[str, str] = {"C": "Civil", "M": "Militaire", "E": "Etudiant"}
"""``codeCategorieProfessionnelle``."""

CIVILITIES: dict[str, str] = {"M": "Monsieur", "MME": "Madame"}
"""``codeCivilite`` (civil status)."""

PRACTICE_CIVILITIES: dict[str, str] = {"DR": "Docteur", "PR": "Professeur"}
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
    "savoir_faire": SPECIALTIES,
    "mode_exercice": PRACTICE_MODES,
    "secteur": SECTORS,
    "role": ROLES,
    "genre_activite": ACTIVITY_KINDS,
    "role_rpps_plus": RPPS_PLUS_ROLES,
    "section_pharmacien": PHARMACIST_SECTIONS,
    "civilite": CIVILITIES,
    "civilite_exercice": PRACTICE_CIVILITIES,
}
"""Every table by the name input checks use (the keys are a contract: imports, RPPS+ and the
admin API name them)."""


def check_code(table: str, code: str, *, may_be_empty: bool = True) -> str:
    """The French label of ``code`` in ``table`` ("" for an empty code where allowed); raises
    ``UnknownCode`` for a code the table does not hold."""
    if not code and may_be_empty:
        return ""
    label = TABLES[table].get(code)
    if label is None:
        raise UnknownCode(table, code)
    return label
