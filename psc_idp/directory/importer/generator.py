"""Synthetic extraction files of any size (``psc-idp directory generate``), for tests and the
benchmark. Written line by line (constant memory) and deterministic: person ``i`` of seed ``S``
is the same in every file, so a file of 200 rows is the beginning of one of 300 rows (a
"newer extraction" without some people, for the import's tests).

Persons: ``8``+RPPS with a valid key (bodies ``101xxxxxxx``, away from the demo's
``100999xxxx``) and about one in eight ``0``+ADELI; one to four situations each in hospitals
(``F``+FINESS), group practices (``C``+SIRET) or their own cabinet (``R…``); codes from the
nomenclature. ``malformed_every=K`` spoils every K-th line in one of four ways (column count,
unknown profession, RPPS key, date or mode).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from functools import lru_cache
from typing import IO

from ..national_id import luhn_check_digit, make_rpps

GEN_SERIAL_BASE = 1_010_000_000
HOSPITALS = 400
GROUPS = 4000

PSC_HEADER = (
    "Type d'identifiant PP|Identifiant PP|Identification nationale PP|Nom de famille|Prénoms|"
    "Date de naissance|Code commune de naissance|Code pays de naissance|Lieu de naissance|"
    "Code sexe|Téléphone (coord. correspondance)|Adresse e-mail (coord. correspondance)|"
    "Code civilité|Code profession|Code catégorie professionnelle|Code civilité d'exercice|"
    "Nom d'exercice|Prénom d'exercice|Code type savoir-faire|Code savoir-faire|"
    "Code mode exercice|Code secteur d'activité|Code section tableau pharmaciens|Code rôle|"
    "Numéro SIRET site|Numéro SIREN site|Numéro FINESS site|"
    "Numéro FINESS établissement juridique|Identifiant technique de la structure|"
    "Raison sociale site|Enseigne commerciale site|Complément destinataire (coord. structure)|"
    "Complément point géographique (coord. structure)|Numéro Voie (coord. structure)|"
    "Indice répétition voie (coord. structure)|Code type de voie (coord. structure)|"
    "Libellé Voie (coord. structure)|Mention distribution (coord. structure)|"
    "Bureau cedex (coord. structure)|Code postal (coord. structure)|"
    "Code commune (coord. structure)|Code pays (coord. structure)|"
    "Téléphone (coord. structure)|Téléphone 2 (coord. structure)|"
    "Télécopie (coord. structure)|Adresse e-mail (coord. structure)|"
    "Code département (coord. structure)|Ancien identifiant de la structure|"
    "Autorité d'enregistrement|Autres identifiants|Code genre d'activité|"
)
"""``prosanteconnect/pscextract``'s header: PSC's 49 columns plus two."""

_LA_PERSON = (
    "Type d'identifiant PP|Identifiant PP|Identification nationale PP|"
    "Code civilité d'exercice|Libellé civilité d'exercice|Code civilité|Libellé civilité|"
    "Nom d'exercice|Prénom d'exercice|Code profession|Libellé profession|"
    "Code catégorie professionnelle|Libellé catégorie professionnelle|")
_LA_EXPERTISE = ("Code type savoir-faire|Libellé type savoir-faire|Code savoir-faire|"
                 "Libellé savoir-faire|")
_LA_REST = (
    "Code mode exercice|Libellé mode exercice|Numéro SIRET site|Numéro SIREN site|"
    "Numéro FINESS site|Numéro FINESS établissement juridique|"
    "Identifiant technique de la structure|Raison sociale site|Enseigne commerciale site|"
    "Complément destinataire (coord. structure)|"
    "Complément point géographique (coord. structure)|Numéro Voie (coord. structure)|"
    "Indice répétition voie (coord. structure)|Code type de voie (coord. structure)|"
    "Libellé type de voie (coord. structure)|Libellé Voie (coord. structure)|"
    "Mention distribution (coord. structure)|Bureau cedex (coord. structure)|"
    "Code postal (coord. structure)|Code commune (coord. structure)|"
    "Libellé commune (coord. structure)|Code pays (coord. structure)|"
    "Libellé pays (coord. structure)|Téléphone (coord. structure)|"
    "Téléphone 2 (coord. structure)|Télécopie (coord. structure)|"
    "Adresse e-mail (coord. structure)|Code Département (structure)|"
    "Libellé Département (structure)|Ancien identifiant de la structure|"
    "Autorité d'enregistrement|Code secteur d'activité|Libellé secteur d'activité|"
    "Code section tableau pharmaciens|Libellé section tableau pharmaciens|")
_LA_2025 = "Code fonction|Libellé fonction|Code genre d'activité|Libellé genre d'activité|"
LIBREACCES_HEADER_2024 = _LA_PERSON + _LA_EXPERTISE + _LA_REST
"""The public file before 2025 (savoir-faire inline), as in ANS's files of 2021–2024."""
LIBREACCES_HEADER_2025 = _LA_PERSON + _LA_REST + _LA_2025
"""From 2025: function and genre of activity added, savoir-faire in a file of its own."""
SAVOIR_FAIRE_HEADER = (
    "Type d'identifiant PP|Identifiant PP|Identification nationale PP|Nom d'exercice|"
    "Prénom d'exercice|Code profession|Libellé profession|Code catégorie professionnelle|"
    "Libellé catégorie professionnelle|Code type savoir-faire|Libellé type savoir-faire|"
    "Code savoir-faire|Libellé savoir-faire|")

FAMILY = ("MARTIN", "BERNARD", "DUBOIS", "THOMAS", "ROBERT", "RICHARD", "PETIT", "DURAND",
          "LEROY", "MOREAU", "SIMON", "LAURENT", "LEFEBVRE", "MICHEL", "GARCIA", "DAVID",
          "BERTRAND", "ROUX", "VINCENT", "FOURNIER", "MOREL", "GIRARD", "ANDRE", "MERCIER",
          "DUPONT", "LAMBERT", "BONNET", "FRANCOIS", "MARTINEZ", "LEGRAND", "N'DIAYE",
          "LE GALL", "EL AMRANI", "NGUYEN", "DA SILVA", "MÜLLER", "CHÂTEAU", "LEBRUN")
GIVEN_F = ("Marie", "Nathalie", "Isabelle", "Sylvie", "Catherine", "Sophie", "Claire",
           "Camille", "Léa", "Chloé", "Inès", "Anaïs", "Hélène", "Zoé", "Maëlle")
GIVEN_M = ("Jean", "Pierre", "Michel", "Philippe", "Alain", "Nicolas", "Julien", "Thomas",
           "Hugo", "Lucas", "Jérôme", "François", "Loïc", "Noël", "Mehdi")
STREETS = ("DE LA REPUBLIQUE", "VICTOR HUGO", "JEAN JAURES", "DU GENERAL DE GAULLE",
           "PASTEUR", "DES LILAS", "DE LA GARE", "SAINT-MICHEL", "DU MOULIN", "DES ÉCOLES")
TOWNS = (("75015", "75115", "PARIS"), ("69003", "69383", "LYON"),
         ("13005", "13205", "MARSEILLE"), ("31000", "31555", "TOULOUSE"),
         ("44000", "44109", "NANTES"), ("67000", "67482", "STRASBOURG"),
         ("59000", "59350", "LILLE"), ("35000", "35238", "RENNES"),
         ("2A004", "2A004", "AJACCIO"), ("97400", "97411", "SAINT-DENIS"))
# profession code, weight, DR title, ADELI profession, specialties
PROFESSIONS = (("10", 30, True, False, ("SM54", "SM53", "SM04", "SM40", "SM42", "SM02")),
               ("60", 25, False, False, ()), ("70", 9, False, False, ()),
               ("21", 8, True, False, ()), ("40", 7, True, False, ("SCD01", "SCD02")),
               ("50", 4, False, False, ()), ("91", 4, False, True, ()),
               ("28", 3, False, True, ()), ("80", 3, False, True, ()),
               ("92", 2, False, True, ()), ("94", 2, False, True, ()),
               ("95", 2, False, True, ()), ("96", 1, False, True, ()))
_WEIGHTS = [p[1] for p in PROFESSIONS]
ROLES = ("FON-01", "FON-05", "FON-33", "FON-43", "FON-AU")


def _label(table: str, code: str) -> str:
    from ..nomenclature import TABLES

    return TABLES[table].get(code, "") if code else ""


def _finess(rng: random.Random) -> str:
    body = f"{rng.randrange(1, 96):02d}{rng.randrange(10**6):06d}"
    return body + luhn_check_digit(body)


def _siret(rng: random.Random) -> str:
    siren_body = f"{rng.randrange(10**7, 10**8):08d}"
    siren = siren_body + luhn_check_digit(siren_body)
    body = siren + f"{rng.randrange(1, 999):04d}"
    return body + luhn_check_digit(body)


@lru_cache(maxsize=8192)
def _structure(seed: int, kind: str, k: int) -> dict[str, str]:
    """Structure ``k`` of a kind (``F`` hospital, ``C`` group practice, ``R`` own cabinet):
    always the same data for the same seed."""
    rng = random.Random(f"{seed}:{kind}:{k}")
    postal, commune, town = rng.choice(TOWNS)
    s = {f: "" for f in ("siret", "siren", "finess_site", "finess_legal", "technical_id",
                         "name", "trade_name", "former_id", "sector")}
    if kind == "F":
        s["finess_site"], s["finess_legal"] = _finess(rng), _finess(rng)
        s["technical_id"] = "F" + s["finess_site"]
        s["name"] = f"CENTRE HOSPITALIER DE {town} SITE {k}"
        s["sector"] = rng.choice(("SA01", "SA01", "SA03", "SA04"))
        s["former_id"] = "1" + s["finess_site"]
    elif kind == "C":
        s["siret"] = _siret(rng)
        s["siren"] = s["siret"][:9]
        s["technical_id"] = "C" + s["siret"]
        s["former_id"] = "3" + s["siret"]
        s["name"] = rng.choice(("SCM", "SELARL", "CENTRE DE SANTE", "MAISON DE SANTE")) + \
            f" {rng.choice(STREETS)} {k}"
        s["trade_name"] = s["name"].title()
        s["sector"] = rng.choice(("SA08", "SA05", "SA52", "SA09"))
    else:
        s["technical_id"] = f"R1{seed % 1000:03d}{k:011d}"
        s["name"] = f"CABINET {rng.choice(FAMILY)}"
        s["sector"] = "SA07"
        s["former_id"] = f"4{make_rpps(GEN_SERIAL_BASE + k)}{rng.randrange(1, 999):03d}"
    s.update(street_number=str(rng.randrange(1, 200)), street_type=rng.choice(("R", "AV", "BD")),
             street_name=rng.choice(STREETS), postal_code=postal, commune_code=commune,
             cedex_office=f"{postal} {town}", country_code="99000",
             department_code=postal[:2], phone=f"0{rng.randrange(1, 6)}{rng.randrange(10**8):08d}",
             registration_authority=rng.choice(("ARS/CPAM/CPAM", "CNOM/CNOM/CNOM", "CNOI/CNOI")))
    return s


def person_lines(seed: int, i: int) -> tuple[dict[str, str], list[dict[str, str]]]:
    """Person ``i`` of ``seed``: their fields and one dict per situation."""
    rng = random.Random(f"{seed}:p:{i}")
    prof, _, title, adeli_prof, specialties = rng.choices(PROFESSIONS, _WEIGHTS)[0]
    adeli = adeli_prof and rng.random() < 0.6
    if adeli:
        id_type, id_pp = "0", f"{10 + (i // 10**7) % 85:02d}{i % 10**7:07d}"
    else:
        id_type, id_pp = "8", make_rpps(GEN_SERIAL_BASE + i)
    woman = rng.random() < 0.6
    given = [rng.choice(GIVEN_F if woman else GIVEN_M) for _ in range(rng.choice((1, 1, 2, 3)))]
    family = rng.choice(FAMILY)
    _, commune, town = rng.choice(TOWNS)
    sf_type, sf = ("S", rng.choice(specialties)) if specialties else ("", "")
    p = {"id_type": id_type, "id_pp": id_pp, "national_id": id_type + id_pp,
         "family_name": family, "given_names": "'".join(given), "first_given": given[0],
         "birth_date": f"{rng.randrange(1, 29):02d}/{rng.randrange(1, 13):02d}/"
                       f"{rng.randrange(1950, 2001)}",
         "birth_commune": commune, "birth_place": town, "sex": "F" if woman else "M",
         "phone": f"+33 6{rng.randrange(10**8):08d}",
         "email": f"{given[0].lower()}.{i}@exemple.fr",
         "civility": "MME" if woman else "M", "profession": prof,
         "category": "E" if rng.random() < 0.03 else "C",
         "practice_civility": "DR" if title and rng.random() < 0.9 else "",
         "expertise_type": sf_type, "expertise": sf}
    situations = []
    count = rng.choices((1, 2, 3, 4), (60, 25, 10, 5))[0]
    for n in range(count):
        where = rng.random()
        if where < 0.35:
            structure, mode = _structure(seed, "F", rng.randrange(HOSPITALS)), "S"
        elif where < 0.7:
            structure, mode = _structure(seed, "C", rng.randrange(GROUPS)), rng.choice("LLS")
        else:
            structure, mode = _structure(seed, "R", i * 4 + n), "L"
        section = ""
        if prof == "21":
            section = "H" if structure["technical_id"][0] == "F" else rng.choice("AD")
        situations.append({**structure, "mode": mode, "pharmacist_section": section,
                           "role": rng.choice(ROLES) if mode == "S" else "FON-01",
                           "activity_kind": "GENR01" if rng.random() < 0.9 else "GENR04"})
    return p, situations


def _psc_line(p: dict[str, str], s: dict[str, str]) -> list[str]:
    origin = "RPPS" if p["id_type"] == "8" else "ADELI"
    return [p["id_type"], p["id_pp"], p["national_id"], p["family_name"], p["given_names"],
            p["birth_date"], p["birth_commune"], "99000", p["birth_place"], p["sex"],
            p["phone"], p["email"], p["civility"], p["profession"], p["category"],
            p["practice_civility"], p["family_name"], p["first_given"], p["expertise_type"],
            p["expertise"], s["mode"], s["sector"], s["pharmacist_section"], s["role"],
            s["siret"], s["siren"], s["finess_site"], s["finess_legal"], s["technical_id"],
            s["name"], s["trade_name"], "", "", s["street_number"], "", s["street_type"],
            s["street_name"], "", s["cedex_office"], s["postal_code"], s["commune_code"],
            s["country_code"], s["phone"], "", "", "", s["department_code"], s["former_id"],
            s["registration_authority"], f"{p['national_id']},{origin},1",
            s["activity_kind"], ""]


def _libreacces_line(p: dict[str, str], s: dict[str, str], layout: str) -> list[str]:
    person = [p["id_type"], p["id_pp"], p["national_id"], p["practice_civility"],
              _label("civilite_exercice", p["practice_civility"]), p["civility"],
              _label("civilite", p["civility"]), p["family_name"], p["first_given"],
              p["profession"], _label("profession", p["profession"]), p["category"],
              _label("categorie", p["category"])]
    expertise = [p["expertise_type"], _label("type_savoir_faire", p["expertise_type"]),
                 p["expertise"], _label("savoir_faire", p["expertise"])]
    rest = [s["mode"], _label("mode_exercice", s["mode"]), s["siret"], s["siren"],
            s["finess_site"], s["finess_legal"], s["technical_id"], s["name"], s["trade_name"],
            "", "", s["street_number"], "", s["street_type"], "", s["street_name"], "",
            s["cedex_office"], s["postal_code"], s["commune_code"], "", s["country_code"],
            "France", s["phone"], "", "", "", s["department_code"], "", s["former_id"],
            s["registration_authority"], s["sector"], _label("secteur", s["sector"]),
            s["pharmacist_section"], _label("section_pharmacien", s["pharmacist_section"])]
    if layout == "2024":
        return person + expertise + rest + [""]
    return person + rest + [s["role"], _label("role", s["role"]), s["activity_kind"],
                            _label("genre_activite", s["activity_kind"]), ""]


def _spoil(fields: list[str], kind: int, fmt: str, layout: str) -> list[str]:
    """One of four mistakes a real file may hold."""
    fields = list(fields)
    if kind == 0:
        return fields[:-2] + [""]  # a column short
    if kind == 1:
        fields[9 if fmt == "libreacces" else 13] = "999"
        return fields
    if kind == 2 and fields[0] == "8":
        bad = fields[1][:-1] + str((int(fields[1][-1]) + 1) % 10)
        fields[1], fields[2] = bad, "8" + bad
        return fields
    if fmt == "psc":
        fields[5] = "31/02/1970"
    else:
        fields[17 if layout == "2024" else 13] = "Z"  # the mode of practice
    return fields


def generate(out: IO[str], *, rows: int, fmt: str, seed: int = 1,
             savoir_faire_out: IO[str] | None = None, malformed_every: int = 0
             ) -> dict[str, int]:
    """Write ``rows`` data lines (after the header) to ``out``; libreacces with
    ``savoir_faire_out``: the 2025 layout and its savoir-faire file, else the pre-2025 one."""
    layout = "2025" if savoir_faire_out is not None else "2024"
    if fmt == "psc":
        out.write(PSC_HEADER + "\n")
    else:
        out.write((LIBREACCES_HEADER_2025 if layout == "2025" else LIBREACCES_HEADER_2024)
                  + "\n")
    if savoir_faire_out is not None:
        savoir_faire_out.write(SAVOIR_FAIRE_HEADER + "\n")
    written = persons = malformed = 0
    for p, situations in _people(seed):
        persons += 1
        if savoir_faire_out is not None and p["expertise"]:
            savoir_faire_out.write("|".join((
                p["id_type"], p["id_pp"], p["national_id"], p["family_name"], p["first_given"],
                p["profession"], _label("profession", p["profession"]), p["category"],
                _label("categorie", p["category"]), p["expertise_type"],
                _label("type_savoir_faire", p["expertise_type"]), p["expertise"],
                _label("savoir_faire", p["expertise"]), "")) + "\n")
        for s in situations:
            if written >= rows:
                break
            fields = _psc_line(p, s) if fmt == "psc" else _libreacces_line(p, s, layout)
            if malformed_every and written % malformed_every == malformed_every - 1:
                fields = _spoil(fields, (written // malformed_every) % 4, fmt, layout)
                malformed += 1
            out.write("|".join(fields) + "\n")
            written += 1
        if written >= rows:
            break
    return {"rows": written, "persons": persons, "malformed": malformed}


def _people(seed: int) -> Iterator[tuple[dict[str, str], list[dict[str, str]]]]:
    i = 0
    while True:
        yield person_lines(seed, i)
        i += 1
