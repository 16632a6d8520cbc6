"""CIBA (poll mode) as PSC exposes it, over real HTTP, on both backends.

The relying party is built from Authlib's client parts (``OAuth2Session``: its client
authentication for the backchannel request, ``fetch_token`` for the polls); the professional is
the virtual e-CPS phone (clients/ecps_app/phone.py). Waiting ``interval`` seconds between polls
moves the provider's clock (POST /api/admin/clock) instead of sleeping.
"""

from __future__ import annotations

import secrets
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests
from authlib.integrations.base_client import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from joserfc.jwk import RSAKey

from clients.ecps_app.phone import EcpsPhone
from psc_idp.audit import AuditEvent
from psc_idp.db import db
from psc_idp.oidc.models import Client
from psc_idp.sessions.models import IdpSession
from tests.negative import assert_json_error, guarded_live, register
from tests.psc_actions import DEMO_CLIENT, GP, PscActions, ShortLivedPrivateKeyJWT

CIBA = "urn:openid:params:grant-type:ciba"
NURSE = "810099900119"  # a demo professional without an e-CPS in these tests
BLOCKED = "810099900150"  # a demo professional whose means are blocked
PIN = "1234"
PSC_PENDING = {"error": "authorization_pending",
               "error_description": "The authorization request is still pending as the "
                                    "end-user hasn't yet been authenticated."}
PSC_REQUEST = {"scope": "openid scope_all", "acr_values": "eidas1", "binding_message": "42",
               "login_hint": GP, "channel": "MOBILE"}
OTHER = ("other-rp", "other-rp-secret", "http://127.0.0.1:5995/cb")


# ----------------------------------------------------------------------------- helpers
class CibaRp:
    """A CIBA relying party from Authlib's client parts: the session's client authentication
    signs the backchannel request, ``fetch_token`` polls the token endpoint."""

    def __init__(self, psc: PscActions, session: OAuth2Session):
        self.psc = psc
        self.session = session

    @property
    def auth(self) -> Any:
        return self.session.client_auth(self.session.token_endpoint_auth_method)

    def backchannel(self, **overrides: Any) -> requests.Response:
        data = {k: v for k, v in {**PSC_REQUEST, **overrides}.items() if v is not None}
        return self.session.post(self.psc.metadata["backchannel_authentication_endpoint"],
                                 data=data, auth=self.auth, withhold_token=True, timeout=10)

    def ack(self, **overrides: Any) -> dict[str, Any]:
        answer = self.backchannel(**overrides)
        assert answer.status_code == 200, answer.text
        assert answer.headers["Cache-Control"] == "no-store"
        return answer.json()

    def poll(self, auth_req_id: str) -> dict[str, Any]:
        return self.session.fetch_token(self.psc.metadata["token_endpoint"], grant_type=CIBA,
                                        auth_req_id=auth_req_id)

    def poll_error(self, auth_req_id: str) -> str:
        with pytest.raises(OAuthError) as refused:
            self.poll(auth_req_id)
        return refused.value.error

    def wait_for_tokens(self, ack: dict[str, Any], live: Any) -> tuple[dict[str, Any], list]:
        """The spec's polling loop; waiting ``interval`` moves the provider clock."""
        interval, seen = ack["interval"], []
        for _ in range(40):
            try:
                return self.poll(ack["auth_req_id"]), seen
            except OAuthError as refused:
                seen.append(refused.error)
                if refused.error == "slow_down":
                    interval += 5
                elif refused.error != "authorization_pending":
                    raise
            move_clock(live, interval)
            time.sleep(0.1)
        raise AssertionError(f"no tokens after 40 polls: {seen}")


def move_clock(live: Any, seconds: float) -> None:
    answer = requests.post(live.base_url + "/api/admin/clock", json={"advance_seconds": seconds},
                           timeout=10)
    assert answer.status_code == 200, answer.text


def raw_poll(psc: PscActions, auth_req_id: str | None, auth: Any = DEMO_CLIENT[:2],
             **extra: str) -> requests.Response:
    data = {"grant_type": CIBA, **extra}
    if auth_req_id is not None:
        data["auth_req_id"] = auth_req_id
    return requests.post(psc.metadata["token_endpoint"], data=data, auth=auth, timeout=10)


def raw_backchannel(psc: PscActions, data: Any, auth: Any = DEMO_CLIENT[:2]
                    ) -> requests.Response:
    return requests.post(psc.metadata["backchannel_authentication_endpoint"], data=data,
                         auth=auth, timeout=10)


def audit_events(live: Any, event: str) -> list[AuditEvent]:
    with live.app.app_context():
        return list(db.session.scalars(db.select(AuditEvent).where(AuditEvent.event == event)
                                       .order_by(AuditEvent.id)))


@pytest.fixture
def start(make_live):
    yield from guarded_live(make_live)


@pytest.fixture
def live(start):
    """A provider that must never answer 5xx during the test (checked at teardown)."""
    return start()


@pytest.fixture
def psc(live) -> PscActions:
    return PscActions(live.issuer)


@pytest.fixture
def rp(psc) -> CibaRp:
    return CibaRp(psc, OAuth2Session(DEMO_CLIENT[0], DEMO_CLIENT[1],
                                     token_endpoint_auth_method="client_secret_basic"))


@pytest.fixture
def phone(live, tmp_path) -> EcpsPhone:
    phone = EcpsPhone(live.base_url, tmp_path / "phone", GP)
    phone.activate(PIN)
    return phone


# ----------------------------------------------------------------------------- discovery
@pytest.mark.one_backend
def test_discovery_advertises_ciba_poll_mode(psc, live):
    meta = psc.metadata
    assert meta["backchannel_authentication_endpoint"] == \
        live.issuer + "/protocol/openid-connect/ext/ciba/auth"
    assert meta["backchannel_token_delivery_modes_supported"] == ["poll"]
    assert meta["backchannel_user_code_parameter_supported"] is False
    assert CIBA in meta["grant_types_supported"]
    assert "authorization_code" in meta["grant_types_supported"]


@pytest.mark.one_backend
def test_backchannel_endpoint_only_takes_post(psc):
    answer = requests.get(psc.metadata["backchannel_authentication_endpoint"], timeout=10)
    assert answer.status_code == 405


# ----------------------------------------------------------------------------- end to end
def test_ciba_end_to_end_with_authlib_client_and_phone(live, psc, rp, phone):
    answered: dict[str, Any] = {}

    def professional_approves() -> None:
        answered.update(phone.answer_next("approve", PIN, wait=15))

    ack = rp.ack()
    assert set(ack) == {"auth_req_id", "expires_in", "interval"}
    assert ack["expires_in"] == 120 and ack["interval"] == 5
    assert len(ack["auth_req_id"]) > 40
    assert rp.poll_error(ack["auth_req_id"]) == "authorization_pending"

    approver = threading.Thread(target=professional_approves)
    approver.start()
    move_clock(live, ack["interval"])
    token, polls = rp.wait_for_tokens(ack, live)
    approver.join(timeout=20)
    assert set(polls) <= {"authorization_pending"}

    # what the phone showed: the RP's name and PSC's two-digit binding message
    assert answered["status"] == "approved" and answered["origin"] == "ciba"
    assert answered["binding_code"] == "42"
    assert answered["service_name"] == "Dossier patient"

    assert token["token_type"] == "Bearer" and token["expires_in"] == 120
    assert token["refresh_token"] and token["session_state"]
    assert set(token["scope"].split()) >= {"openid", "scope_all"}

    id_token = psc.verify(token["id_token"])  # signature against the JWKS
    assert id_token["iss"] == live.issuer
    assert id_token["aud"] == DEMO_CLIENT[0] and id_token["azp"] == DEMO_CLIENT[0]
    assert id_token["acr"] == "eidas1" and id_token["amr"] == ["swk", "pin", "mfa"]
    assert isinstance(id_token["auth_time"], int)
    assert id_token["auth_time"] <= id_token["iat"] <= time.time() + 5
    assert id_token["iat"] - id_token["auth_time"] < 120
    assert id_token["preferred_username"] == GP and id_token["sub"].endswith(":" + GP)
    assert id_token["sid"] == token["session_state"] and "nonce" not in id_token
    assert id_token["at_hash"]

    access = psc.verify(token["access_token"])
    assert access["authMode"] == "MOBILE" and access["acr"] == "eidas1"
    assert access["azp"] == DEMO_CLIENT[0] and access["sid"] == id_token["sid"]

    info = rp.session.get(psc.metadata["userinfo_endpoint"], timeout=10).json()
    assert info["SubjectNameID"] == GP and "authMode" not in info  # 2024 userinfo shape

    # single use: the same auth_req_id again is invalid_grant
    assert rp.poll_error(ack["auth_req_id"]) == "invalid_grant"

    # the grant behaves as any other: the refresh token rotates
    refreshed = rp.session.refresh_token(psc.metadata["token_endpoint"],
                                         refresh_token=token["refresh_token"])
    assert psc.verify(refreshed["id_token"])["sid"] == id_token["sid"]

    # a cookie-less IdP session carries sid/session_state
    with live.app.app_context():
        session = db.session.get(IdpSession, id_token["sid"])
        assert session is not None and session.authenticator == "ecps-ciba"
        assert session.auth_mode == "MOBILE" and session.ended_at is None
    # the professional sees it on the phone: the session and the client it served
    sessions = phone._call("GET", "/me/sessions")["sessions"]
    assert {"sid": id_token["sid"], "clients": [DEMO_CLIENT[0]]}.items() <= \
        next(s for s in sessions if s["sid"] == id_token["sid"]).items()
    requested = audit_events(live, "ciba.requested")
    assert len(requested) == 1 and requested[0].subject == GP
    assert requested[0].details["binding_code"] == "42"
    assert audit_events(live, "ciba.pending")
    logins = audit_events(live, "login.success")
    assert [e.details["authenticator"] for e in logins] == ["ecps-ciba"]
    issued = audit_events(live, "token.issued")
    assert issued[0].details["grant_type"] == CIBA


def test_authorization_pending_is_psc_exact_body(live, psc, rp, phone):
    ack = rp.ack()
    answer = raw_poll(psc, ack["auth_req_id"])
    assert answer.status_code == 400
    assert answer.headers["Content-Type"].startswith("application/json")
    assert answer.json() == PSC_PENDING
    assert answer.headers["Cache-Control"] == "no-store"


def test_approved_before_the_first_poll_gives_tokens_at_once(live, psc, rp, phone):
    ack = rp.ack(binding_message="07")
    assert phone.answer_next("approve", PIN, wait=5)["binding_code"] == "07"
    token = rp.poll(ack["auth_req_id"])
    assert psc.verify(token["access_token"])["authMode"] == "MOBILE"


def test_slow_down_and_the_interval_grows_by_five_seconds(live, psc, rp, phone):
    ack = rp.ack()
    auth_req_id = ack["auth_req_id"]
    assert rp.poll_error(auth_req_id) == "authorization_pending"
    assert rp.poll_error(auth_req_id) == "slow_down"  # interval is now 10 s
    move_clock(live, 6)
    slow = raw_poll(psc, auth_req_id)
    assert_json_error(slow, 400, "slow_down")  # 6 s < 10 s; interval is now 15 s
    move_clock(live, 11)
    assert rp.poll_error(auth_req_id) == "slow_down"  # 11 s < 15 s; now 20 s
    move_clock(live, 20)
    assert rp.poll_error(auth_req_id) == "authorization_pending"
    move_clock(live, 20)
    assert rp.poll_error(auth_req_id) == "authorization_pending"
    phone.answer_next("approve", PIN, wait=5)
    assert rp.poll(auth_req_id)["id_token"]  # approved: no slow_down even if fast


def test_expired_token_after_expires_in(live, psc, rp, phone):
    ack = rp.ack()
    assert rp.poll_error(ack["auth_req_id"]) == "authorization_pending"
    move_clock(live, ack["expires_in"] + 1)
    assert_json_error(raw_poll(psc, ack["auth_req_id"]), 400, "expired_token")
    assert phone.pending() == []  # the phone no longer offers it


def test_approved_but_collected_too_late_is_expired_token(live, psc, rp, phone):
    ack = rp.ack()
    phone.answer_next("approve", PIN, wait=5)
    move_clock(live, ack["expires_in"] + 1)
    assert rp.poll_error(ack["auth_req_id"]) == "expired_token"


def test_requested_expiry_is_honoured_within_limits(live, psc, rp, phone):
    short = rp.ack(requested_expiry="30")
    assert short["expires_in"] == 30
    long = rp.ack(requested_expiry="100000")
    assert long["expires_in"] == 600
    move_clock(live, 31)
    assert rp.poll_error(short["auth_req_id"]) == "expired_token"
    assert rp.poll_error(long["auth_req_id"]) == "authorization_pending"
    for bad in ("0", "-5", "abc", "1.5", "99999999999"):
        assert_json_error(rp.backchannel(requested_expiry=bad), 400, "invalid_request")


def test_access_denied_when_the_professional_denies(live, psc, rp, phone):
    ack = rp.ack()
    denied = phone.answer_next("deny", PIN, wait=5)
    assert denied["status"] == "denied"
    body = assert_json_error(raw_poll(psc, ack["auth_req_id"]), 400, "access_denied")
    assert "denied" in body["error_description"]
    refusals = audit_events(live, "token.refused")
    assert refusals[-1].details["error"] == "access_denied"


# ----------------------------------------------------------------------------- invalid_grant
def test_invalid_grant_for_unknown_tampered_or_malformed_ids(live, psc, rp, phone):
    ack = rp.ack()
    challenge_id, _, secret = ack["auth_req_id"].partition(".")
    for auth_req_id in (f"{uuid.uuid4()}.{secret}", f"{challenge_id}.{secrets.token_urlsafe(32)}",
                        challenge_id, "x" * 500, "not-an-id", f"{challenge_id}."):
        assert_json_error(raw_poll(psc, auth_req_id), 400, "invalid_grant")
    assert_json_error(raw_poll(psc, None), 400, "invalid_request")
    assert_json_error(raw_poll(psc, ack["auth_req_id"]), 400, "authorization_pending")


def test_invalid_grant_for_another_clients_auth_req_id(live, psc, rp, phone):
    register(live.app, client_id=OTHER[0], client_secret=OTHER[1], redirect_uris=[OTHER[2]],
             name="Autre service")
    ack = rp.ack()
    stolen = raw_poll(psc, ack["auth_req_id"], auth=OTHER[:2])
    assert_json_error(stolen, 400, "invalid_grant")
    # the owner's request is untouched
    phone.answer_next("approve", PIN, wait=5)
    assert rp.poll(ack["auth_req_id"])["access_token"]


def test_invalid_grant_after_the_auth_req_id_was_used(live, psc, rp, phone):
    ack = rp.ack()
    phone.answer_next("approve", PIN, wait=5)
    first = raw_poll(psc, ack["auth_req_id"])
    assert first.status_code == 200, first.text
    assert_json_error(raw_poll(psc, ack["auth_req_id"]), 400, "invalid_grant")
    move_clock(live, 600)
    assert_json_error(raw_poll(psc, ack["auth_req_id"]), 400, "invalid_grant")


def test_simultaneous_polls_after_approval_give_tokens_once(live, psc, rp, phone):
    ack = rp.ack()
    phone.answer_next("approve", PIN, wait=5)
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: raw_poll(psc, ack["auth_req_id"]), range(4)))
    assert sorted(a.status_code for a in answers) == [200, 400, 400, 400]
    assert {a.json().get("error") for a in answers if a.status_code == 400} == {"invalid_grant"}


# ----------------------------------------------------------------------------- request errors
@pytest.mark.parametrize("hint", ["899999999999", "abc", "8" * 80, "810099900011", " "])
def test_unknown_user_id(live, rp, hint):
    body = assert_json_error(rp.backchannel(login_hint=hint), 400, "unknown_user_id")
    assert body["error_description"]
    refused = audit_events(live, "ciba.refused")
    assert refused[-1].details["error"] == "unknown_user_id"
    assert refused[-1].client_id == DEMO_CLIENT[0]


def test_bare_rpps_is_accepted_as_login_hint(live, rp, phone):
    assert rp.ack(login_hint=GP[1:])["auth_req_id"]


@pytest.mark.one_backend
@pytest.mark.parametrize("scope", ["scope_all", "profile email", "openidx"])
def test_invalid_scope_without_openid(live, rp, scope):
    assert_json_error(rp.backchannel(scope=scope), 400, "invalid_scope")


@pytest.mark.one_backend
def test_missing_scope_is_invalid_request(live, rp):
    assert_json_error(rp.backchannel(scope=None), 400, "invalid_request")


@pytest.mark.parametrize("message", ["1", "123", "ab", "4 2", "\uff14\uff12", "42\n", "-1"])
def test_invalid_binding_message(live, rp, phone, message):
    assert_json_error(rp.backchannel(binding_message=message), 400, "invalid_binding_message")


@pytest.mark.parametrize("message", ["00", "99"])
def test_binding_message_range_bounds(live, rp, phone, message):
    rp.ack(binding_message=message)
    assert phone.pending()[0]["binding_code"] == message


def test_without_binding_message_the_phone_shows_a_provider_code(live, rp, phone):
    rp.ack(binding_message=None)
    [pending] = phone.pending()
    assert len(pending["binding_code"]) == 2 and pending["binding_code"].isdigit()


def test_card_channel_without_a_card_is_access_denied(live, rp, phone):
    # channel=CARD is confirmed with the card (tests/cards/test_login_ciba.py), never on the
    # phone: without an active card it is refused at once
    body = assert_json_error(rp.backchannel(channel="CARD"), 403, "access_denied")
    assert "No usable CPx card" in body["error_description"]
    assert phone.pending() == []


@pytest.mark.one_backend
@pytest.mark.parametrize("channel", ["SMS", "mobile", "MOBILE,CARD"])
def test_unknown_channel_is_invalid_request(live, rp, channel):
    body = assert_json_error(rp.backchannel(channel=channel), 400, "invalid_request")
    assert "channel" in body["error_description"]


def test_channel_defaults_to_mobile(live, rp, phone):
    assert rp.ack(channel=None)["interval"] == 5


@pytest.mark.one_backend
@pytest.mark.parametrize("extra", [{"login_hint_token": "eyJ.x.y"}, {"id_token_hint": "eyJ.x.y"},
                                   {"login_hint": None}, {"login_hint": ""}])
def test_hints_other_than_login_hint_are_refused(live, rp, extra):
    body = assert_json_error(rp.backchannel(**extra), 400, "invalid_request")
    assert "login_hint" in body["error_description"]


@pytest.mark.one_backend
def test_duplicated_parameters_are_invalid_request(live, psc):
    data = list(PSC_REQUEST.items()) + [("login_hint", NURSE)]
    assert_json_error(raw_backchannel(psc, data), 400, "invalid_request")


@pytest.mark.one_backend
def test_signed_requests_and_user_code_are_refused(live, rp):
    assert_json_error(rp.backchannel(request="eyJ.x.y"), 400, "invalid_request")
    assert_json_error(rp.backchannel(user_code="1234"), 400, "invalid_request")


def test_blocked_means_or_no_usable_ecps_is_access_denied(live, rp):
    blocked = assert_json_error(rp.backchannel(login_hint=BLOCKED), 403, "access_denied")
    assert "blocked" in blocked["error_description"]
    no_ecps = assert_json_error(rp.backchannel(login_hint=NURSE), 403, "access_denied")
    assert "e-CPS" in no_ecps["error_description"]


# ----------------------------------------------------------------------------- client auth
@pytest.mark.one_backend
def test_bad_client_authentication_is_401(live, psc, rp, phone):
    """Keycloak's codes (the default psc profile): ``unauthorized_client`` for a known client
    without its secret, ``invalid_client`` for an unknown one; tests/fidelity/test_client_auth.py
    covers the strict profile's ``invalid_client`` for all."""
    for auth, error in (((DEMO_CLIENT[0], "wrong-secret"), "unauthorized_client"),
                        (("no-such-client", "x"), "invalid_client"), (None, "invalid_client")):
        assert_json_error(raw_backchannel(psc, PSC_REQUEST, auth=auth), 401, error)
    ack = rp.ack()
    assert_json_error(raw_poll(psc, ack["auth_req_id"], auth=(DEMO_CLIENT[0], "wrong")), 401,
                      "unauthorized_client")
    assert_json_error(raw_poll(psc, ack["auth_req_id"], auth=None,
                               client_id=DEMO_CLIENT[0]), 401, "unauthorized_client")
    assert phone.pending()  # the authenticated request went through; the others did not
    assert len(phone.pending()) == 1


@pytest.mark.one_backend
def test_public_client_is_refused(live, psc, phone):
    register(live.app, client_id="public-rp", auth_method="none",
             redirect_uris=["http://127.0.0.1:5994/cb"])
    data = dict(PSC_REQUEST, client_id="public-rp")
    assert_json_error(raw_backchannel(psc, data, auth=None), 401, "invalid_client")
    assert_json_error(raw_poll(psc, "x.y", auth=None, client_id="public-rp"), 401,
                      "invalid_client")
    with live.app.app_context():
        assert CIBA not in db.session.get(Client, "public-rp").grant_types
    assert phone.pending() == []


@pytest.mark.one_backend
def test_client_without_the_ciba_grant_is_unauthorized_client(live, psc, rp, phone):
    ack = rp.ack()
    with live.app.app_context():
        client = db.session.get(Client, DEMO_CLIENT[0])
        client.grant_types = ["authorization_code", "refresh_token"]
        db.session.commit()
    assert_json_error(rp.backchannel(), 400, "unauthorized_client")
    assert_json_error(raw_poll(psc, ack["auth_req_id"]), 400, "unauthorized_client")


def test_private_key_jwt_client(live, psc, phone):
    key = RSAKey.generate_key(2048, parameters={"kid": "ciba-key"})
    public = {"keys": [dict(key.as_dict(private=False), kid="ciba-key", use="sig")]}
    register(live.app, client_id="pkjwt-ciba", redirect_uris=["http://127.0.0.1:5993/cb"],
             auth_method="private_key_jwt", jwks=public, name="Service à clé")
    session = OAuth2Session("pkjwt-ciba", key.as_pem(private=True).decode(),
                            token_endpoint_auth_method=ShortLivedPrivateKeyJWT(
                                psc.metadata["token_endpoint"], alg="RS256"))
    rp = CibaRp(psc, session)
    ack = rp.ack(binding_message="13")
    assert rp.poll_error(ack["auth_req_id"]) == "authorization_pending"
    answered = phone.answer_next("approve", PIN, wait=5)
    assert answered["service_name"] == "Service à clé" and answered["binding_code"] == "13"
    token = rp.poll(ack["auth_req_id"])
    claims = psc.verify(token["id_token"])
    assert claims["aud"] == "pkjwt-ciba" and claims["amr"] == ["swk", "pin", "mfa"]
    # the secret of another client does not stand in for the key
    assert_json_error(raw_backchannel(psc, PSC_REQUEST, auth=("pkjwt-ciba", "secret")), 401,
                      "invalid_client")
