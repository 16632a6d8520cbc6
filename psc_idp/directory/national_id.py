"""RPPS numbers and the national identifier PSC uses for a professional.

An RPPS number is 11 digits whose last digit is a Luhn check digit over the first 10 (real
numbers such as ``10000013994`` and ANS's test ``99700427885`` all satisfy it). PSC and the e-CPS
identify a professional by the national identifier ``"8" + RPPS`` (12 characters): the ``8`` is
the identifier type "RPPS" of the CPx card's first line (seed 002: "renseigner le chiffre « 8 »
avant son n° RPPS").

Checking the key digit rejects most typing mistakes at the login form before any database lookup.

Structure staff (holders of CPE, CPA and CDE cards: staff of an establishment who are not
health professionals, and its director) have no RPPS number. Their national identifier is the
structure's identifier with its TRE_G08 type digit, a ``/`` and the holder's identifier in the
structure (reference §10): ``3`` + FINESS (9 characters), e.g. ``30B0168811/CPET00001``, or
``5`` + SIRET (14 digits), e.g. ``500000001815646/CPAT00045`` (ANS's CIBA sample). Key digits:

- SIRET: Luhn over the 14 digits (INSEE's rule; the ANS sample ``00000001815646`` satisfies it),
  except La Poste's establishments (SIREN 356000000), whose digits sum to a multiple of 5.
- FINESS: 9 characters, the first two the département (``2A``/``2B`` in Corsica). An all-digit
  FINESS is checked with Luhn over the 9 digits (inferred: every published FINESS we tried
  satisfies it, e.g. 750712184, 440000289; no ANS text found stating it, so unverified). A
  FINESS with a letter in second place (Corsica, and ANS's test numbers ``0B…``/``1B…`` used by
  the sandbox and the demo) is accepted unchecked.
- The holder's part after ``/`` (``CPET00001``, ``CPAT00045``; psc-ps-api shows ``000000001``):
  1 to 24 letters or digits, kept upper-case; no key (none is known).

Every national identifier type PSC carries (TRE_G08's type digit, reference §10):

=====  ==========================  =================================================  ========
digit  type                        national id of a person                            checked
=====  ==========================  =================================================  ========
0      ADELI                       ``0`` + ADELI (9 characters)                       shape
1      ADELI cabinet               ``1`` + cabinet ADELI (9) + ``/`` + holder         shape
3      FINESS                      ``3`` + FINESS (9) + ``/`` + holder                Luhn*
4      SIREN                       ``4`` + SIREN (9 digits) + ``/`` + holder          Luhn
5      SIRET                       ``5`` + SIRET (14 digits) + ``/`` + holder         Luhn
6      RPPS cabinet                ``6`` + RPPS (11) + 3 digits + ``/`` + holder      RPPS key
8      RPPS                        ``8`` + RPPS (11 digits)                           Luhn
—      EDIT test identity          ``ANS`` + 14 digits (``ANS20231122132732``)        shape
=====  ==========================  =================================================  ========

The ADELI number (département, profession, serial, key) has a key whose rule is not published:
only its shape is checked. Staff ids on prefixes 1, 4 and 6 follow the 3/5 pattern by analogy
(no sample seen: unverified); the RPPS-cabinet number as RPPS + 3 digits is inferred from the
*former* structure ids ``4`` + RPPS + ``nnn`` of the extractions (unverified).

Structure ids (``identifiantTechniqueDeLaStructure``) are ``R`` + digits (RPPS cabinet),
``F`` + FINESS or ``C`` + SIRET; ``3`` + SIRET and ``4`` + RPPS + ``nnn`` are *former* ids
(``ancienIdentifiantDeLaStructure``): ``structure_id_problem`` and ``former_structure_id_problem``
check them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

RPPS_LENGTH = 11
NATIONAL_ID_PREFIX = "8"
NATIONAL_ID_LENGTH = RPPS_LENGTH + len(NATIONAL_ID_PREFIX)


def _is_ascii_digits(text: str, length: int) -> bool:
    # str.isdigit() alone accepts "²" or Arabic-Indic digits, which int() may refuse or misread.
    return len(text) == length and text.isascii() and text.isdigit()


def rpps_check_digit(first10: str) -> str:
    """The Luhn check digit of a 10-digit RPPS body.

    Luhn doubles every second digit starting from the rightmost digit of the body, so that any
    single wrong digit and most swaps of adjacent digits change the result.
    """
    if not _is_ascii_digits(first10, RPPS_LENGTH - 1):
        raise ValueError(f"an RPPS body is 10 digits, got {first10!r}")
    return luhn_check_digit(first10)


def is_valid_rpps(rpps: str) -> bool:
    """True for 11 ASCII digits whose last one is the Luhn key of the first ten."""
    if not isinstance(rpps, str) or not _is_ascii_digits(rpps, RPPS_LENGTH):
        return False
    return rpps_check_digit(rpps[:-1]) == rpps[-1]


def make_rpps(serial: int) -> str:
    """Build a valid RPPS from a 10-digit body given as an integer (zero-padded).

    Used for demo personas so their numbers are deterministic and pass the same check as real
    ones (demo bodies start with ``100``, like real RPPS numbers).
    """
    if isinstance(serial, bool) or not isinstance(serial, int):
        raise TypeError("serial must be an int")
    if not 0 <= serial < 10 ** (RPPS_LENGTH - 1):
        raise ValueError(f"an RPPS body has 10 digits: {serial} is out of range")
    body = f"{serial:010d}"
    return body + rpps_check_digit(body)


def national_id_from_rpps(rpps: str) -> str:
    """``"8" + rpps``: the identifier PSC puts in ``SubjectNameID`` and ``preferred_username``."""
    if not is_valid_rpps(rpps):
        raise ValueError(f"not a valid RPPS number: {rpps!r}")
    return NATIONAL_ID_PREFIX + rpps


def rpps_from_national_id(national_id: str) -> str:
    """The RPPS inside a national identifier (the inverse of ``national_id_from_rpps``)."""
    normalised = parse_identifier(national_id)
    if normalised is None:
        raise ValueError(f"not a valid national identifier: {national_id!r}")
    if "/" in normalised:
        raise ValueError(f"a structure staff identifier has no RPPS: {national_id!r}")
    if not normalised.startswith(NATIONAL_ID_PREFIX):
        raise ValueError(f"an ADELI or EDIT identifier has no RPPS: {national_id!r}")
    return normalised[len(NATIONAL_ID_PREFIX):]


def parse_identifier(text: str) -> str | None:
    """Normalise what a professional typed into a national identifier, or None.

    Accepts the national identifier (``8`` + 11 digits), a bare RPPS (11 digits), an ADELI
    identifier (``0`` + 9 characters), an EDIT test identity (``ANS`` + 14 digits), or a
    structure staff identifier (``1``/``3``/``4``/``5``/``6`` + the structure's number, ``/``,
    the holder's id; letters upper-cased);
    whitespace anywhere is ignored because people copy numbers grouped by blocks. Returns None
    when the text is malformed or a check digit is wrong, so callers never query with garbage.
    """
    if not isinstance(text, str):
        return None
    compact = "".join(text.split())
    if "/" in compact:
        staff = parse_staff_id(compact)
        return staff.national_id if staff else None
    if compact[:3].upper() == EDIT_PREFIX and _EDIT_SHAPE.fullmatch(compact.upper()):
        return compact.upper()
    if (compact.startswith(ADELI_PREFIX) and len(compact) == 1 + ADELI_LENGTH
            and compact.isascii() and _ADELI_SHAPE.fullmatch(compact[1:].upper())):
        return ADELI_PREFIX + compact[1:].upper()
    if _is_ascii_digits(compact, NATIONAL_ID_LENGTH) and compact.startswith(NATIONAL_ID_PREFIX):
        rpps = compact[len(NATIONAL_ID_PREFIX):]
    elif _is_ascii_digits(compact, RPPS_LENGTH):
        rpps = compact
    else:
        return None
    if not is_valid_rpps(rpps):
        return None
    return NATIONAL_ID_PREFIX + rpps


# ---------------------------------------------------------------- structure staff (CPE/CPA/CDE)

ADELI_PREFIX = "0"
ADELI_CABINET_PREFIX = "1"
FINESS_PREFIX = "3"
SIREN_PREFIX = "4"
SIRET_PREFIX = "5"
RPPS_CABINET_PREFIX = "6"
EDIT_PREFIX = "ANS"
ADELI_LENGTH = 9
FINESS_LENGTH = 9
SIREN_LENGTH = 9
SIRET_LENGTH = 14
RPPS_CABINET_LENGTH = RPPS_LENGTH + 3
HOLDER_ID_MAX = 24
"""Longest holder part accepted, so that a staff id (``5``+SIRET+``/``+24) is at most 40
characters: the width of the audit trail's ``subject`` (``professional.national_id`` has 64)."""
LA_POSTE_SIREN = "356000000"

TRE_G08: dict[str, str] = {
    "0": "ADELI", "1": "ADELI cabinet", "3": "FINESS", "4": "SIREN", "5": "SIRET",
    "6": "RPPS cabinet", "8": "RPPS",
}
"""TRE_G08 identifier types by type digit (the first character of a national id)."""

ORIGIN_BY_PREFIX = {NATIONAL_ID_PREFIX: "RPPS", ADELI_PREFIX: "ADELI", FINESS_PREFIX: "FINESS",
                    SIRET_PREFIX: "SIRET", ADELI_CABINET_PREFIX: "ADELI", SIREN_PREFIX: "SIREN",
                    RPPS_CABINET_PREFIX: "RPPS"}
"""The identifier type named as ``otherIds[].origine`` would name it (RPPS, ADELI, FINESS as in
psc-ps-api; SIRET, SIREN by analogy, unverified)."""

_FINESS_SHAPE = re.compile(r"[0-9][0-9AB][0-9]{7}")
_ADELI_SHAPE = re.compile(r"[0-9][0-9AB][0-9]{7}")
"""9 characters: département (``2A``/``2B`` in Corsica), profession, serial, key (the key's
rule is not published: accepted unchecked)."""
_EDIT_SHAPE = re.compile(r"ANS[0-9]{14}")
"""EDIT test identities: ``ANS`` + a timestamp (``ANS20231122132732``, reference §10)."""
_HOLDER_SHAPE = re.compile(rf"[0-9A-Z]{{1,{HOLDER_ID_MAX}}}")
_CARD_TYPE_OF_HOLDER = re.compile(r"(CPE|CPA|CDE)")
_RPPS_CABINET_STRUCTURE = re.compile(r"R[0-9]{1,20}")


def luhn_is_valid(digits: str) -> bool:
    """True when ASCII ``digits`` (check digit last) satisfy Luhn's mod-10 rule."""
    if not digits or not (digits.isascii() and digits.isdigit()):
        return False
    return luhn_check_digit(digits[:-1]) == digits[-1]


def luhn_check_digit(body: str) -> str:
    """Luhn check digit of an ASCII digit string of any length (``rpps_check_digit`` is the
    10-digit case, with its input checked)."""
    total = 0
    for position, char in enumerate(reversed(body)):
        digit = int(char)
        if position % 2 == 0:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return str((10 - total % 10) % 10)


def is_valid_siret(siret: str) -> bool:
    """14 ASCII digits with INSEE's key (Luhn; La Poste's SIREN: digit sum multiple of 5)."""
    if not isinstance(siret, str) or not _is_ascii_digits(siret, SIRET_LENGTH):
        return False
    if siret.startswith(LA_POSTE_SIREN):
        return sum(int(c) for c in siret) % 5 == 0
    return luhn_is_valid(siret)


def is_valid_siren(siren: str) -> bool:
    """9 ASCII digits with INSEE's Luhn key (the first 9 digits of a SIRET)."""
    return isinstance(siren, str) and _is_ascii_digits(siren, SIREN_LENGTH) \
        and luhn_is_valid(siren)


def is_valid_finess(finess: str) -> bool:
    """9 characters, département first; Luhn when all digits, unchecked with a letter (see the
    module doc: Corsica and ANS's test numbers)."""
    if not isinstance(finess, str) or not finess.isascii() or not _FINESS_SHAPE.fullmatch(finess):
        return False
    return luhn_is_valid(finess) if finess.isdigit() else True


def is_valid_adeli(adeli: str) -> bool:
    """9 characters, département first (``2A``/``2B``), digits; the key is not checked (its
    rule is not published)."""
    return isinstance(adeli, str) and adeli.isascii() and bool(_ADELI_SHAPE.fullmatch(adeli))


def is_valid_rpps_cabinet(number: str) -> bool:
    """An RPPS cabinet number as psc-idp reads it: a valid RPPS + 3 digits (inferred from the
    former structure ids ``4`` + RPPS + ``nnn``; unverified)."""
    return isinstance(number, str) and _is_ascii_digits(number, RPPS_CABINET_LENGTH) \
        and is_valid_rpps(number[:RPPS_LENGTH])


def is_edit_id(national_id: str) -> bool:
    """True for an EDIT test identity ``ANS`` + 14 digits (upper-case, as PSC sends it)."""
    return isinstance(national_id, str) and national_id.isascii() \
        and bool(_EDIT_SHAPE.fullmatch(national_id))


_STRUCTURE_NUMBER_CHECKS = {
    ADELI_CABINET_PREFIX: ("ADELI", is_valid_adeli),
    FINESS_PREFIX: ("FINESS", is_valid_finess),
    SIREN_PREFIX: ("SIREN", is_valid_siren),
    SIRET_PREFIX: ("SIRET", is_valid_siret),
    RPPS_CABINET_PREFIX: ("RPPS", is_valid_rpps_cabinet),
}


@dataclass(frozen=True)
class StaffId:
    """A structure staff national identifier, split into its parts."""

    national_id: str
    """Normalised: type digit + the structure's number, ``/``, the holder's id (upper-case)."""
    origin: str
    """``FINESS`` or ``SIRET`` (seen in PSC's samples); ``ADELI`` (cabinet), ``SIREN`` or
    ``RPPS`` (cabinet) for the other TRE_G08 structure types (unverified)."""
    structure_number: str
    """The FINESS, SIRET, SIREN, cabinet ADELI or RPPS cabinet number itself."""
    holder_id: str
    """What follows the ``/``: the holder's id in the structure (the card id in ANS's samples)."""

    @property
    def structure_technical_id(self) -> str:
        """The directory's technical id of that structure: ``F``+FINESS or ``C``+SIRET
        (reference §10); "" for the other types, whose technical id cannot be derived from the
        number. For a FINESS it names the site; a director's id may name the legal entity
        (FINESS juridique) instead, so treat it as a hint."""
        letter = {"FINESS": "F", "SIRET": "C"}.get(self.origin)
        return letter + self.structure_number if letter else ""

    @property
    def card_type(self) -> str | None:
        """``CPE``, ``CPA`` or ``CDE`` when the holder id starts so (ANS's samples
        ``CPET00001``, ``CPAT00045`` and psc-idp's demo ids); None otherwise."""
        match = _CARD_TYPE_OF_HOLDER.match(self.holder_id)
        return match.group(1) if match else None


def parse_staff_id(text: str) -> StaffId | None:
    """A structure staff identifier (whitespace ignored, letters upper-cased), or None."""
    if not isinstance(text, str) or not text.isascii():
        return None
    compact = "".join(text.split()).upper()
    structure, slash, holder = compact.partition("/")
    if not slash or not _HOLDER_SHAPE.fullmatch(holder) or not structure:
        return None
    prefix, number = structure[0], structure[1:]
    check = _STRUCTURE_NUMBER_CHECKS.get(prefix)
    if check is None or not check[1](number):
        return None
    return StaffId(national_id=f"{structure}/{holder}", origin=check[0],
                   structure_number=number, holder_id=holder)


def is_staff_id(national_id: str) -> bool:
    """True for a well-formed structure staff identifier (CPE, CPA, CDE holders)."""
    return parse_staff_id(national_id) is not None


def identifier_origin(national_id: str) -> str:
    """What the national identifier is built on (its TRE_G08 type digit): ``RPPS``, ``ADELI``,
    ``FINESS``, ``SIRET``, ``SIREN``; ``EDIT`` for an ``ANS…`` test identity (the 2024
    sample's ``origine``); ``RPPS`` for anything else, as before other kinds existed."""
    if not isinstance(national_id, str) or not national_id:
        return "RPPS"
    if is_edit_id(national_id):
        return "EDIT"
    if "/" not in national_id:
        return "ADELI" if national_id[:1] == ADELI_PREFIX else "RPPS"
    return ORIGIN_BY_PREFIX.get(national_id[:1], "RPPS")


def identifier_kind(national_id: str) -> str:
    """A short name of the identity's kind, for pages and reports: ``RPPS``, ``ADELI``,
    ``EDIT`` or ``STAFF`` (structure staff); "" when ``national_id`` is no national id."""
    if national_id_problem(national_id) is not None:
        return ""
    if "/" in national_id:
        return "STAFF"
    return identifier_origin(national_id)


# ------------------------------------------------------- every identifier kind (input checks)


def national_id_problem(national_id: str) -> str | None:
    """Why ``national_id`` is not a national identifier PSC carries (French, for reports and
    pages), or None when it is one, written in its normal form: ``8``+RPPS (key checked),
    ``0``+ADELI, structure staff (``1``/``3``/``4``/``5``/``6`` + the structure's number, ``/``,
    holder), an EDIT test identity (``ANS…``)."""
    if not isinstance(national_id, str) or not national_id.isascii() or not national_id:
        return "identifiant national vide ou illisible"
    if "/" in national_id:
        staff = parse_staff_id(national_id)
        if staff is None:
            return f"identifiant de personnel de structure invalide : « {national_id} »"
        if staff.national_id != national_id:
            return (f"identifiant de personnel de structure à écrire « {staff.national_id} » "
                    f"(majuscules, sans espace) : « {national_id} »")
        return None
    if national_id[:3].upper() == EDIT_PREFIX:
        return None if is_edit_id(national_id) else \
            f"un identifiant de test EDIT compte ANS puis 14 chiffres : « {national_id} »"
    prefix, rest = national_id[:1], national_id[1:]
    if prefix == NATIONAL_ID_PREFIX:
        if not _is_ascii_digits(rest, RPPS_LENGTH):
            return f"un identifiant RPPS compte 8 puis 11 chiffres : « {national_id} »"
        return None if is_valid_rpps(rest) else \
            f"clé de contrôle du numéro RPPS invalide : « {national_id} »"
    if prefix == ADELI_PREFIX:
        return None if is_valid_adeli(rest) else \
            f"un identifiant ADELI compte 0 puis 9 caractères : « {national_id} »"
    if prefix in TRE_G08:
        return (f"un identifiant de type {TRE_G08[prefix]} ({prefix}) désigne une structure : "
                f"celui d'une personne y ajoute « / » et son identifiant : « {national_id} »")
    return f"type d'identifiant national inconnu (TRE_G08) : « {national_id} »"


# ------------------------------------------------------------------------ structure ids


def structure_id_problem(technical_id: str) -> str | None:
    """Why ``technical_id`` is not a structure technical id in its current form (French), or
    None: ``R`` + digits (RPPS cabinet), ``F`` + FINESS (key checked) or ``C`` + SIRET (key
    checked). The former forms ``3`` + SIRET and ``4`` + RPPS + ``nnn`` are refused with a
    message saying so: they belong in ``former_id`` (``ancienIdentifiantDeLaStructure``)."""
    if not isinstance(technical_id, str) or not technical_id.isascii() or not technical_id:
        return "identifiant technique de structure vide ou illisible"
    kind, number = technical_id[0], technical_id[1:]
    if kind == "R":
        return None if _RPPS_CABINET_STRUCTURE.fullmatch(technical_id) else \
            f"un identifiant de cabinet RPPS compte R puis des chiffres : « {technical_id} »"
    if kind == "F":
        return None if is_valid_finess(number) else \
            f"FINESS invalide dans l'identifiant de structure « {technical_id} »"
    if kind == "C":
        return None if is_valid_siret(number) else \
            f"SIRET invalide dans l'identifiant de structure « {technical_id} »"
    if former_structure_id_problem(technical_id) is None:
        return (f"« {technical_id} » est un ancien identifiant de structure (3 + SIRET ou "
                "4 + RPPS + nnn) : l'identifiant technique est C + SIRET ou R…")
    return (f"identifiant technique de structure inconnu : « {technical_id} » "
            "(attendu R…, F + FINESS ou C + SIRET)")


def former_structure_id_problem(former_id: str) -> str | None:
    """Why ``former_id`` is not a former structure id (French), or None: ``3`` + SIRET (14
    digits, key checked) or ``4`` + RPPS + 3 digits (the capture's ``499700427885006``)."""
    if not isinstance(former_id, str) or not former_id.isascii() or not former_id:
        return "ancien identifiant de structure vide ou illisible"
    prefix, number = former_id[0], former_id[1:]
    if prefix == "3" and is_valid_siret(number):
        return None
    if prefix == "4" and is_valid_rpps_cabinet(number):
        return None
    return (f"ancien identifiant de structure invalide : « {former_id} » "
            "(attendu 3 + SIRET ou 4 + RPPS + 3 chiffres)")


# ---------------------------------------------------------------------- other identifiers

OTHER_ID_ORIGINS = ("RPPS", "ADELI", "FINESS", "SIRET", "SIREN", "PSI", "EDIT")
"""``otherIds[].origine`` values psc-idp stores: the first four as psc-ps-api's
``alternativeIds`` name them (PSI is a UUID of quality 2), EDIT as the 2024 sample."""

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def other_id_problem(identifier: str, origin: str, quality: int = 1) -> str | None:
    """Why (``identifier``, ``origin``, ``quality``) is not a valid ``otherIds`` entry (French),
    or None. RPPS, ADELI, EDIT and staff identifiers are national ids (``8…``, ``0…``,
    ``ANS…``, ``3…/…``, ``5…/…``); PSI is a lower-case UUID with quality 2."""
    if origin not in OTHER_ID_ORIGINS:
        return (f"origine d'identifiant inconnue « {origin} » "
                f"(attendu {', '.join(OTHER_ID_ORIGINS)})")
    if isinstance(quality, bool) or not isinstance(quality, int) or quality not in (1, 2):
        return f"qualité d'identifiant invalide « {quality} » (1, ou 2 pour PSI)"
    if not isinstance(identifier, str) or not identifier:
        return "identifiant vide"
    if origin == "PSI":
        if not _UUID.fullmatch(identifier):
            return f"un identifiant PSI est un UUID en minuscules : « {identifier} »"
        return None if quality == 2 else "un identifiant PSI a la qualité 2"
    problem = national_id_problem(identifier)
    if problem:
        return problem
    if identifier_origin(identifier) != origin:
        return (f"l'identifiant « {identifier} » est de type {identifier_origin(identifier)}, "
                f"pas {origin}")
    return None
