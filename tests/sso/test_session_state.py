"""IdP session state lives in the database: two instances behave as one; lifetime and idle
timeout end sessions; refreshing tokens counts as activity; admin logout fans out."""

from __future__ import annotations

from datetime import timedelta

import requests
from authlib.common.urls import add_params_to_uri

from psc_idp.app import create_app
from psc_idp.db import db, utcnow
from psc_idp.sessions.models import IdpSession
from tests.conftest import LiveServer, free_port
from tests.psc_actions import PscActions, query
from tests.sso.conftest import register


def _second_instance(live: LiveServer) -> LiveServer:
    """Another provider process on the same database, keys and secret (no wipe, no seeding)."""
    settings = live.app.extensions["psc_idp"].settings
    port = free_port()
    app = create_app(mode=settings.mode, database_url=settings.database_url,
                     keys_dir=settings.keys_dir, instance_dir=settings.instance_dir,
                     secret_key=settings.secret_key, log_level="WARNING",
                     public_url=settings.public_url)
    return LiveServer(app, port)


def _via(psc: PscActions, url: str, other: LiveServer) -> str:
    """The same request, sent to the other instance (same issuer, other host:port)."""
    base = psc.issuer.split("/auth/realms")[0]
    return url.replace(base, other.base_url, 1)


def test_two_instances_share_sessions_and_logout(live):
    other = _second_instance(live)
    try:
        psc = PscActions(live.issuer)
        _, first = psc.full_login()
        rp = psc.client()
        start = psc.start(rp, prompt="none")
        answer = psc.open(_via(psc, start.url, other))  # instance 2 knows instance 1's session
        assert answer.status_code == 302 and "code" in query(answer.headers["Location"])
        second = psc.tokens(rp, start, answer.headers["Location"])
        assert psc.verify(second["id_token"])["sid"] == psc.verify(first["id_token"])["sid"]
        logout = add_params_to_uri(psc.metadata["end_session_endpoint"],
                                   [("id_token_hint", second["id_token"])])
        assert psc.open(_via(psc, logout, other)).status_code == 200
        again = psc.open(psc.start(rp, prompt="none").url)  # back on instance 1
        assert query(again.headers["Location"])["error"] == "login_required"
    finally:
        from psc_idp.sessions.backchannel import stop_dispatchers

        other.stop()
        stop_dispatchers()
        with other.app.app_context():
            db.engine.dispose()


def _age_session(live, sid: str, **fields) -> None:
    with live.app.app_context():
        session = db.session.get(IdpSession, sid)
        for name, value in fields.items():
            setattr(session, name, value)
        db.session.commit()


def test_lifetime_and_idle_timeout_end_the_session(live):
    psc = PscActions(live.issuer)
    _, tokens = psc.full_login()
    sid = psc.verify(tokens["id_token"])["sid"]
    rp = psc.client()
    settings = live.app.extensions["psc_idp"].settings.session
    _age_session(live, sid, last_seen_at=utcnow() - timedelta(seconds=settings.idle_timeout + 5))
    answer = psc.open(psc.start(rp, prompt="none").url)
    assert query(answer.headers["Location"])["error"] == "login_required"
    with live.app.app_context():
        assert db.session.get(IdpSession, sid).ended_reason == "idle"

    _, tokens = psc.full_login()
    sid = psc.verify(tokens["id_token"])["sid"]
    _age_session(live, sid, expires_at=utcnow() - timedelta(seconds=1))
    answer = psc.open(psc.start(rp, prompt="none").url)
    assert query(answer.headers["Location"])["error"] == "login_required"
    refreshed = requests.post(psc.metadata["token_endpoint"],
                              auth=("psc-demo-rp", "demo-rp-secret"),
                              data={"grant_type": "refresh_token",
                                    "refresh_token": tokens["refresh_token"]}, timeout=10)
    assert refreshed.status_code == 400 and refreshed.json()["error"] == "invalid_grant"


def test_refreshing_tokens_keeps_the_sso_session_alive(live):
    psc = PscActions(live.issuer)
    _, tokens = psc.full_login()
    sid = psc.verify(tokens["id_token"])["sid"]
    settings = live.app.extensions["psc_idp"].settings.session
    long_ago = utcnow() - timedelta(seconds=settings.idle_timeout - 10)
    _age_session(live, sid, last_seen_at=long_ago)
    refreshed = requests.post(psc.metadata["token_endpoint"],
                              auth=("psc-demo-rp", "demo-rp-secret"),
                              data={"grant_type": "refresh_token",
                                    "refresh_token": tokens["refresh_token"]}, timeout=10)
    assert refreshed.status_code == 200, refreshed.text
    with live.app.app_context():
        assert db.session.get(IdpSession, sid).last_seen_at > long_ago


def test_admin_api_logout_fans_out_to_back_channel(live, receivers):
    receiver, base = receivers()
    client_id, secret, redirect_uri = register(
        live.app, "bc-rp", port=7501, backchannel_logout_uri=base + "/bc")
    psc = PscActions(live.issuer)
    _, tokens = psc.full_login(psc.client(client_id, secret, redirect_uri))
    sid = psc.verify(tokens["id_token"])["sid"]
    ended = requests.delete(f"{live.base_url}/api/admin/sessions/{sid}", timeout=10)
    assert ended.json() == {"sid": sid, "ended": True, "backchannel_deliveries": 1}
    posts = receiver.wait_for(1)
    assert len(posts) == 1
    claims = psc.verify(posts[0]["logout_token"])
    assert claims["sid"] == sid and claims["aud"] == "bc-rp"
