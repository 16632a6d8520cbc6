"""Who may call the directory admin API: the key policy in test and production mode."""

from __future__ import annotations

from psc_idp.admin.api_keys import revoke_key
from psc_idp.admin.models import AdminApiKey
from psc_idp.audit import AuditEvent
from psc_idp.db import db

from .apihelp import GP, Api, new_key


def test_test_mode_without_any_key_is_open(app):
    api = Api(app)
    assert api.get(f"/professionals/{GP}").status_code == 200


def test_once_a_key_exists_it_is_required(app):
    key_id, key = new_key(app)
    api = Api(app)
    missing = api.get("/professionals", key=None)
    assert missing.status_code == 401
    assert missing.headers["WWW-Authenticate"] == 'Bearer realm="psc-idp-directory"'
    assert missing.get_json()["error"] == "unauthorized"

    wrong = api.get("/professionals", key=key_id + ".not-the-secret")
    assert wrong.status_code == 401
    assert 'error="invalid_token"' in wrong.headers["WWW-Authenticate"]
    unknown = api.get("/professionals", key="dak_0000000000000000.whatever")
    assert unknown.status_code == 401
    assert unknown.get_json() == wrong.get_json()  # unknown id and wrong secret look alike
    for header in ("Basic abc", "Bearer", "Bearer nodot", "Bearer .x", "Bearer é.é"):
        response = api.client.get("/api/admin/directory/professionals",
                                  headers={"Authorization": header})
        assert response.status_code == 401, header

    assert api.get("/professionals", key=key).status_code == 200
    with app.app_context():
        refused = db.session.query(AuditEvent).filter_by(event="admin.api_key_refused").count()
    assert refused >= 4


def test_a_revoked_key_is_refused_at_once(app):
    key_id, key = new_key(app)
    _, other = new_key(app, "other")
    api = Api(app)
    assert api.get("/professionals", key=key).status_code == 200
    with app.app_context():
        revoke_key(key_id)
        db.session.commit()
    refused = api.get("/professionals", key=key)
    assert refused.status_code == 401
    assert "révoquée" in refused.get_json()["error_description"]
    assert api.get("/professionals", key=other).status_code == 200


def test_only_digests_are_stored(app):
    key_id, key = new_key(app)
    secret = key.split(".", 1)[1]
    with app.app_context():
        row = db.session.query(AdminApiKey).filter_by(key_id=key_id).one()
        assert secret not in row.secret_sha256 and len(row.secret_sha256) == 64


def test_production_hides_the_api_until_a_key_exists(make_app):
    app = make_app(demo=False, mode="production", authenticators={"ecps": {}})
    api = Api(app)
    for path in ("/professionals", "/openapi.json", "/structures", "/imports"):
        response = api.get(path)
        assert response.status_code == 404, path
        assert response.get_json()["error"] == "not_found"
    assert api.post("/structures", json={"technical_id": "R1", "name": "X"}).status_code == 404

    key_id, key = new_key(app)
    assert api.get("/professionals").status_code == 401  # a key is always required now
    assert api.get("/professionals", key=key).status_code == 200
    with app.app_context():
        revoke_key(key_id)
        db.session.commit()
    assert api.get("/professionals", key=key).status_code == 404  # no unrevoked key: hidden
