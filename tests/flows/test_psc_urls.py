"""An RP written for the real PSC sandbox, with only the host names replaced, signs in.

The URLs below are PSC's, copied from the reference (§1); the RP does not use discovery (as
mod_auth_openidc set-ups that hard-code the wallet endpoint do).
"""

from __future__ import annotations

import secrets

import pytest
from authlib.integrations.requests_client import OAuth2Session

from tests.psc_actions import GP, PscActions

PSC_BAS = {
    "issuer": "https://auth.bas.psc.esante.gouv.fr/auth/realms/esante-wallet",
    "authorize": "https://wallet.bas.psc.esante.gouv.fr/auth",
    "token": "https://auth.bas.psc.esante.gouv.fr/auth/realms/esante-wallet/protocol/"
             "openid-connect/token",
    "userinfo": "https://auth.bas.psc.esante.gouv.fr/auth/realms/esante-wallet/protocol/"
                "openid-connect/userinfo",
    "jwks": "https://auth.bas.psc.esante.gouv.fr/auth/realms/esante-wallet/protocol/"
            "openid-connect/certs",
    "discovery": "https://auth.bas.psc.esante.gouv.fr/auth/realms/esante-wallet/"
                 ".well-known/wallet-openid-configuration",
}


def _rehost(url: str, auth_base: str, wallet_base: str) -> str:
    return (url.replace("https://auth.bas.psc.esante.gouv.fr", auth_base)
            .replace("https://wallet.bas.psc.esante.gouv.fr", wallet_base))


@pytest.mark.one_backend
def test_rp_with_hard_coded_psc_urls(live):
    urls = {k: _rehost(v, live.base_url, live.base_url) for k, v in PSC_BAS.items()}
    psc = PscActions(urls["issuer"])
    rp = OAuth2Session("psc-demo-rp", "demo-rp-secret", scope="openid scope_all",
                       redirect_uri="http://127.0.0.1:5001/callback",
                       code_challenge_method="S256")
    verifier = secrets.token_urlsafe(48)
    url, state = rp.create_authorization_url(urls["authorize"], code_verifier=verifier,
                                             nonce="n-" + secrets.token_hex(8),
                                             acr_values="eidas1")
    page = psc.open(url)
    callback = psc.pick_persona(page, GP).headers["Location"]
    token = rp.fetch_token(urls["token"], authorization_response=callback,
                           code_verifier=verifier, state=state)
    claims = psc.verify(token["id_token"])
    assert claims["iss"] == urls["issuer"] and claims["acr"] == "eidas1"
    info = rp.get(urls["userinfo"]).json()
    assert info["SubjectNameID"] == GP
    assert info["SubjectRefPro"]["exercices"][0]["codeProfession"] == "10"


@pytest.mark.one_backend
def test_wallet_host_separate_from_issuer_host(make_live):
    """PSC serves /auth on wallet.* and the realm on auth.*: two host names, one process."""
    from tests.conftest import free_port

    port = free_port()
    live = make_live(port=port, wallet_url=f"http://localhost:{port}")
    psc = PscActions(live.issuer)
    assert psc.metadata["authorization_endpoint"] == f"http://localhost:{port}/auth"
    assert psc.metadata["token_endpoint"].startswith(f"http://127.0.0.1:{port}/")
    rp = psc.client()
    start = psc.start(rp)
    assert start.url.startswith(f"http://localhost:{port}/auth?")
    page = psc.open(start.url)
    assert page.status_code == 200
    action = page.text.split('action="', 1)[1].split('"', 1)[0]
    csrf = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    done = psc.browser.post(f"http://localhost:{port}{action}",
                            data={"csrf": csrf, "national_id": GP}, allow_redirects=False)
    token = psc.tokens(rp, start, done.headers["Location"])
    assert psc.verify(token["id_token"])["iss"] == live.issuer
