"""The portal's pages with Flask's test client (both backends): anonymous visitors are sent to
the provider's login, people without the habilitation are refused, forms need the session's
CSRF token, bad input is shown again in French with nothing written."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from psc_idp.audit import AuditEvent
from psc_idp.db import db
from psc_idp.directory.demo_data import demo_rpps
from psc_idp.directory.national_id import national_id_from_rpps
from psc_idp.rpps_plus.models import RppsPlusRegistration
from tests.rpps_plus.helpers import (
    AUTHORITY_ID,
    EHPAD,
    IME,
    MANAGER_ID,
    NOBODY_ID,
    csrf_of,
    form,
    sign_in,
)

REGISTER = f"/rpps-plus/structures/{EHPAD}/enregistrer"


@pytest.fixture
def app(make_app):
    return make_app()


def count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(db.func.count()).select_from(RppsPlusRegistration))


def test_anonymous_visitors_are_sent_to_the_providers_login(app):
    client = app.test_client()
    for path in ("/rpps-plus/", REGISTER, f"/rpps-plus/structures/{EHPAD}/situations"):
        response = client.get(path)
        assert response.status_code == 303
        assert response.headers["Location"].startswith("/rpps-plus/connexion?next=")
    start = client.get("/rpps-plus/connexion?next=" + REGISTER)
    assert "/auth/realms/esante-wallet/protocol/openid-connect/auth?" in \
        start.headers["Location"]
    assert "client_id=psc-rpps-plus-portal" in start.headers["Location"]
    # A POST without a session is not performed either.
    refused = client.post(REGISTER, data=form())
    assert refused.status_code == 303 and count(app) == 0
    # Back from the login with a forged state or code: nothing.
    assert client.get("/rpps-plus/connexion/retour?code=x&state=y").status_code == 400


def test_after_login_the_visitor_lands_where_they_were_going(app):
    client = app.test_client()
    page = sign_in(client, MANAGER_ID, start=REGISTER)
    assert page.status_code == 200 and 'id="registration-form"' in page.get_data(as_text=True)
    assert "EHPAD LES TILLEULS" in page.get_data(as_text=True)


def test_the_return_from_login_serves_once(app):
    client = app.test_client()
    sign_in(client, MANAGER_ID)
    # An open redirect through ?next= is not possible either.
    start = client.get("/rpps-plus/connexion?next=//evil.example/")
    authorize = client.get(start.headers["Location"])  # SSO: straight back with a code
    back = authorize.headers["Location"]
    again_path = back.split("127.0.0.1", 1)[-1].split(":", 1)[-1]
    again_path = again_path[again_path.index("/"):]
    first = client.get(again_path)
    assert first.status_code == 303 and first.headers["Location"] == "/rpps-plus/"
    client.set_cookie("PSC_RPPS_PLUS_LOGIN", start.headers["Set-Cookie"].split("=", 1)[1]
                      .split(";", 1)[0], path="/rpps-plus")
    replay = client.get(again_path)
    assert replay.status_code == 400 and "déjà servi" in replay.get_data(as_text=True)


def test_a_person_without_habilitation_is_refused(app):
    client = app.test_client()
    page = sign_in(client, NOBODY_ID)
    assert page.status_code == 403
    assert "Accès refusé" in page.get_data(as_text=True)
    # The manager of the EHPAD has nothing to do at the IME.
    manager = app.test_client()
    sign_in(manager, MANAGER_ID)
    assert manager.get(f"/rpps-plus/structures/{IME}/enregistrer").status_code == 403
    assert manager.get(f"/rpps-plus/structures/{IME}/situations").status_code == 403
    assert manager.get("/rpps-plus/structures/NOPE/enregistrer").status_code == 403
    with app.app_context():
        refused = db.session.scalars(select(AuditEvent).filter_by(
            event="rpps_plus.access_refused")).all()
    assert {e.subject for e in refused} == {NOBODY_ID, MANAGER_ID}


def test_forms_need_the_sessions_csrf_token(app):
    client = app.test_client()
    sign_in(client, MANAGER_ID)
    for token in ("", "0" * 64):
        response = client.post(REGISTER, data={**form(), "csrf": token})
        assert response.status_code == 400 and "expiré" in response.get_data(as_text=True)
    assert count(app) == 0


def test_bad_input_is_shown_again_in_french_and_nothing_is_written(app):
    client = app.test_client()
    csrf = csrf_of(sign_in(client, MANAGER_ID, start=REGISTER))
    response = client.post(REGISTER, data={**form(birth_place_code="ABC", role_code="GENR01",
                                                  contact_email="x", family_name="Dupont"),
                                           "csrf": csrf})
    text = response.get_data(as_text=True)
    assert response.status_code == 400
    assert 'id="error-birth_place_code"' in text and "Code INSEE" in text
    assert 'id="error-role_code"' in text and 'id="error-contact_email"' in text
    assert 'value="Dupont"' in text  # what was typed is kept
    assert count(app) == 0
    for junk in ({"birth_date": "9" * 5000}, {"profession_code": "<script>"}):
        odd = client.post(REGISTER, data={**form(**junk), "csrf": csrf})
        assert odd.status_code == 400 and "<script>" not in odd.get_data(as_text=True)


def test_register_then_the_authority_validates_on_its_page(app):
    manager = app.test_client()
    csrf = csrf_of(sign_in(manager, MANAGER_ID, start=REGISTER))
    done = manager.post(REGISTER, data={**form(), "csrf": csrf})
    assert done.status_code == 303
    shown = manager.get(done.headers["Location"])
    text = shown.get_data(as_text=True)
    assert 'id="submitted"' in text and 'data-status="submitted"' in text
    assert 'id="validate"' not in text  # the manager does not decide
    uid = done.headers["Location"].split("/demandes/")[1].split("?")[0]
    assert manager.post(f"/rpps-plus/demandes/{uid}/valider",
                        data={"csrf": csrf}).status_code == 403

    authority = app.test_client()
    home = sign_in(authority, AUTHORITY_ID).get_data(as_text=True)
    assert f'data-uid="{uid}"' in home
    page = authority.get(f"/rpps-plus/demandes/{uid}")
    token = csrf_of(page)
    validated = authority.post(f"/rpps-plus/demandes/{uid}/valider", data={"csrf": token})
    assert validated.status_code == 303
    result = authority.get(f"/rpps-plus/demandes/{uid}").get_data(as_text=True)
    assert 'data-status="validated"' in result and 'id="rpps"' in result
    twice = authority.post(f"/rpps-plus/demandes/{uid}/valider", data={"csrf": token})
    assert twice.status_code == 409 and "déjà été traitée" in twice.get_data(as_text=True)


def test_refusal_needs_a_reason(app):
    manager = app.test_client()
    csrf = csrf_of(sign_in(manager, MANAGER_ID, start=REGISTER))
    uid = manager.post(REGISTER, data={**form(), "csrf": csrf}).headers["Location"] \
        .split("/demandes/")[1].split("?")[0]
    authority = app.test_client()
    sign_in(authority, AUTHORITY_ID)
    token = csrf_of(authority.get(f"/rpps-plus/demandes/{uid}"))
    empty = authority.post(f"/rpps-plus/demandes/{uid}/refuser", data={"csrf": token})
    assert empty.status_code == 400 and "motif" in empty.get_data(as_text=True)
    refused = authority.post(f"/rpps-plus/demandes/{uid}/refuser",
                             data={"csrf": token, "reason": "Erreur de structure"})
    assert refused.status_code == 303
    page = authority.get(f"/rpps-plus/demandes/{uid}").get_data(as_text=True)
    assert 'data-status="refused"' in page and "Erreur de structure" in page


def test_the_manager_ends_a_situation(app):
    manager = app.test_client()
    page = sign_in(manager, MANAGER_ID, start=f"/rpps-plus/structures/{EHPAD}/situations")
    text = page.get_data(as_text=True)
    # Sandrine BOUCHER, a demo RPPS+ aide-soignante of the EHPAD, among the others.
    before = text.count('class="situation"')
    boucher = national_id_from_rpps(demo_rpps(20))
    activity = int(text.split(f'data-national-id="{boucher}" data-activity="')[1].split('"')[0])
    csrf = csrf_of(page)
    bad = manager.post(f"/rpps-plus/situations/{activity}/terminer",
                       data={"csrf": csrf, "ended_on": "hier"})
    assert bad.status_code == 400 and "Date de fin invalide" in bad.get_data(as_text=True)
    ended = manager.post(f"/rpps-plus/situations/{activity}/terminer", data={"csrf": csrf})
    assert ended.status_code == 303
    after = manager.get(ended.headers["Location"]).get_data(as_text=True)
    assert after.count('class="situation"') == before - 1 and 'id="ended"' in after
    again = manager.post(f"/rpps-plus/situations/{activity}/terminer", data={"csrf": csrf})
    assert again.status_code == 400 and "déjà terminée" in again.get_data(as_text=True)
    other = app.test_client()
    sign_in(other, NOBODY_ID)
    assert other.post(f"/rpps-plus/situations/{activity}/terminer",
                      data={"csrf": csrf}).status_code in (400, 403)


def test_the_portal_follows_the_idp_session(app):
    from psc_idp.db import utcnow
    from psc_idp.sessions.models import IdpSession

    client = app.test_client()
    home = sign_in(client, MANAGER_ID).get_data(as_text=True)
    assert 'id="my-sessions" href="/auth/realms/esante-wallet/account/sessions"' in home
    with app.app_context():  # a logout anywhere ends the IdP session
        for session in db.session.scalars(select(IdpSession)):
            session.ended_at = utcnow()
        db.session.commit()
    again = client.get("/rpps-plus/")
    assert again.status_code == 303 and again.headers["Location"].startswith(
        "/rpps-plus/connexion")


def test_odd_addresses_are_answered_in_french_never_a_500(app):
    client = app.test_client()
    csrf = csrf_of(sign_in(client, MANAGER_ID, start=REGISTER))
    for method, path, status in (
            ("post", f"/rpps-plus/situations/{10**30}/terminer", 404),
            ("post", "/rpps-plus/situations/-1/terminer", 404),
            ("get", "/rpps-plus/demandes/" + "x" * 3000, 404),
            ("post", "/rpps-plus/demandes/%00%ff/valider", 404),
            ("get", "/rpps-plus/structures/" + "é" * 500 + "/enregistrer", 403)):
        response = getattr(client, method)(path, data={"csrf": csrf})
        assert response.status_code == status, (path, response.status_code)
        assert "<h1>" in response.get_data(as_text=True)


@pytest.mark.one_backend
def test_the_home_page_links_the_portal_in_demo_mode(app, make_app):
    import re

    page = app.test_client().get("/").get_data(as_text=True)
    link = re.search(r'<a id="link-rpps-plus" href="([^"]+)">Portail RPPS\+</a>', page)
    assert link and link.group(1).endswith("/rpps-plus/") and 'id="demo-links"' in page
    assert app.test_client().get("/rpps-plus/").status_code == 303  # to the provider's login
    production = make_app(mode="production", authenticators={"ecps": {}}, demo=False)
    assert "link-rpps-plus" not in production.test_client().get("/").get_data(as_text=True)
