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
    return normalised[len(NATIONAL_ID_PREFIX):]


def parse_identifier(text: str) -> str | None:
    """Normalise what a professional typed into a national identifier, or None.

    Accepts the national identifier (``8`` + 11 digits), a bare RPPS (11 digits), or a structure
    staff identifier (``3``+FINESS or ``5``+SIRET, ``/``, the holder's id; letters upper-cased);
    whitespace anywhere is ignored because people copy numbers grouped by blocks. Returns None
    when the text is malformed or a check digit is wrong, so callers never query with garbage.
    """
    if not isinstance(text, str):
        return None
    compact = "".join(text.split())
    if "/" in compact:
        staff = parse_staff_id(compact)
        return staff.national_id if staff else None
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

FINESS_PREFIX = "3"
SIRET_PREFIX = "5"
FINESS_LENGTH = 9
SIRET_LENGTH = 14
HOLDER_ID_MAX = 24
"""Longest holder part accepted, so that a staff id (``5``+SIRET+``/``+24) is at most 40
characters: the width of the audit trail's ``subject`` (``professional.national_id`` has 64)."""
LA_POSTE_SIREN = "356000000"

ORIGIN_BY_PREFIX = {NATIONAL_ID_PREFIX: "RPPS", FINESS_PREFIX: "FINESS", SIRET_PREFIX: "SIRET"}
"""The identifier type (TRE_G08) named as ``otherIds[].origine`` would name it."""

_FINESS_SHAPE = re.compile(r"[0-9][0-9AB][0-9]{7}")
_HOLDER_SHAPE = re.compile(rf"[0-9A-Z]{{1,{HOLDER_ID_MAX}}}")
_CARD_TYPE_OF_HOLDER = re.compile(r"(CPE|CPA|CDE)")


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


def is_valid_finess(finess: str) -> bool:
    """9 characters, département first; Luhn when all digits, unchecked with a letter (see the
    module doc: Corsica and ANS's test numbers)."""
    if not isinstance(finess, str) or not finess.isascii() or not _FINESS_SHAPE.fullmatch(finess):
        return False
    return luhn_is_valid(finess) if finess.isdigit() else True


@dataclass(frozen=True)
class StaffId:
    """A structure staff national identifier, split into its parts."""

    national_id: str
    """Normalised: ``3``+FINESS or ``5``+SIRET, ``/``, the holder's id (upper-case)."""
    origin: str
    """``FINESS`` or ``SIRET``: the type of the structure's identifier."""
    structure_number: str
    """The FINESS or SIRET itself."""
    holder_id: str
    """What follows the ``/``: the holder's id in the structure (the card id in ANS's samples)."""

    @property
    def structure_technical_id(self) -> str:
        """The directory's technical id of that structure: ``F``+FINESS or ``C``+SIRET
        (reference §10). For a FINESS it names the site; a director's id may name the legal
        entity (FINESS juridique) instead, so treat it as a hint."""
        return ("F" if self.origin == "FINESS" else "C") + self.structure_number

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
    if prefix == FINESS_PREFIX and is_valid_finess(number):
        origin = "FINESS"
    elif prefix == SIRET_PREFIX and is_valid_siret(number):
        origin = "SIRET"
    else:
        return None
    return StaffId(national_id=f"{structure}/{holder}", origin=origin,
                   structure_number=number, holder_id=holder)


def is_staff_id(national_id: str) -> bool:
    """True for a well-formed structure staff identifier (CPE, CPA, CDE holders)."""
    return parse_staff_id(national_id) is not None


def identifier_origin(national_id: str) -> str:
    """``RPPS``, ``FINESS`` or ``SIRET``: what the national identifier is built on (its TRE_G08
    type digit); ``RPPS`` for anything without a ``/``, as before staff identities existed."""
    if "/" not in national_id:
        return "RPPS"
    return ORIGIN_BY_PREFIX.get(national_id[:1], "RPPS")


# ------------------------------------------------------- every identifier kind (input checks)

_ADELI_SHAPE = re.compile(r"[0-9][0-9AB][0-9]{7}")
"""9 characters: département (``2A``/``2B`` in Corsica), profession, serial, key (the key's
rule is not published: accepted unchecked)."""
_EDIT_SHAPE = re.compile(r"ANS[0-9]{14}")
"""EDIT test identities: ``ANS`` + a timestamp (``ANS20231122132732``, reference §10)."""


def national_id_problem(national_id: str) -> str | None:
    """Why ``national_id`` is not a national identifier PSC carries (French, for reports and
    pages), or None when it is one: ``8``+RPPS (key checked), ``0``+ADELI, structure staff
    (``3``+FINESS or ``5``+SIRET, ``/``, holder), an EDIT test identity (``ANS…``)."""
    if not isinstance(national_id, str) or not national_id.isascii() or not national_id:
        return "identifiant national vide ou illisible"
    if "/" in national_id:
        staff = parse_staff_id(national_id)
        return None if staff is not None and staff.national_id == national_id else \
            f"identifiant de personnel de structure invalide : « {national_id} »"
    if _EDIT_SHAPE.fullmatch(national_id):
        return None
    prefix, rest = national_id[:1], national_id[1:]
    if prefix == NATIONAL_ID_PREFIX:
        if not _is_ascii_digits(rest, RPPS_LENGTH):
            return f"un identifiant RPPS compte 8 puis 11 chiffres : « {national_id} »"
        return None if is_valid_rpps(rest) else \
            f"clé de contrôle du numéro RPPS invalide : « {national_id} »"
    if prefix == "0":
        return None if _ADELI_SHAPE.fullmatch(rest) else \
            f"un identifiant ADELI compte 0 puis 9 caractères : « {national_id} »"
    return f"type d'identifiant national inconnu (TRE_G08) : « {national_id} »"
