"""``oidc.store``: the single-use code claim, grants, token liveness and revocation as single
Core statements, on both backends."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import func, select

from psc_idp.audit import AuditEvent, record
from psc_idp.db import db, utcnow
from psc_idp.directory.models import Professional
from psc_idp.oidc import store
from psc_idp.oidc.models import Grant, IssuedToken, digest

GP = "810099900010"


def _code(app) -> str:
    """A fresh authorization code row for the GP; returns its digest."""
    with app.app_context():
        pid = db.session.scalar(select(Professional.id).filter_by(national_id=GP))
        code_digest = digest(uuid.uuid4().hex)
        store.insert_code(dict(
            code_digest=code_digest, client_id="psc-demo-rp", redirect_uri="http://rp/cb",
            scope="openid scope_all", nonce="n", code_challenge="", code_challenge_method="",
            professional_id=pid, session_id=str(uuid.uuid4()), auth_time=1, acr="eidas1",
            amr=["pwd"], auth_mode="CARD", expires_at=utcnow() + timedelta(seconds=60)))
        db.session.commit()
    return code_digest


def _grant_with_tokens(app) -> tuple[str, str, str]:
    code_digest = _code(app)
    with app.app_context():
        code = store.find_code(code_digest)
        grant = store.grant_from_code(code, str(uuid.uuid4()))
        assert store.claim_code(code_digest, grant.id)
        store.insert_grant(grant)
        access, refresh = str(uuid.uuid4()), str(uuid.uuid4())
        later = utcnow() + timedelta(minutes=5)
        store.insert_tokens(grant.id, [("access", access, later), ("refresh", refresh, later)])
        db.session.commit()
    return grant.id, access, refresh


def test_a_code_is_claimed_once(make_app):
    app = make_app()
    code_digest = _code(app)
    with app.app_context():
        code = store.find_code(code_digest)
        assert code is not None and code.used_at is None and code.get_amr() == ["pwd"]
        assert store.claim_code(code_digest, "g1") is True
        assert store.claim_code(code_digest, "g2") is False
        db.session.commit()
        assert store.find_code(code_digest).grant_id == "g1"
        assert store.find_code(digest("unknown")) is None


def test_tokens_live_until_their_grant_is_revoked(make_app):
    app = make_app()
    grant_id, access, refresh = _grant_with_tokens(app)
    with app.app_context():
        token, grant, person = store.live_token(access)
        assert person is not None and person.national_id == GP
        assert token.kind == "access" and grant.id == grant_id and grant.amr == ("pwd",)
        assert store.revoke_grant(grant_id, "code_replayed") is True
        assert store.revoke_grant(grant_id, "revoked_by_client") is False  # first reason kept
        db.session.commit()
        assert store.live_token(access) is None and store.live_token(refresh) is None
        _, grant = store.token_and_grant(refresh)
        assert grant.revoked_reason == "code_replayed" and grant.revoked_at is not None
        assert db.session.get(Grant, grant_id).revoked_reason == "code_replayed"


def test_one_token_revoked_leaves_the_other(make_app):
    app = make_app()
    _, access, refresh = _grant_with_tokens(app)
    with app.app_context():
        store.revoke_token(access)
        db.session.commit()
        assert store.live_token(access) is None
        assert store.live_token(refresh) is not None
        assert store.token_and_grant("x" * 37) is None


def test_a_refresh_token_is_spent_once(make_app):
    app = make_app()
    _, _, refresh = _grant_with_tokens(app)
    with app.app_context():
        assert store.claim_refresh(refresh) is True
        assert store.claim_refresh(refresh) is False
        db.session.commit()
        assert db.session.get(IssuedToken, refresh).used_at is not None


def test_the_audit_row_rolls_back_with_its_transaction(make_app):
    app = make_app()
    with app.app_context():
        before = db.session.scalar(select(func.count()).select_from(AuditEvent))
        _, access, _ = _grant_with_tokens(app)
        store.revoke_token(access)
        record("token.revoked", client_id="psc-demo-rp", kind="access")
        db.session.rollback()  # the change and its audit row go together
        assert db.session.scalar(select(func.count()).select_from(AuditEvent)) == before
        assert store.live_token(access) is not None
        store.revoke_token(access)
        record("token.revoked", client_id="psc-demo-rp", kind="access")
        db.session.commit()
        row = db.session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
        assert (row.event, row.client_id, row.details) == ("token.revoked", "psc-demo-rp",
                                                           {"kind": "access"})
        assert store.live_token(access) is None
