"""Logout without a browser (Keycloak ≥ 18's "non-browser logout"), in both fidelity profiles.

ANS's own samples log out from their server: ``psc-edc-proxy-esante`` (``PSCSessionService
.logout``: Nimbus ``LogoutRequest(endpoint, idToken)``, a GET with only ``id_token_hint``) and
``psc-client-app`` (``ProSanteConnectLogoutHandler``: ``RestTemplate.getForEntity`` of the
end-session URL with ``id_token_hint``), with no cookie, and they expect a 2xx. Keycloak
(``LogoutEndpoint.doBrowserLogout``) then ends the hint's user session and sends the back-channel
logout tokens. Here the RPs are real HTTP endpoints, the caller a plain ``requests`` call.
"""

from __future__ import annotations

import re
import time

import jwt as pyjwt
import pytest
import requests

from psc_idp.audit import AuditEvent
from psc_idp.db import db
from psc_idp.sessions.models import IdpSession, LogoutDelivery
from tests.psc_actions import PscActions, query
from tests.sso.conftest import SECRET, receivers, register, wait_until  # noqa: F401 (fixture)

EVENT = "http://schemas.openid.net/event/backchannel-logout"
METHODS = ("GET", "POST")


def _two_rps(live, receivers, frontchannel: bool = True):  # noqa: F811 (the fixture)
    """Two RPs with back- (and front-) channel logout URIs, signed in through one SSO session
    of the browser ``psc.browser``."""
    psc = PscActions(live.issuer)
    rps = []
    for index in range(2):
        receiver, base = receivers()
        extra = {"backchannel_logout_uri": base + "/bc",
                 "backchannel_logout_session_required": True}
        if frontchannel:
            extra["frontchannel_logout_uri"] = base + "/fc"
        client_id, secret, redirect_uri = register(live.app, f"rp-{index}", port=7400 + index,
                                                   **extra)
        rps.append((psc.client(client_id, secret, redirect_uri), receiver))
    tokens = [psc.full_login(rp)[1] for rp, _ in rps]
    return psc, rps, tokens


def _server_logout(psc: PscActions, method: str = "GET", **params: str) -> requests.Response:
    """What the RPs' servers send: no cookie, no redirect followed."""
    url = psc.metadata["end_session_endpoint"]
    if method == "POST":
        return requests.post(url, data=params, allow_redirects=False, timeout=10)
    return requests.get(url, params=params, allow_redirects=False, timeout=10)


def _refresh(psc: PscActions, client_id: str, refresh_token: str) -> requests.Response:
    return requests.post(psc.metadata["token_endpoint"], auth=(client_id, SECRET),
                         data={"grant_type": "refresh_token", "refresh_token": refresh_token},
                         timeout=10)


def _prompt_none(psc: PscActions, rp) -> dict[str, str]:
    """A prompt=none authorization from the browser that holds the (old) session cookie."""
    answer = psc.open(psc.start(rp, prompt="none").url)
    assert answer.status_code == 302, answer.text[:300]
    return query(answer.headers["Location"])


def _verify_logout_token(psc: PscActions, token: str, client_id: str) -> dict:
    signing_key = pyjwt.PyJWKClient(psc.metadata["jwks_uri"]).get_signing_key_from_jwt(token)
    claims = pyjwt.decode(token, signing_key.key, algorithms=["RS256"], audience=client_id,
                          issuer=psc.issuer, options={"require": ["iat", "exp", "jti", "sid"]})
    assert pyjwt.get_unverified_header(token)["typ"] == "logout+jwt"
    assert claims["events"] == {EVENT: {}} and "nonce" not in claims
    return claims


def _deliveries(app) -> int:
    with app.app_context():
        return len(db.session.scalars(db.select(LogoutDelivery)).all())


def _refusals(app) -> list[str]:
    with app.app_context():
        return [r.details.get("reason") for r in db.session.scalars(
            db.select(AuditEvent).where(AuditEvent.event == "logout.refused")
            .order_by(AuditEvent.id))]


def _sign(app, claims: dict) -> str:
    with app.app_context():
        return app.extensions["psc_idp"].keys.sign(claims)


def _assert_still_signed_in(psc: PscActions, rps, tokens) -> None:
    assert "code" in _prompt_none(psc, rps[0][0])
    assert _refresh(psc, "rp-0", tokens[0]["refresh_token"]).status_code == 200


# ----------------------------------------------------------------------------- the RPs' call
@pytest.mark.parametrize("method", METHODS)
def test_a_server_side_logout_with_only_the_hint_ends_the_session(fidelity_live, receivers,  # noqa: F811
                                                                  method):
    live = fidelity_live()
    psc, rps, tokens = _two_rps(live, receivers)
    sid = psc.verify(tokens[0]["id_token"])["sid"]
    assert psc.verify(tokens[1]["id_token"])["sid"] == sid  # one SSO session, two RPs

    answer = _server_logout(psc, method, id_token_hint=tokens[0]["id_token"])

    # Keycloak answers its "You are logged out" page, 200 (no post_logout_redirect_uri)
    assert answer.status_code == 200 and 'id="logged-out"' in answer.text
    assert "Vous êtes déconnecté" in answer.text
    frames = re.findall(r'<iframe class="frontchannel-logout" src="([^"]+)"', answer.text)
    assert len(frames) == 2
    assert all(query(f.replace("&amp;", "&")) == {"iss": live.issuer, "sid": sid}
               for f in frames)
    # both RPs are told by the back channel, with a logout token for that sid
    for index, (_, receiver) in enumerate(rps):
        posts = receiver.wait_for(1)
        assert [p["path"] for p in posts] == ["/bc"]
        claims = _verify_logout_token(psc, posts[0]["logout_token"], f"rp-{index}")
        assert claims["sid"] == sid
    # the refresh tokens of both RPs are refused, the browser's cookie no longer signs in
    for index in range(2):
        refreshed = _refresh(psc, f"rp-{index}", tokens[index]["refresh_token"])
        assert refreshed.status_code == 400 and refreshed.json()["error"] == "invalid_grant"
    assert _prompt_none(psc, rps[1][0])["error"] == "login_required"
    with live.app.app_context():
        session = db.session.get(IdpSession, sid)
        assert session.ended_reason == "rp_logout_non_browser"
        ended = db.session.scalar(db.select(AuditEvent).where(
            AuditEvent.event == "session.ended"))
        assert ended.details == {"sid": sid, "reason": "rp_logout_non_browser"}

    # the same call again (a retry, the other RP's logout): 200, nothing more sent
    again = _server_logout(psc, method, id_token_hint=tokens[1]["id_token"])
    assert again.status_code == 200 and 'id="logged-out"' in again.text
    assert "frontchannel-logout" not in again.text
    assert _deliveries(live.app) == 2
    assert _refusals(live.app) == []


def test_with_a_registered_post_logout_redirect_uri_it_redirects_with_state(
        fidelity_live, receivers):  # noqa: F811
    live = fidelity_live()
    psc, rps, tokens = _two_rps(live, receivers)
    answer = _server_logout(psc, id_token_hint=tokens[0]["id_token"],
                            post_logout_redirect_uri="http://127.0.0.1:7400/", state="st-9")
    # no browser session: a 302 at once, as Keycloak (front-channel needs the user's browser)
    assert answer.status_code == 302
    assert answer.headers["Location"] == "http://127.0.0.1:7400/?state=st-9"
    assert all(len(receiver.wait_for(1)) == 1 for _, receiver in rps)
    assert _refresh(psc, "rp-0", tokens[0]["refresh_token"]).status_code == 400
    # already logged out: the same redirect, no error (Keycloak's answer for a gone session)
    again = _server_logout(psc, "POST", id_token_hint=tokens[0]["id_token"],
                           post_logout_redirect_uri="http://127.0.0.1:7400/")
    assert again.status_code == 302 and again.headers["Location"] == "http://127.0.0.1:7400/"


def test_an_expired_hint_is_accepted(fidelity_live, receivers):  # noqa: F811
    live = fidelity_live()
    psc, rps, tokens = _two_rps(live, receivers, frontchannel=False)
    claims = psc.verify(tokens[0]["id_token"])
    now = int(time.time())
    expired = _sign(live.app, {**claims, "iat": now - 3600, "exp": now - 3480})
    with pytest.raises(pyjwt.ExpiredSignatureError):
        pyjwt.decode(expired, options={"verify_signature": False, "verify_exp": True})
    answer = _server_logout(psc, id_token_hint=expired)
    assert answer.status_code == 200 and 'id="logged-out"' in answer.text
    assert _refresh(psc, "rp-1", tokens[1]["refresh_token"]).status_code == 400
    assert all(len(receiver.wait_for(1)) == 1 for _, receiver in rps)


# ----------------------------------------------------------------------------- refusals
@pytest.mark.parametrize("method", METHODS)
def test_an_access_or_refresh_token_is_not_an_id_token_hint(fidelity_live, receivers,  # noqa: F811
                                                            method):
    live = fidelity_live()
    psc, rps, tokens = _two_rps(live, receivers, frontchannel=False)
    for kind, reason in (("access_token", "id_token_hint_not_an_id_token"),
                         ("refresh_token", "invalid_id_token_hint")):
        answer = _server_logout(psc, method, id_token_hint=tokens[0][kind])
        assert answer.status_code == 400, kind
        assert "Nous sommes désolés" in answer.text
        assert "Invalid parameter: id_token_hint" in answer.text
        assert _refusals(live.app)[-1] == reason
    _assert_still_signed_in(psc, rps, tokens)
    assert _deliveries(live.app) == 0


def test_a_hint_must_be_an_id_token_of_this_provider_for_a_known_client(fidelity_live,
                                                                        receivers):  # noqa: F811
    live = fidelity_live()
    psc, rps, tokens = _two_rps(live, receivers, frontchannel=False)
    claims = psc.verify(tokens[0]["id_token"])
    untyped = {k: v for k, v in claims.items() if k != "typ"}
    cases = [
        ("id_token_hint_not_an_id_token", {**claims, "typ": "Logout"}),
        ("id_token_hint_not_an_id_token", untyped),
        ("id_token_hint_other_issuer", {**claims, "iss": "https://elsewhere.example/realm"}),
        ("id_token_hint_unknown_client", {**claims, "azp": "ghost", "aud": "ghost"}),
    ]
    for reason, forged in cases:
        answer = _server_logout(psc, id_token_hint=_sign(live.app, forged))
        assert answer.status_code == 400, reason
        assert _refusals(live.app)[-1] == reason
    _assert_still_signed_in(psc, rps, tokens)


def test_a_client_id_other_than_the_hints_is_refused(fidelity_live, receivers):  # noqa: F811
    live = fidelity_live()
    psc, rps, tokens = _two_rps(live, receivers, frontchannel=False)
    answer = _server_logout(psc, id_token_hint=tokens[0]["id_token"], client_id="rp-1")
    assert answer.status_code == 400 and "Invalid parameter: id_token_hint" in answer.text
    assert _refusals(live.app) == ["client_id_mismatch"]
    _assert_still_signed_in(psc, rps, tokens)
    # the hint's own client_id is fine
    ok = _server_logout(psc, id_token_hint=tokens[0]["id_token"], client_id="rp-0")
    assert ok.status_code == 200
    assert _refresh(psc, "rp-0", tokens[0]["refresh_token"]).status_code == 400


@pytest.mark.parametrize("method", METHODS)
def test_an_empty_id_token_hint(fidelity_live, profile, receivers, method):  # noqa: F811
    """Keycloak refuses ``id_token_hint=`` ("Invalid parameter: id_token_hint", 400: the hint
    is present, so it must parse); the strict profile treats a parameter without a value as
    omitted (RFC 6749 §3.1). Neither ends anything."""
    live = fidelity_live()
    psc, rps, tokens = _two_rps(live, receivers, frontchannel=False)
    answer = _server_logout(psc, method, id_token_hint="")
    if profile == "psc":
        assert answer.status_code == 400 and "Invalid parameter: id_token_hint" in answer.text
        assert _refusals(live.app) == ["empty_id_token_hint"]
    else:  # as if absent: no cookie, no hint → the logged-out page, nothing to end
        assert answer.status_code == 200 and 'id="logged-out"' in answer.text
        assert _refusals(live.app) == []
    # with the browser's cookie: psc refuses again; strict asks the professional to confirm
    in_browser = psc.browser.get(psc.metadata["end_session_endpoint"] + "?id_token_hint=",
                                 allow_redirects=False, timeout=10)
    if profile == "psc":
        assert in_browser.status_code == 400
    else:
        assert in_browser.status_code == 200 and 'id="confirm-logout"' in in_browser.text
    _assert_still_signed_in(psc, rps, tokens)
    assert _deliveries(live.app) == 0


# ----------------------------------------------------------------------------- with a browser
def test_a_browser_holding_another_session_confirms_then_both_end(fidelity_live,
                                                                  receivers):  # noqa: F811
    """Keycloak forces the confirmation when the cookie names another session than the hint;
    confirmed, the hint's session ends (Keycloak) and so does the browser's (psc-idp)."""
    live = fidelity_live()
    psc, rps, tokens = _two_rps(live, receivers, frontchannel=False)
    other = PscActions(live.issuer)  # another browser, another professional
    _, other_tokens = other.full_login(rps[1][0], national_id="810099900119")
    page = other.browser.get(psc.metadata["end_session_endpoint"],
                             params={"id_token_hint": tokens[0]["id_token"]},
                             allow_redirects=False, timeout=10)
    assert page.status_code == 200 and 'id="confirm-logout"' in page.text
    _assert_still_signed_in(psc, rps, tokens)
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    done = other.browser.post(psc.metadata["end_session_endpoint"],
                              data={"csrf": csrf, "confirm": "yes",
                                    "id_token_hint": tokens[0]["id_token"]},
                              allow_redirects=False, timeout=10)
    assert done.status_code == 200 and 'id="logged-out"' in done.text
    assert _refresh(psc, "rp-0", tokens[0]["refresh_token"]).status_code == 400
    assert _refresh(psc, "rp-1", other_tokens["refresh_token"]).status_code == 400
    with live.app.app_context():
        reasons = {s.id: s.ended_reason for s in db.session.scalars(db.select(IdpSession))}
    assert reasons == {psc.verify(tokens[0]["id_token"])["sid"]: "rp_logout_non_browser",
                       other.verify(other_tokens["id_token"])["sid"]: "user_logout"}


def test_the_browser_of_the_hints_session_is_logged_out_as_before(fidelity_live,
                                                                  receivers):  # noqa: F811
    live = fidelity_live()
    psc, rps, tokens = _two_rps(live, receivers, frontchannel=False)
    answer = psc.browser.get(psc.metadata["end_session_endpoint"],
                             params={"id_token_hint": tokens[0]["id_token"],
                                     "post_logout_redirect_uri": "http://127.0.0.1:7400/"},
                             allow_redirects=False, timeout=10)
    assert answer.status_code == 302
    with live.app.app_context():
        session = db.session.get(IdpSession, psc.verify(tokens[0]["id_token"])["sid"])
        assert session.ended_reason == "rp_logout"
    assert wait_until(lambda: _deliveries(live.app) == 2)


# ----------------------------------------------------------------------------- CIBA (edc proxy)
def test_the_edc_proxys_ciba_session_is_ended_by_its_id_token(fidelity_live, tmp_path):
    """``psc-edc-proxy-esante`` signs in by CIBA (no browser at all) and logs out with the CIBA
    ID token as the hint: the session CIBA opened ends, its refresh token is refused."""
    from clients.ecps_app.phone import EcpsPhone
    from tests.psc_actions import DEMO_CLIENT, GP

    live = fidelity_live()
    psc = PscActions(live.issuer)
    phone = EcpsPhone(live.base_url, tmp_path / "phone", GP)
    phone.activate("1234")
    auth = DEMO_CLIENT[:2]
    ack = requests.post(psc.metadata["backchannel_authentication_endpoint"], auth=auth,
                        data={"scope": "openid scope_all", "acr_values": "eidas1",
                              "binding_message": "42", "login_hint": GP, "channel": "MOBILE"},
                        timeout=10)
    assert ack.status_code == 200, ack.text
    phone.answer_next("approve", "1234", wait=5)
    token = requests.post(psc.metadata["token_endpoint"], auth=auth, timeout=10,
                          data={"grant_type": "urn:openid:params:grant-type:ciba",
                                "auth_req_id": ack.json()["auth_req_id"]}).json()
    sid = psc.verify(token["id_token"])["sid"]
    answer = _server_logout(psc, id_token_hint=token["id_token"])
    assert answer.status_code == 200
    refreshed = requests.post(psc.metadata["token_endpoint"], auth=auth, timeout=10,
                              data={"grant_type": "refresh_token",
                                    "refresh_token": token["refresh_token"]})
    assert refreshed.status_code == 400 and refreshed.json()["error"] == "invalid_grant"
    with live.app.app_context():
        assert db.session.get(IdpSession, sid).ended_reason == "rp_logout_non_browser"
