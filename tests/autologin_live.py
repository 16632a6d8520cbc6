"""Shared by the live-server login tests (tests/claims, tests/identity_kinds): a provider with
every demo identity loaded and one autologin client per userinfo shape, and the first leg of a
code flow signed in through ``login_hint``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from authlib.integrations.requests_client import OAuth2Session

from psc_idp.db import db
from psc_idp.directory.loader import load_demo_directory
from psc_idp.directory.lookup import forget_cached_summaries
from tests.negative import guarded_live, register
from tests.psc_actions import PscActions


def demo_live_with_shape_clients(make_live: Callable[..., Any], shape_clients: dict[str, str],
                                 redirect: str) -> Iterator[Any]:
    """Yields the live provider (for a fixture); client secret is ``<client_id>-secret``."""
    for start in guarded_live(make_live):
        live = start()
        with live.app.app_context():
            load_demo_directory(db.session, include_staff=True)
        forget_cached_summaries()
        for shape, client_id in shape_clients.items():
            register(live.app, client_id=client_id, client_secret=client_id + "-secret",
                     redirect_uris=[redirect], test_autologin=True, userinfo_shape=shape)
        yield live


def autologin_callback(psc: PscActions, client_id: str, redirect: str, national_id: str
                       ) -> tuple[OAuth2Session, Any, str]:
    """Starts a code flow for ``national_id``; the RP session, the start and the callback URL."""
    rp = psc.client(client_id, client_id + "-secret", redirect)
    start = psc.start(rp, login_hint=national_id)
    answer = psc.open(start.url)
    assert answer.status_code == 302, answer.text[:300]
    return rp, start, answer.headers["Location"]
