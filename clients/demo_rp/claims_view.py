"""Turn ID token claims and PSC userinfo into readable sections for the home page.

Pure functions: no Flask, no I/O. Templates only loop over what is built here. Labels come from
the ANS nomenclatures (TRE_G15 professions, TRE_R02 sectors, TRE_R23 modes of practice, TRE_R09
categories); an unknown code is shown as the code itself, never dropped.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

try:
    DISPLAY_TZ: Any = ZoneInfo("Europe/Paris")
except ZoneInfoNotFoundError:  # pragma: no cover - no tz database on the machine
    DISPLAY_TZ = UTC

# TRE_G15-ProfessionSante (codeProfession)
PROFESSIONS = {
    "10": "Médecin", "21": "Pharmacien", "26": "Audioprothésiste", "28": "Opticien-Lunetier",
    "31": "Assistant dentaire", "32": "Physicien médical", "35": "Aide-soignant",
    "36": "Ambulancier", "37": "Auxiliaire de puériculture",
    "38": "Préparateur en pharmacie hospitalière", "39": "Préparateur en pharmacie (officine)",
    "40": "Chirurgien-Dentiste", "50": "Sage-Femme", "60": "Infirmier",
    "69": "Infirmier psychiatrique", "70": "Masseur-Kinésithérapeute",
    "80": "Pédicure-Podologue", "81": "Orthoprothésiste", "82": "Podo-Orthésiste",
    "83": "Orthopédiste-Orthésiste", "84": "Oculariste", "85": "Epithésiste",
    "86": "Technicien de laboratoire médical", "91": "Orthophoniste", "92": "Orthoptiste",
    "93": "Psychologue", "94": "Ergothérapeute", "95": "Diététicien", "96": "Psychomotricien",
    "98": "Manipulateur ERM",
}
# TRE_R09 (codeCategorieProfessionnelle)
CATEGORIES = {"C": "Civil", "M": "Militaire", "E": "Étudiant"}
# TRE_R23-ModeExercice (codeModeExercice)
MODES_EXERCICE = {
    "L": "Libéral, indépendant, artisan, commerçant", "S": "Salarié", "B": "Bénévole",
    "I": "Indirect",
}
# TRE_R02-SecteurActivite (codeSecteurDactivite), the common part
SECTEURS = {
    "SA01": "Etablissement public de santé",
    "SA02": "Hôpital militaire du Service de santé des armées",
    "SA03": "Etablissement privé PSPH", "SA04": "Etablissement privé non PSPH",
    "SA05": "Centre de santé", "SA06": "Autre structure du Service de santé des armées",
    "SA07": "Cabinet individuel", "SA08": "Cabinet de groupe", "SA09": "Exercice en société",
    "SA10": "Transporteur sanitaire", "SA12": "Etablissement de soins et prévention",
    "SA13": "Prévention et soins en entreprise", "SA15": "PMI et Planification familiale",
    "SA16": "Etablissement pour personnes handicapées",
    "SA17": "Etablissement pour personnes âgées", "SA22": "Recherche",
    "SA25": "Laboratoire de biologie médicale", "SA27": "Collectivité territoriale",
}
SAVOIR_FAIRE = {"SM26": "Qualifié en Médecine générale (SM)"}
TYPES_SAVOIR_FAIRE = {"S": "Spécialité ordinale", "FQ": "Fonction qualifiée"}
AUTH_MODES = {"CARD": "Carte CPS", "MOBILE": "e-CPS (application mobile)"}
TYPES_VOIE = {
    "R": "Rue", "AV": "Avenue", "BD": "Boulevard", "PL": "Place", "CHE": "Chemin",
    "IMP": "Impasse", "RTE": "Route", "ALL": "Allée", "QUAI": "Quai", "SQ": "Square",
    "CRS": "Cours",
}

# Top-level userinfo claims shown in the identity section (the rest go to "other attributes").
_IDENTITY_KEYS = (
    "codeCivilite", "given_name", "family_name", "SubjectNameID", "preferred_username", "sub",
    "authMode", "otherIds", "SubjectOrganization", "SubjectOrganizationID", "SubjectRole",
    "Secteur_Activite", "SubjectRefPro", "email", "email_verified",
)


@dataclass
class Field:
    label: str
    value: str
    code: str = ""
    """The raw code next to a label, shown in monospace."""


@dataclass
class ActivityView:
    title: str
    identifiers: list[Field]
    address: list[str]
    details: list[Field]


@dataclass
class ExerciceView:
    title: str
    details: list[Field]
    activities: list[ActivityView] = field(default_factory=list)


@dataclass
class Summary:
    name: str
    national_id: str
    professions: list[str]
    auth_mode: str


def format_timestamp(value: Any) -> str:
    """A NumericDate as ``12/03/2024 14:05:09 (Europe/Paris, UTC+01:00)``: the offset too, so
    a reader comparing with a UTC log line needs no table; anything else unchanged."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    try:
        moment = datetime.fromtimestamp(value, tz=UTC).astimezone(DISPLAY_TZ)
    except (OverflowError, OSError, ValueError):
        return str(value)
    offset = moment.strftime("%z") or "+0000"
    return f"{moment:%d/%m/%Y %H:%M:%S} ({DISPLAY_TZ}, UTC{offset[:3]}:{offset[3:]})"


def label(table: dict[str, str], code: Any) -> str:
    code = _text(code)
    return table.get(code, code)


def profession_label(code: Any) -> str:
    code = _text(code)
    # PSC sends codeProfession "" for structure staff (CPE/CPA card holders, reference §10).
    return PROFESSIONS.get(code, f"Profession {code}" if code
                           else "Personnel de structure (sans profession de santé)")


def pretty_json(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False, sort_keys=False)


def jwt_header(token: str) -> dict[str, Any]:
    """The JOSE header of a compact JWT, for display only (the token was verified elsewhere)."""
    try:
        segment = token.split(".", 1)[0]
        raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
        header = json.loads(raw)
    except (ValueError, binascii.Error):
        return {}
    return header if isinstance(header, dict) else {}


def summary(userinfo: dict[str, Any], id_claims: dict[str, Any]) -> Summary:
    exercices = _exercices(userinfo)
    first = exercices[0] if exercices else {}
    name = " ".join(
        part for part in (
            _text(first.get("codeCiviliteDexercice")).capitalize(),
            _text(first.get("prenomDexercice")) or _text(userinfo.get("given_name")),
            _text(first.get("nomDexercice")) or _text(userinfo.get("family_name")),
        ) if part
    )
    professions = _unique(profession_label(e.get("codeProfession")) for e in exercices)
    if not professions:  # no SubjectRefPro: fall back on SubjectRole "10^1.2.250..."
        roles = userinfo.get("SubjectRole") or []
        professions = _unique(profession_label(str(r).split("^", 1)[0]) for r in roles)
    national_id = (_text(userinfo.get("SubjectNameID"))
                   or _text(userinfo.get("preferred_username"))
                   or _text(id_claims.get("preferred_username")))
    return Summary(
        name=name or "Professionnel sans nom",
        national_id=national_id or "(absent)",
        professions=professions,
        auth_mode=label(AUTH_MODES, userinfo.get("authMode")),
    )


def id_token_rows(claims: dict[str, Any], header: dict[str, Any], nonce_ok: bool) -> list[Field]:
    aud = claims.get("aud")
    rows = [
        Field("Émetteur (iss)", _text(claims.get("iss"))),
        Field("Sujet (sub)", _text(claims.get("sub"))),
        Field("Audience (aud)", ", ".join(aud) if isinstance(aud, list) else _text(aud)),
        Field("Niveau d'authentification (acr)", _text(claims.get("acr"))),
        Field("Authentifié le (auth_time)", format_timestamp(claims.get("auth_time"))),
        Field("Émis le (iat)", format_timestamp(claims.get("iat"))),
        Field("Expire le (exp)", format_timestamp(claims.get("exp"))),
        Field("Session (sid)", _text(claims.get("sid") or claims.get("session_state"))),
    ]
    if claims.get("amr"):
        amr = claims["amr"]
        rows.append(Field("Méthodes (amr)", ", ".join(map(str, amr)) if isinstance(amr, list)
                          else _text(amr)))
    if claims.get("azp"):
        rows.append(Field("Partie autorisée (azp)", _text(claims["azp"])))
    rows.append(Field("Nonce", "vérifié : identique à celui de la requête" if nonce_ok
                      else "NON vérifié", _text(claims.get("nonce"))))
    if header:
        rows.append(Field("Signature", f"{header.get('alg', '?')} (kid {header.get('kid', '-')})"))
    return rows


def identity_rows(userinfo: dict[str, Any]) -> list[Field]:
    ref = userinfo.get("SubjectRefPro") if isinstance(userinfo.get("SubjectRefPro"), dict) else {}
    rows = [
        # PSC's current userinfo has codeCivilite at the top; the Feb-2023 one in SubjectRefPro.
        Field("Civilité", _text(userinfo.get("codeCivilite") or ref.get("codeCivilite"))),
        Field("Prénom", _text(userinfo.get("given_name"))),
        Field("Nom", _text(userinfo.get("family_name"))),
        Field("Identifiant national (SubjectNameID)", _text(userinfo.get("SubjectNameID"))),
        Field("Identifiant de connexion (preferred_username)",
              _text(userinfo.get("preferred_username"))),
        Field("Sujet (sub)", _text(userinfo.get("sub"))),
        Field("Moyen d'authentification (authMode)",
              label(AUTH_MODES, userinfo.get("authMode")), _text(userinfo.get("authMode"))),
    ]
    for other in userinfo.get("otherIds") or []:
        if isinstance(other, dict):
            rows.append(Field(f"Autre identifiant ({_text(other.get('origine'))})",
                              _text(other.get("identifiant")),
                              f"qualité {_text(other.get('qualite'))}"))
    rows += [
        Field("Structure (SubjectOrganization)", _text(userinfo.get("SubjectOrganization"))),
        Field("Id. structure (SubjectOrganizationID)",
              _text(userinfo.get("SubjectOrganizationID"))),
        Field("Rôle (SubjectRole)", ", ".join(map(str, userinfo.get("SubjectRole") or []))),
        Field("Secteur (Secteur_Activite)",
              label(SECTEURS, _text(userinfo.get("Secteur_Activite")).split("^", 1)[0]),
              _text(userinfo.get("Secteur_Activite"))),
    ]
    if "email" in userinfo:
        rows.append(Field("Courriel", _text(userinfo.get("email"))))
    return [row for row in rows if row.value]


def other_rows(userinfo: dict[str, Any]) -> list[Field]:
    """Every other top-level claim (PSI_Locale, Palier_Authentification, UITVersion…)."""
    return [
        Field(key, (value if isinstance(value, str) else json.dumps(value, ensure_ascii=False))
              or "(vide)")
        for key, value in userinfo.items() if key not in _IDENTITY_KEYS
    ]


def exercice_views(userinfo: dict[str, Any]) -> list[ExerciceView]:
    views = []
    for ex in _exercices(userinfo):
        code = _text(ex.get("codeProfession"))
        details = [
            Field("Profession", profession_label(code), code),
            Field("Catégorie", label(CATEGORIES, ex.get("codeCategorieProfessionnelle")),
                  _text(ex.get("codeCategorieProfessionnelle"))),
            Field("Nom d'exercice", " ".join(p for p in (
                _text(ex.get("codeCiviliteDexercice")), _text(ex.get("prenomDexercice")),
                _text(ex.get("nomDexercice"))) if p)),
        ]
        if _text(ex.get("codeSavoirFaire")):
            kind = label(TYPES_SAVOIR_FAIRE, ex.get("codeTypeSavoirFaire"))
            details.append(Field(f"Savoir-faire ({kind})" if kind else "Savoir-faire",
                                 label(SAVOIR_FAIRE, ex.get("codeSavoirFaire")),
                                 _text(ex.get("codeSavoirFaire"))))
        activities = [_activity_view(a) for a in ex.get("activities") or []
                      if isinstance(a, dict)]
        views.append(ExerciceView(
            title=profession_label(code),
            details=[d for d in details if d.value],
            activities=activities,
        ))
    return views


def _activity_view(act: dict[str, Any]) -> ActivityView:
    name = (_text(act.get("raisonSocialeSite")) or _text(act.get("enseigneCommercialeSite"))
            or "Structure sans nom")
    identifiers = [
        Field("FINESS site", _text(act.get("numeroFinessSite"))),
        Field("FINESS juridique", _text(act.get("numeroFinessetablissementJuridique"))),
        Field("SIRET", _text(act.get("numeroSiretSite"))),
        Field("SIREN", _text(act.get("numeroSirenSite"))),
        Field("Identifiant technique", _text(act.get("identifiantTechniqueDeLaStructure"))),
        Field("Ancien identifiant", _text(act.get("ancienIdentifiantDeLaStructure"))),
    ]
    details = [
        Field("Secteur d'activité", label(SECTEURS, act.get("codeSecteurDactivite")),
              _text(act.get("codeSecteurDactivite"))),
        Field("Mode d'exercice", label(MODES_EXERCICE, act.get("codeModeExercice")),
              _text(act.get("codeModeExercice"))),
        Field("Rôle", _text(act.get("codeRole"))),
        Field("Genre d'activité", _text(act.get("codeGenreActivite"))),
        Field("Section pharmacien", _text(act.get("codeSectionPharmacien"))),
        Field("Enseigne", _text(act.get("enseigneCommercialeSite"))),
        Field("Téléphone", _text(act.get("telephone"))),
        Field("Courriel", _text(act.get("adresseEMail"))),
        Field("Autorité d'enregistrement", _text(act.get("autoriteDenregistrement"))),
    ]
    return ActivityView(
        title=name,
        identifiers=[f for f in identifiers if f.value],
        address=_address_lines(act),
        details=[d for d in details if d.value],
    )


def _address_lines(act: dict[str, Any]) -> list[str]:
    street = " ".join(p for p in (
        _text(act.get("numeroVoie")), _text(act.get("indiceRepetitionVoie")),
        label(TYPES_VOIE, act.get("codeTypeDeVoie")), _text(act.get("libelleVoie"))) if p)
    city = _text(act.get("bureauCedex")) or " ".join(
        p for p in (_text(act.get("codePostal")), _text(act.get("codeCommune"))) if p)
    lines = [
        _text(act.get("complementDestinataire")), _text(act.get("complementPointGeographique")),
        street, _text(act.get("mentionDistribution")), city,
    ]
    if _text(act.get("codePays")):
        lines.append(f"code pays {_text(act.get('codePays'))}")
    return [line for line in lines if line]


def _exercices(userinfo: dict[str, Any]) -> list[dict[str, Any]]:
    ref = userinfo.get("SubjectRefPro")
    if not isinstance(ref, dict):
        return []
    return [e for e in ref.get("exercices") or [] if isinstance(e, dict)]


def _text(value: Any) -> str:
    if value is None:
        return ""
    return value.strip() if isinstance(value, str) else str(value)


def _unique(items: Any) -> list[str]:
    seen: list[str] = []
    for item in items:
        if item and item not in seen:
            seen.append(item)
    return seen
