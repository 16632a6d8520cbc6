"""Calling the directory admin API in tests, every answer checked against the OpenAPI document.

``Api.call`` finds the operation the request matched (the blueprint's URL rule, turned into
the document's path template), and validates the JSON answer against the schema the document
gives for that status (JSON Schema 2020-12, ``jsonschema``): a response the document does not
describe fails the test, so the document cannot drift from the code.
"""

from __future__ import annotations

import re
from typing import Any

import jsonschema
from flask import Flask
from werkzeug.routing import Map

from psc_idp.admin.directory_api import openapi_document

PREFIX = "/api/admin/directory"
GP = "810099900010"
"""Camille LEROY, the demo GP (one situation)."""
STAFF = "30B0168811/CPET00001"
"""A structure staff member: a national id with a "/"."""
HOSPITAL = "F0B0750017"
EHPAD = "F0B0330019"


def template(rule: str) -> str:
    """``/professionals/<path:national_id>/end`` → ``/professionals/{national_id}/end``."""
    return re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule[len(PREFIX):])


def blueprint_operations(app: Flask) -> set[tuple[str, str]]:
    """Every (path template, method) the blueprint serves."""
    out = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("directory_api."):
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                out.add((template(rule.rule), method.lower()))
    return out


def response_schema(path: str, method: str, status: int) -> dict[str, Any]:
    doc = openapi_document()
    operation = doc["paths"][path][method]
    response = operation["responses"][str(status)]
    schema = dict(response["content"]["application/json"]["schema"])
    schema["components"] = doc["components"]  # so "#/components/schemas/…" resolves
    return schema


class Api:
    def __init__(self, app: Flask, key: str | None = None):
        self.app = app
        self.client = app.test_client()
        self.key = key
        self.seen: set[tuple[str, str, int]] = set()
        self._map: Map = app.url_map

    def call(self, method: str, path: str, *, key: str | None = "default", **kwargs: Any
             ) -> Any:
        headers = dict(kwargs.pop("headers", {}))
        key = self.key if key == "default" else key
        if key is not None:
            headers["Authorization"] = f"Bearer {key}"
        response = self.client.open(PREFIX + path, method=method.upper(), headers=headers,
                                    **kwargs)
        self.check(method, path, response)
        return response

    def check(self, method: str, path: str, response: Any) -> None:
        adapter = self._map.bind("localhost")
        try:
            rule, _ = adapter.match(PREFIX + path.split("?")[0], method=method.upper(),
                                    return_rule=True)
        except Exception:  # an unknown route: nothing to check against the document
            return
        if not rule.endpoint.startswith("directory_api."):
            return
        path_template = template(rule.rule)
        assert response.is_json, response.get_data(as_text=True)
        schema = response_schema(path_template, method.lower(), response.status_code)
        jsonschema.Draft202012Validator(schema).validate(response.get_json())
        self.seen.add((path_template, method.lower(), response.status_code))

    def get(self, path: str, **kw: Any) -> Any:
        return self.call("get", path, **kw)

    def post(self, path: str, **kw: Any) -> Any:
        return self.call("post", path, **kw)

    def patch(self, path: str, **kw: Any) -> Any:
        return self.call("patch", path, **kw)


def new_key(app: Flask, label: str = "tests") -> tuple[str, str]:
    """A key created as ``admin-key create`` does: (key_id, key)."""
    from psc_idp.admin.api_keys import create_key
    from psc_idp.db import db

    with app.app_context():
        made = create_key(label)
        db.session.commit()
    return made.key_id, made.key
