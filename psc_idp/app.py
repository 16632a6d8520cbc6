"""``create_app``: the only place where psc-idp's packages are wired together.

Each package exposes ``init_app(app, provider)``; they share one ``Provider`` (in
``app.extensions["psc_idp"]``) holding the settings, keys and the plug-in points
(``interaction_handler``, ``discovery_extensions``, ``logout_listeners``).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, Response, request
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DataError
from werkzeug.exceptions import HTTPException

from . import login, mobile, oidc, pool_liveness, proxy
from .admin import api as admin_api
from .admin import pages as admin_pages
from .audit.logline import OneLineFormatter
from .authenticators import Authenticator, build_authenticators
from .authenticators.persona import PersonaAuthenticator
from .clock import Clock
from .config import Settings, load_settings
from .credentials.smtp import SmtpSender
from .db import db
from .hashing import load_or_create_key
from .html import secure_headers
from .jsonbody import LimitedJSONProvider
from .keys import KeyStore, load_or_create_secret
from .sessions import pages as session_pages
from .wakeups import Wakeups

log = logging.getLogger("psc_idp")


@dataclass
class Provider:
    settings: Settings
    keys: KeyStore
    authenticators: dict[str, Authenticator] = field(default_factory=dict)
    autologin_authenticator: PersonaAuthenticator | None = None
    clock: Clock = field(default_factory=Clock)
    server: Any = None
    interaction_handler: Callable[[Any], Response] | None = None
    discovery_extensions: list[Callable[[dict[str, Any], Settings], None]] = field(
        default_factory=list)
    logout_listeners: list[Callable[[Any], None]] = field(default_factory=list)
    senders: list[Callable[[Any], None]] = field(default_factory=list)
    """Outbox senders (e-mail, SMS gateways): each gets every one-time-code message."""
    wakeups: Wakeups = field(default_factory=lambda: Wakeups("sqlite://"))
    """Wakes the e-CPS waits when a challenge changes (``wakeups.py``)."""

    @staticmethod
    def json_dumps(body: Any) -> str:
        return json.dumps(body, ensure_ascii=False, separators=(",", ":"))


def create_app(settings: Settings | None = None, **overrides: Any) -> Flask:
    settings = settings or load_settings(overrides or None)
    handler = logging.StreamHandler()  # one line per message, whatever a client sent
    handler.setFormatter(OneLineFormatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    logging.basicConfig(level=settings.log_level.upper(), handlers=[handler])
    if not settings.is_production:
        # Authlib refuses plain-HTTP requests unless told; demo/test run on http://127.0.0.1.
        os.environ.setdefault("AUTHLIB_INSECURE_TRANSPORT", "1")

    app = Flask("psc_idp", instance_path=os.path.abspath(settings.instance_dir))
    os.makedirs(app.instance_path, exist_ok=True)
    keys = KeyStore.load_or_create(settings.keys_dir)
    load_or_create_key(settings.keys_dir)  # at-rest.key (PINs, codes) made with the other keys
    app.config.update(
        SECRET_KEY=settings.secret_key or load_or_create_secret(settings.keys_dir),
        SQLALCHEMY_DATABASE_URI=settings.resolved_database_url(),
        SQLALCHEMY_ENGINE_OPTIONS=settings.engine_options(),
        MAX_CONTENT_LENGTH=64 * 1024,
        MAX_FORM_MEMORY_SIZE=64 * 1024,
        JSON_SORT_KEYS=False,
    )
    app.json = LimitedJSONProvider(app)  # request bodies: size and nesting depth bounded
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.json.sort_keys = False  # type: ignore[attr-defined]
    db.init_app(app)
    pool_liveness.install()
    _import_models()

    provider = Provider(settings=settings, keys=keys,
                        wakeups=Wakeups(app.config["SQLALCHEMY_DATABASE_URI"]))
    provider.authenticators = build_authenticators(
        settings.authenticators, emulation_enabled=settings.emulation_enabled)
    if settings.emulation_enabled:
        persona = provider.authenticators.get("persona")
        provider.autologin_authenticator = (persona if isinstance(persona, PersonaAuthenticator)
                                            else PersonaAuthenticator({}))
    if settings.smtp.host:
        provider.senders.append(SmtpSender(settings.smtp))
    app.extensions["psc_idp"] = provider

    oidc.init_app(app, provider)
    login.init_app(app, provider)
    mobile.init_app(app, provider)
    app.register_blueprint(admin_api.bp)
    app.register_blueprint(session_pages.bp)
    app.register_blueprint(admin_pages.bp)
    from .admin import directory_api
    from .credentials import card_activation
    from .pki import views as pki_views
    from .rpps_plus import views as rpps_plus_views

    app.register_blueprint(directory_api.bp)  # professionals, situations, structures, imports
    app.register_blueprint(rpps_plus_views.bp)  # RPPS+ registration (seed 004)

    app.register_blueprint(pki_views.bp)  # CA certificates and CRLs of the emulated IGC-Santé
    card_activation.install(app)  # e-CPS activation with a CPx card
    from . import home  # after the oidc package: home links its URLs

    app.register_blueprint(home.bp)
    _register_error_handlers(app)
    proxy.install(app, settings.proxy)  # X-Forwarded-* believed from the configured hops only

    @app.after_request
    def echo_request_id(response: Response) -> Response:
        """The id the audit rows carry, so an operator can find them from a client's log
        (a client's own ``X-Request-Id`` only in a strict format: ``audit.trail.REQUEST_ID``);
        and the security headers of every response (``html.secure_headers``)."""
        from .audit.trail import request_id

        response.headers.setdefault("X-Request-Id", request_id())
        return secure_headers(response)

    return app


def _import_models() -> None:
    """Every model module, so the metadata is complete for ``create_all`` and Alembic."""
    from .admin import models as admin_models  # noqa: F401
    from .audit import trail  # noqa: F401
    from .credentials import models as credential_models  # noqa: F401
    from .directory import models  # noqa: F401
    from .directory.importer import models as import_models  # noqa: F401
    from .oidc import models as oidc_models  # noqa: F401
    from .pki import models as pki_models  # noqa: F401
    from .rpps_plus import models as rpps_plus_models  # noqa: F401
    from .sessions import models as session_models  # noqa: F401


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection: Any, connection_record: Any) -> None:
    """SQLite: enforce foreign keys and let readers run beside the writer (WAL)."""
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=5000")
        cursor.close()


_OAUTH_ERRORS = {400: "invalid_request", 401: "invalid_client", 404: "not_found",
                 405: "invalid_request", 413: "invalid_request", 415: "invalid_request",
                 431: "invalid_request"}


def _register_error_handlers(app: Flask) -> None:
    from .oidc.errors import error_page, json_error

    def wants_protocol_json() -> bool:
        path = request.path
        return "/protocol/openid-connect/" in path and not path.endswith("/auth") \
            and not path.endswith("/logout") or path.startswith("/api/")

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        code = exc.code or 500
        error = _OAUTH_ERRORS.get(code, "server_error" if code >= 500 else "invalid_request")
        description = exc.description or exc.name
        response = json_error(error, description, code) if wants_protocol_json() \
            else error_page(error, description, code)
        valid = getattr(exc, "valid_methods", None)
        if code == 405 and valid:
            response.headers["Allow"] = ", ".join(valid)
        return response

    @app.errorhandler(DataError)
    def undecodable_value(exc: DataError) -> Response:
        """A value the database cannot store (a NUL character in PostgreSQL text): the
        caller's mistake, so a 400 in the protocol's format, not a 500."""
        log.warning("database refused a value on %s %s: %s", request.method, request.path,
                    exc.orig)
        db.session.rollback()
        if wants_protocol_json():
            return json_error("invalid_request", "Invalid characters in the request", 400)
        return error_page("invalid_request", "Invalid characters in the request", 400)

    @app.errorhandler(RecursionError)
    def too_deep(exc: RecursionError) -> Response:
        """A value nested past Python's stack (a JWT header of 20,000 ``[``, in a token a
        library parses before psc-idp sees it): the caller's doing, so a 400, not a 500. JSON
        bodies are refused before parsing (``jsonbody``); this is the net under the rest."""
        log.warning("too deeply nested input on %s %s", request.method, request.path)
        db.session.rollback()
        if wants_protocol_json():
            return json_error("invalid_request", "Nested too deeply", 400)
        return error_page("invalid_request", "Nested too deeply", 400)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> Response:
        log.exception("unexpected error on %s %s", request.method, request.path)
        db.session.rollback()
        if wants_protocol_json():
            return json_error("server_error", "Unexpected error", 500)
        return error_page("server_error", "Unexpected error", 500)
