"""The JSON Schemas in docs/: the real captures pass (userinfo: the 2024 sample and the 2023
capture, each against its own shape), near misses fail."""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator, ValidationError

from psc_idp.claims import schemas
from psc_idp.claims.schemas import validate_access_token_claims, validate_userinfo

REFERENCE = json.loads((Path(__file__).parent / "reference_userinfo.json").read_text("utf-8"))
REFERENCE_2024 = json.loads(
    (Path(__file__).parent / "reference_userinfo_2024.json").read_text("utf-8"))
REFERENCES = {"2023": REFERENCE, "2024": REFERENCE_2024}
SESSION = str(uuid.uuid4())
ACCESS_TOKEN: dict[str, Any] = {
    # The claims of the real BAS access token (reference §4.3), with our own values.
    "exp": 1700000120, "iat": 1700000000, "auth_time": 1699999990,
    "jti": str(uuid.uuid4()),
    "iss": "https://auth.bas.psc.esante.gouv.fr/auth/realms/esante-wallet",
    "sub": "f:550dc1c8-d97b-4b1e-ac8c-8eb4471cf9dd:899700427885",
    "typ": "Bearer", "azp": "demo-rp", "nonce": "", "session_state": SESSION,
    "acr": "eidas3", "scope": "openid profile scope_all identity", "sid": SESSION,
    "authMode": "CARD",
    "otherIds": [{"identifiant": "899700427885", "origine": "RPPS", "qualite": 1}],
    "preferred_username": "899700427885",
}


def test_schema_files_are_valid_draft_2020_12() -> None:
    for path in (schemas.USERINFO_SCHEMA, schemas.ACCESS_TOKEN_SCHEMA):
        schema = json.loads(path.read_text("utf-8"))
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        Draft202012Validator.check_schema(schema)


def test_validators_are_loaded_once() -> None:
    assert schemas.userinfo_validator() is schemas.userinfo_validator()
    assert schemas.userinfo_validator("2024") is schemas.userinfo_validator("2024")
    assert schemas.userinfo_validator("2024") is not schemas.userinfo_validator("2023")
    assert schemas.access_token_validator() is schemas.access_token_validator()
    assert schemas.DOCS_DIR.name == "docs" and schemas.USERINFO_SCHEMA.is_file()


def test_reference_capture_validates() -> None:
    validate_userinfo(REFERENCE)
    validate_userinfo(REFERENCE, "2023")


def test_reference_2024_sample_validates_as_2024_only() -> None:
    validate_userinfo(REFERENCE_2024)
    validate_userinfo(REFERENCE_2024, "2024")
    with pytest.raises(ValidationError):
        validate_userinfo(REFERENCE_2024, "2023")
    with pytest.raises(ValidationError):
        validate_userinfo(REFERENCE, "2024")


def test_unknown_shape_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        validate_userinfo(REFERENCE, "2025")


def test_older_sample_email_verified_is_allowed() -> None:
    validate_userinfo({**REFERENCE, "email_verified": False})
    with pytest.raises(ValidationError):  # only in the older samples, not in 2024's
        validate_userinfo({**REFERENCE_2024, "email_verified": False})


def _activity(doc: dict[str, Any]) -> dict[str, Any]:
    return doc["SubjectRefPro"]["exercices"][0]["activities"][0]


def _set_null(doc: dict[str, Any]) -> None:
    _activity(doc)["codeRole"] = None


def _extra_activity_key(doc: dict[str, Any]) -> None:
    _activity(doc)["contact_email"] = "x@demo.psc-idp.test"


def _misspelled_activities(doc: dict[str, Any]) -> None:
    practice = doc["SubjectRefPro"]["exercices"][0]
    practice["activites"] = practice.pop("activities")


def _missing_activity_key(doc: dict[str, Any]) -> None:
    del _activity(doc)["autoriteDenregistrement"]


def _bad_sub(doc: dict[str, Any]) -> None:
    doc["sub"] = "899700427885"


def _bad_national_id(doc: dict[str, Any]) -> None:
    doc["SubjectNameID"] = "99700427885"


def _qualite_as_string(doc: dict[str, Any]) -> None:
    doc["otherIds"][0]["qualite"] = "1"


def _partial_scope_all(doc: dict[str, Any]) -> None:
    del doc["SubjectRefPro"]


def _missing_scope_all_claim(doc: dict[str, Any]) -> None:
    del doc["PSI_Locale"]


def _subject_role_without_oid(doc: dict[str, Any]) -> None:
    doc["SubjectRole"] = ["10"]


def _unknown_top_level(doc: dict[str, Any]) -> None:
    doc["email"] = "someone@example.org"


def _extra_practice_key(doc: dict[str, Any]) -> None:
    doc["SubjectRefPro"]["exercices"][0]["codeRole"] = ""


def _hybrid_civility(doc: dict[str, Any]) -> None:
    """The 2023 doc with 2024's top-level codeCivilite, or the 2024 doc with 2023's."""
    if "codeCivilite" in doc:
        doc["SubjectRefPro"]["codeCivilite"] = doc["codeCivilite"]
    else:
        doc["codeCivilite"] = doc["SubjectRefPro"]["codeCivilite"]


def _other_shape_claim(doc: dict[str, Any]) -> None:
    """authMode in the 2024 doc; codeGenreActivite in the 2023 one."""
    if "authMode" in doc:
        doc["codeGenreActivite"] = "GENR01"
    else:
        doc["authMode"] = "CARD"


def _missing_civility(doc: dict[str, Any]) -> None:
    if "codeCivilite" in doc:
        del doc["codeCivilite"]
    else:
        del doc["SubjectRefPro"]["codeCivilite"]


MUTATIONS = [_set_null, _extra_activity_key, _misspelled_activities, _missing_activity_key,
             _bad_sub, _bad_national_id, _qualite_as_string, _partial_scope_all,
             _missing_scope_all_claim, _subject_role_without_oid, _unknown_top_level,
             _extra_practice_key, _hybrid_civility, _other_shape_claim, _missing_civility]


@pytest.mark.parametrize("shape", ["2024", "2023"])
@pytest.mark.parametrize("mutate", MUTATIONS, ids=[m.__name__ for m in MUTATIONS])
def test_userinfo_near_misses_are_rejected(mutate: Callable[[dict[str, Any]], None],
                                           shape: str) -> None:
    doc = copy.deepcopy(REFERENCES[shape])
    mutate(doc)
    with pytest.raises(ValidationError):
        validate_userinfo(doc, shape)
    with pytest.raises(ValidationError):
        validate_userinfo(doc)  # nor as the other shape


@pytest.mark.parametrize("shape", ["2024", "2023"])
def test_minimal_identity_validates_but_not_without_names(shape: str) -> None:
    reference = REFERENCES[shape]
    minimal = {k: reference[k] for k in ("sub", "SubjectNameID", "preferred_username",
                                         "given_name", "family_name")}
    validate_userinfo(minimal)
    validate_userinfo(minimal, "2024")
    validate_userinfo(minimal, "2023")
    del minimal["family_name"]
    with pytest.raises(ValidationError):
        validate_userinfo(minimal)


def test_access_token_claims_validate() -> None:
    validate_access_token_claims(ACCESS_TOKEN)
    validate_access_token_claims({**ACCESS_TOKEN, "SubjectNameID": "899700427885"})
    validate_access_token_claims({**ACCESS_TOKEN, "nonce": "a" * 64, "acr": "eidas1"})
    # strict profile: no nonce (RFC 9068 defines none)
    validate_access_token_claims({k: v for k, v in ACCESS_TOKEN.items() if k != "nonce"})
    validate_access_token_claims({**ACCESS_TOKEN, "cnf": {"x5t#S256": "bwcK0esc3ACC3DB2Y5_lESs"}})
    # every identity kind signs in, so every national id form is a valid preferred_username
    for national_id in ("ANS20210107161422", "0339400127", "30B0168811/CPET00001",
                        "500000001815646/CPAT00045", "4900990011/CPAT1"):
        validate_access_token_claims({**ACCESS_TOKEN, "preferred_username": national_id,
                                      "sub": "f:550dc1c8-d97b-4b1e-ac8c-8eb4471cf9dd:"
                                             + national_id})


@pytest.mark.parametrize("change", [
    {"aud": "demo-rp"},
    {"aud": ["demo-rp"]},
    {"typ": "ID"},
    {"jti": "not-a-uuid"},
    {"exp": "1700000120"},
    {"acr": "0"},
    {"sub": "f:550dc1c8:899700427885"},
    {"otherIds": []},
    {"preferred_username": "ans20210107161422"},  # EDIT ids are written ANS…
    {"preferred_username": "033940012"},  # ADELI one character short
    {"nonce": None},
    {"contact_mobile": "+33600000001"},
], ids=lambda change: next(iter(change)))
def test_access_token_near_misses_are_rejected(change: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        validate_access_token_claims({**ACCESS_TOKEN, **change})


@pytest.mark.parametrize("claim", ["exp", "iat", "auth_time", "jti", "iss", "sub", "typ", "azp",
                                   "session_state", "sid", "acr", "scope", "authMode",
                                   "otherIds", "preferred_username"])
def test_every_access_token_claim_is_required(claim: str) -> None:
    token = dict(ACCESS_TOKEN)
    del token[claim]
    with pytest.raises(ValidationError, match=claim):
        validate_access_token_claims(token)
