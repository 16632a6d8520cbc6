"""What a manager types in the registration form, checked field by field (French messages).

Seed 004 lists three kinds of data, all mandatory: civil status (family name, every given name,
birth date, birth commune — its INSEE code — or country), contact data (e-mail, mobile: never
published) and the professional situation (practice names, RPPS+ profession, one of the five
roles, the structure's FINESS, start date). Every error is collected so the form is shown again
with all of them at once; nothing is written until every field is valid.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

RPPS_PLUS_PROFESSIONS = (*(str(code) for code in range(312, 331)), "353")
"""TRE_R85 codes of the RPPS+ portal (seed 004: 20 professions, 312–330 and 353)."""
RPPS_PLUS_ROLES = ("GENR08", "GENR09", "GENR10", "GENR11", "GENR12")
"""The five roles of seed 004, TRE_R22 genres d'activité."""
CIVILITIES = ("M", "MME")

NAME = re.compile(r"[^\W\d_]+(?:[ '’-][^\W\d_]+)*")
"""Letters (any script, accents), single spaces, apostrophes and hyphens between them."""
EMAIL = re.compile(r"[^@\s\x00-\x1f\x7f]{1,64}@[^@\s\x00-\x1f\x7f]+\.[^@\s.\x00-\x1f\x7f]{2,}")
INSEE = re.compile(r"(?:0[1-9]|1\d|[3-8]\d|9[0-5])\d{3}|2[AB\d]\d{3}|97[1-6]\d{2}|98[4-8]\d{2}"
                   r"|99\d{3}")
"""A commune's INSEE code (département 01–95 with 2A/2B for Corsica, 971–976 overseas
départements, 984–988 overseas collectivities) or a country's (99xxx, born abroad)."""
FRENCH_MOBILE = re.compile(r"0[67]\d{8}")
INTERNATIONAL = re.compile(r"\+[1-9]\d{7,14}")
OLDEST_BIRTH = date(1900, 1, 1)


@dataclass(frozen=True)
class RegistrationInput:
    """A valid registration, ready to be written."""

    civility_code: str
    family_name: str
    given_names: str
    birth_date: date
    birth_place_code: str
    practice_family_name: str
    practice_given_name: str
    contact_email: str
    contact_mobile: str
    profession_code: str
    role_code: str
    started_on: date

    @property
    def first_given_name(self) -> str:
        return self.given_names.split()[0]


FIELDS = ("civility_code", "family_name", "given_names", "birth_date", "birth_place_code",
          "practice_family_name", "practice_given_name", "contact_email", "contact_mobile",
          "profession_code", "role_code", "started_on")


def _clean(text: Any, limit: int) -> str:
    value = " ".join(str(text or "").split())
    return value[:limit + 1]  # one over the limit: the length check below still sees it


def parse_date(text: str) -> date | None:
    try:
        return date.fromisoformat(text) if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text) else None
    except ValueError:
        return None


def normalise_mobile(text: str) -> str | None:
    """``06 12 34 56 78`` → ``+33612345678``; an international number is kept as typed
    (without separators). None if neither."""
    compact = re.sub(r"[ .\-()]", "", text)
    if FRENCH_MOBILE.fullmatch(compact):
        return "+33" + compact[1:]
    if compact.startswith("0033"):
        compact = "+" + compact[2:]
    if INTERNATIONAL.fullmatch(compact):
        return compact
    return None


def fold(text: str) -> str:
    """Upper case without accents, single spaces: how names are compared (matching rule)."""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(bare.replace("’", "'").upper().split())


def check_registration(form: Any, *, today: date | None = None
                       ) -> tuple[RegistrationInput | None, dict[str, str]]:
    """The valid input, or None and ``{field: French message}`` for every invalid field."""
    from ..directory.nomenclature import UnknownCode, check_code

    today = today or date.today()
    values = {name: _clean(form.get(name, ""), 200) for name in FIELDS}
    errors: dict[str, str] = {}

    civility = values["civility_code"].upper()
    if civility not in CIVILITIES:
        errors["civility_code"] = "Choisissez la civilité (M ou MME)."

    for name, label, limit in (("family_name", "Le nom de naissance", 100),
                               ("given_names", "Les prénoms", 200)):
        if not values[name]:
            errors[name] = f"{label} est obligatoire." if name == "family_name" \
                else f"{label} sont obligatoires."
        elif len(values[name]) > limit:
            errors[name] = f"{label} : {limit} caractères au plus."
        elif not NAME.fullmatch(values[name]):
            errors[name] = f"{label} : des lettres, espaces, apostrophes et traits d'union " \
                           "seulement."
    for name, label in (("practice_family_name", "Le nom d'exercice"),
                        ("practice_given_name", "Le prénom d'exercice")):
        if len(values[name]) > 100:
            errors[name] = f"{label} : 100 caractères au plus."
        elif values[name] and not NAME.fullmatch(values[name]):
            errors[name] = f"{label} : des lettres, espaces, apostrophes et traits d'union " \
                           "seulement."

    birth_date = parse_date(values["birth_date"])
    if birth_date is None:
        errors["birth_date"] = "Date de naissance invalide (format AAAA-MM-JJ)."
    elif not OLDEST_BIRTH <= birth_date <= today - timedelta(days=365 * 14):
        errors["birth_date"] = "Date de naissance invraisemblable (entre 1900 et il y a 14 ans)."

    place = values["birth_place_code"].upper()
    if not INSEE.fullmatch(place) or place == "99100":
        errors["birth_place_code"] = (
            "Code INSEE du lieu de naissance invalide : 5 caractères, celui de la commune "
            "(par exemple 97128 pour Sainte-Anne en Guadeloupe, 2A004 en Corse) ou du pays "
            "pour une naissance à l'étranger (99xxx).")

    email = values["contact_email"]
    if not email:
        errors["contact_email"] = "L'adresse e-mail est obligatoire (elle reçoit le numéro RPPS)."
    elif len(email) > 200 or not EMAIL.fullmatch(email):
        errors["contact_email"] = "Adresse e-mail invalide."
    mobile = normalise_mobile(values["contact_mobile"])
    if not values["contact_mobile"]:
        errors["contact_mobile"] = ("Le numéro de téléphone mobile est obligatoire (il sert à "
                                    "l'activation de la e-CPS).")
    elif mobile is None:
        errors["contact_mobile"] = ("Numéro de mobile invalide : 06 ou 07 suivi de 8 chiffres, "
                                    "ou au format international (+33…).")

    profession = values["profession_code"]
    if profession not in RPPS_PLUS_PROFESSIONS:
        errors["profession_code"] = ("Profession inconnue : choisissez une des professions du "
                                     "RPPS+ (codes 312 à 330 et 353).")
    else:
        try:
            check_code("profession", profession)
        except UnknownCode as exc:
            errors["profession_code"] = f"Profession inconnue : {exc}."
    role = values["role_code"].upper()
    if role not in RPPS_PLUS_ROLES:
        errors["role_code"] = "Rôle inconnu : choisissez un des cinq rôles (GENR08 à GENR12)."
    else:
        try:
            check_code("role_rpps_plus", role)
        except UnknownCode as exc:
            errors["role_code"] = f"Rôle inconnu : {exc}."

    started_on = parse_date(values["started_on"])
    if started_on is None:
        errors["started_on"] = "Date de prise de fonction invalide (format AAAA-MM-JJ)."
    elif started_on > today + timedelta(days=366):
        errors["started_on"] = "La prise de fonction est à plus d'un an."
    elif birth_date is not None and started_on <= birth_date:
        errors["started_on"] = "La prise de fonction précède la naissance."

    if errors:
        return None, errors
    assert birth_date is not None and started_on is not None and mobile is not None
    family = values["family_name"].upper()
    given = values["given_names"]
    return RegistrationInput(
        civility_code=civility, family_name=family, given_names=given,
        birth_date=birth_date, birth_place_code=place,
        practice_family_name=(values["practice_family_name"] or family).upper(),
        practice_given_name=values["practice_given_name"] or given.split()[0],
        contact_email=email, contact_mobile=mobile, profession_code=profession,
        role_code=role, started_on=started_on), {}


def profession_choices() -> list[tuple[str, str]]:
    """(code, French label) of the RPPS+ professions the nomenclature knows."""
    return _choices("profession", RPPS_PLUS_PROFESSIONS)


def role_choices() -> list[tuple[str, str]]:
    return _choices("role_rpps_plus", RPPS_PLUS_ROLES)


def _choices(table: str, codes: tuple[str, ...]) -> list[tuple[str, str]]:
    from ..directory.nomenclature import UnknownCode, check_code

    found = []
    for code in codes:
        try:
            found.append((code, check_code(table, code)))
        except UnknownCode:
            continue
    return found
