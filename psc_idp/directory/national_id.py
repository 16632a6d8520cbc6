"""RPPS numbers and the national identifier PSC uses for a professional.

An RPPS number is 11 digits whose last digit is a Luhn check digit over the first 10 (real
numbers such as ``10000013994`` and ANS's test ``99700427885`` all satisfy it). PSC and the e-CPS
identify a professional by the national identifier ``"8" + RPPS`` (12 characters): the ``8`` is
the identifier type "RPPS" of the CPx card's first line (seed 002: "renseigner le chiffre « 8 »
avant son n° RPPS").

Checking the key digit rejects most typing mistakes at the login form before any database lookup.
"""

from __future__ import annotations

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
    total = 0
    for position, char in enumerate(reversed(first10)):
        digit = int(char)
        if position % 2 == 0:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return str((10 - total % 10) % 10)


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
    return normalised[len(NATIONAL_ID_PREFIX):]


def parse_identifier(text: str) -> str | None:
    """Normalise what a professional typed into a national identifier, or None.

    Accepts the national identifier (``8`` + 11 digits) or a bare RPPS (11 digits); whitespace
    anywhere is ignored because people copy numbers grouped by blocks. Returns None when the text
    is malformed or the RPPS check digit is wrong, so callers never query with garbage.
    """
    if not isinstance(text, str):
        return None
    compact = "".join(text.split())
    if _is_ascii_digits(compact, NATIONAL_ID_LENGTH) and compact.startswith(NATIONAL_ID_PREFIX):
        rpps = compact[len(NATIONAL_ID_PREFIX):]
    elif _is_ascii_digits(compact, RPPS_LENGTH):
        rpps = compact
    else:
        return None
    if not is_valid_rpps(rpps):
        return None
    return NATIONAL_ID_PREFIX + rpps
