"""Single logout over real HTTP: RP-initiated logout fans out to every RP of the session.

Logout tokens are checked with PyJWT (an independent JWT library) against the provider's JWKS,
as an RP would (Back-Channel Logout 1.0 §2.6).
"""

from __future__ import annotations

import re

import jwt as pyjwt
import requests
from authlib.common.urls import add_params_to_uri

from psc_idp.db import db
from psc_idp.sessions.models import IdpSession, LogoutDelivery
from tests.psc_actions import PscActions, query
from tests.sso.conftest import register, wait_until

EVENT = "http://schemas.openid.net/event/backchannel-logout"
FAST_RETRIES = {"session": {"backchannel_backoff": 0.2, "backchannel_attempts": 3,
                            "backchannel_timeout": 2.0}}


def _two_rps(live, receivers, statuses=(None, None), frontchannel=False):
    """Two RPs with back-channel endpoints, both signed in through one SSO session."""
    psc = PscActions(live.issuer)
    rps = []
    for index, status in enumerate(statuses):
        receiver, base = receivers(status)
        extra = {"backchannel_logout_uri": base + "/bc",
                 "backchannel_logout_session_required": True}
        if frontchannel:
            extra["frontchannel_logout_uri"] = base + "/fc?tenant=a"
        client_id, secret, redirect_uri = register(live.app, f"rp-{index}", port=7300 + index,
                                                   **extra)
        rps.append((psc.client(client_id, secret, redirect_uri), receiver))
    tokens = [psc.full_login(rp)[1] for rp, _ in rps]
    return psc, rps, tokens


def _logout(psc: PscActions, id_token: str, **extra: str) -> requests.Response:
    url = add_params_to_uri(psc.metadata["end_session_endpoint"],
                            [("id_token_hint", id_token), *extra.items()])
    return psc.open(url)


def _verify_logout_token(psc: PscActions, token: str, client_id: str) -> dict:
    signing_key = pyjwt.PyJWKClient(psc.metadata["jwks_uri"]).get_signing_key_from_jwt(token)
    claims = pyjwt.decode(token, signing_key.key, algorithms=["RS256"], audience=client_id,
                          issuer=psc.issuer, options={"require": ["iat", "exp", "jti"]})
    assert pyjwt.get_unverified_header(token)["typ"] == "logout+jwt"
    return claims


def test_logout_tokens_reach_every_rp_and_verify_with_pyjwt(live, receivers):
    psc, rps, tokens = _two_rps(live, receivers)
    id_claims = psc.verify(tokens[0]["id_token"])
    answer = _logout(psc, tokens[0]["id_token"])
    assert answer.status_code == 200 and 'id="logged-out"' in answer.text
    jtis = set()
    for index, (_, receiver) in enumerate(rps):
        posts = receiver.wait_for(1)
        assert len(posts) == 1 and posts[0]["path"] == "/bc"
        claims = _verify_logout_token(psc, posts[0]["logout_token"], f"rp-{index}")
        assert claims["sid"] == id_claims["sid"] and claims["sub"] == id_claims["sub"]
        assert claims["events"] == {EVENT: {}} and "nonce" not in claims
        jtis.add(claims["jti"])
    assert len(jtis) == 2
    with live.app.app_context():
        assert db.session.get(IdpSession, id_claims["sid"]).ended_reason == "rp_logout"
        def statuses():
            db.session.commit()
            found = sorted(r.status for r in db.session.scalars(db.select(LogoutDelivery)))
            return found if found == ["delivered", "delivered"] else None

        assert wait_until(statuses) == ["delivered", "delivered"]


def test_tokens_of_the_session_are_revoked_but_not_offline_ones(live, receivers):
    psc, rps, tokens = _two_rps(live, receivers)
    rp, _ = rps[0]
    _, offline = psc.full_login(rp, scope="openid scope_all offline_access")
    _logout(psc, tokens[0]["id_token"])
    introspect = psc.metadata["introspection_endpoint"]
    answer = requests.post(introspect, auth=("rp-0", "sso-test-secret"),
                           data={"token": tokens[0]["access_token"]}, timeout=10).json()
    assert answer["active"] is False
    refreshed = requests.post(psc.metadata["token_endpoint"], auth=("rp-0", "sso-test-secret"),
                              data={"grant_type": "refresh_token",
                                    "refresh_token": tokens[0]["refresh_token"]}, timeout=10)
    assert refreshed.status_code == 400 and refreshed.json()["error"] == "invalid_grant"
    kept = requests.post(psc.metadata["token_endpoint"], auth=("rp-0", "sso-test-secret"),
                         data={"grant_type": "refresh_token",
                               "refresh_token": offline["refresh_token"]}, timeout=10)
    assert kept.status_code == 200, kept.text


def test_an_rp_answering_500_then_200_gets_the_token_again(make_live, receivers):
    live = make_live(**FAST_RETRIES)
    psc, rps, tokens = _two_rps(live, receivers, statuses=([500], None))
    _logout(psc, tokens[0]["id_token"])
    flaky = rps[0][1].wait_for(2)
    assert len(flaky) == 2
    first, second = (_verify_logout_token(psc, p["logout_token"], "rp-0") for p in flaky)
    assert first["sid"] == second["sid"]
    with live.app.app_context():
        from psc_idp.audit import AuditEvent

        def delivered():
            return db.session.scalar(db.select(LogoutDelivery).where(
                LogoutDelivery.client_id == "rp-0", LogoutDelivery.status == "delivered"))

        row = wait_until(lambda: (db.session.commit(), delivered())[1])
        assert row is not None and row.attempts == 2
        events = [e.event for e in db.session.scalars(db.select(AuditEvent).where(
            AuditEvent.client_id == "rp-0", AuditEvent.event.like("logout.%"))
            .order_by(AuditEvent.id))]
        assert events == ["logout.backchannel_retry", "logout.backchannel_delivered"]


def test_a_down_rp_does_not_hold_up_the_others(make_live, receivers):
    live = make_live(session={"backchannel_backoff": 60.0, "backchannel_attempts": 3,
                              "backchannel_timeout": 2.0})
    psc, rps, tokens = _two_rps(live, receivers)
    with live.app.app_context():  # rp-0's endpoint is now a port nobody listens on
        from psc_idp.oidc.models import Client
        from tests.conftest import free_port
        db.session.get(Client, "rp-0").backchannel_logout_uri = \
            f"http://127.0.0.1:{free_port()}/bc"
        db.session.commit()
    answer = _logout(psc, tokens[0]["id_token"])
    assert answer.status_code == 200
    assert len(rps[1][1].wait_for(1)) == 1  # the live RP was told
    with live.app.app_context():
        def first_failure():
            db.session.commit()
            return db.session.scalar(db.select(LogoutDelivery).where(
                LogoutDelivery.client_id == "rp-0", LogoutDelivery.attempts == 1))

        down = wait_until(first_failure)
        # one failed attempt, its retry a minute away: the other RP did not wait for it
        assert down is not None and down.status == "pending" and down.last_error
        def good_delivered():
            db.session.commit()
            return db.session.scalar(db.select(LogoutDelivery).where(
                LogoutDelivery.client_id == "rp-1", LogoutDelivery.status == "delivered"))

        good = wait_until(good_delivered)
        assert good is not None and good.attempts == 1
        db.session.refresh(down)
        assert down.status == "pending" and down.attempts == 1  # still waiting for its retry
        session = db.session.get(IdpSession, psc.verify(tokens[0]["id_token"])["sid"])
        assert session.ended_at is not None


def test_an_rp_that_keeps_failing_is_given_up_on_and_audited(make_live, receivers):
    live = make_live(**FAST_RETRIES)
    psc, rps, tokens = _two_rps(live, receivers, statuses=([503, 503, 503], None))
    _logout(psc, tokens[1]["id_token"])
    assert len(rps[0][1].wait_for(3)) == 3
    with live.app.app_context():
        def failed():
            db.session.commit()
            return db.session.scalar(db.select(LogoutDelivery).where(
                LogoutDelivery.client_id == "rp-0", LogoutDelivery.status == "failed"))

        row = wait_until(failed)
        assert row is not None and row.attempts == 3 and row.last_error == "HTTP 503"
        from psc_idp.audit import AuditEvent
        assert db.session.scalar(db.select(AuditEvent).where(
            AuditEvent.event == "logout.backchannel_failed")).client_id == "rp-0"


def test_front_channel_iframes_then_the_post_logout_redirect(live, receivers):
    psc, rps, tokens = _two_rps(live, receivers, frontchannel=True)
    sid = psc.verify(tokens[0]["id_token"])["sid"]
    page = _logout(psc, tokens[0]["id_token"], post_logout_redirect_uri="http://127.0.0.1:7300/",
                   state="st-1", ui_locales="en")
    assert page.status_code == 200 and "You are logged out" in page.text
    frames = re.findall(r'<iframe class="frontchannel-logout" src="([^"]+)"', page.text)
    assert len(frames) == 2
    for frame in frames:
        params = query(frame.replace("&amp;", "&"))
        assert params == {"tenant": "a", "iss": live.issuer, "sid": sid}
    assert 'data-target="http://127.0.0.1:7300/?state=st-1"' in page.text
    assert psc.browser.cookies.get("PSC_IDP_SESSION") is None


def test_logout_without_frontchannel_redirects_at_once(live, receivers):
    psc, _, tokens = _two_rps(live, receivers)
    answer = _logout(psc, tokens[0]["id_token"], post_logout_redirect_uri="http://127.0.0.1:7300/",
                     state="st-2")
    assert answer.status_code == 302
    assert answer.headers["Location"] == "http://127.0.0.1:7300/?state=st-2"


def test_another_professional_on_the_same_browser_logs_the_first_out(live, receivers):
    psc, rps, tokens = _two_rps(live, receivers)
    psc.full_login(rps[0][0], national_id="810099900119", prompt="login")
    posts = rps[1][1].wait_for(1)
    assert len(posts) == 1
    claims = _verify_logout_token(psc, posts[0]["logout_token"], "rp-1")
    assert claims["sid"] == psc.verify(tokens[0]["id_token"])["sid"]
