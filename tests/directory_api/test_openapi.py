"""The OpenAPI 3.1 document: valid (openapi-spec-validator), served, and complete: every route
of the blueprint is in it, and every operation's success answer was checked against it by the
tests of this folder (``Api.call`` validates each response)."""

from __future__ import annotations

import pytest
from openapi_spec_validator import validate
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError

from psc_idp.admin.directory_api import openapi_document
from psc_idp.db import db
from psc_idp.directory.importer.models import DirectoryImport

from .apihelp import Api, blueprint_operations


def test_the_document_is_valid_openapi_3_1():
    document = openapi_document()
    assert document["openapi"] == "3.1.0"
    validate(document)  # raises on any error


def test_the_validator_is_not_lenient():
    broken = {**openapi_document(), "paths": {"/x": {"get": {"responses": {"200": 7}}}}}
    with pytest.raises(OpenAPIValidationError):
        validate(broken)


def test_every_route_is_documented_and_every_documented_operation_exists(app):
    document = openapi_document()
    documented = {(path, method) for path, item in document["paths"].items()
                  for method in item if method != "parameters"}
    assert blueprint_operations(app) == documented


def test_every_body_and_response_has_a_schema():
    for path, item in openapi_document()["paths"].items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            for status, response in operation["responses"].items():
                assert response["content"]["application/json"]["schema"], (path, method, status)
            if "requestBody" in operation:
                assert operation["requestBody"]["content"]["application/json"]["schema"]


def test_served_document_is_the_file(api: Api):
    assert api.get("/openapi.json").get_json() == openapi_document()


def test_a_tour_answers_as_documented(app, api: Api):
    """One call per operation (success), each answer validated against the document."""
    from .apihelp import GP, HOSPITAL

    api.get("/openapi.json")
    api.get("/professionals")
    from psc_idp.directory.national_id import make_rpps

    new = "8" + make_rpps(5_151_515)
    api.post("/professionals", json={"national_id": new, "family_name": "T", "given_name": "U"})
    api.get(f"/professionals/{GP}")
    api.patch(f"/professionals/{new}", json={"contact_mobile": "0600000000"})
    situation = api.post(f"/professionals/{new}/situations",
                         json={"structure": HOSPITAL, "profession": "60"}).get_json()
    api.get(f"/situations/{situation['id']}")
    api.post(f"/situations/{situation['id']}/end")
    api.post(f"/professionals/{new}/end")
    api.get("/structures")
    api.post("/structures", json={"technical_id": "R777", "name": "CABINET"})
    api.get("/structures/R777")
    api.patch("/structures/R777", json={"phone": "0102030405"})
    with app.app_context():
        run = DirectoryImport(format="psc", file_name="Extraction.txt", file_sha256="cd" * 32)
        db.session.add(run)
        db.session.commit()
        run_id = run.id
    api.get("/imports")
    api.get(f"/imports/{run_id}")
    successes = {(path, method) for path, method, status in api.seen if status < 300}
    assert successes == blueprint_operations(app)
