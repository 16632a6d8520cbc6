"""The ``psc-idp`` command line: a stable contract for relying services' scripts and CI.

    psc-idp init [--demo]                 schema, keys, demo data (idempotent)
    psc-idp serve [--host H] [--port P] [--workers N] [--tls]
    psc-idp client add [--replace]|update|list|show|remove
    psc-idp demo [--port P] [--rp-port P1] [--phone-port P2] [--rp2-port P3] [--reader-port P4]
                 [--tls]
    psc-idp professional list --json | load FILE | reload-demo
    psc-idp demo-data remove              the demo clients and personas (before production)
    psc-idp keys show|rotate|prune
    psc-idp pki show | issue-software-cert --client-id ID --out DIR | revoke SERIAL
    psc-idp card issue|list|show|lost|renew|replace          (CPx cards, docs/cards.md)
    psc-idp audit list [--json] [--limit N]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click
from flask import Flask

from ..config import ClientSeed, ConfigError, Settings
from ..db import db
from .listing import echo_listing


def _app(require_schema: bool = False, **overrides: Any) -> Flask:
    """The provider app for a command; ``require_schema``: the command reads or writes the
    database, so it must exist (an uninitialised one is named, never created empty)."""
    from ..app import create_app
    from ..config import load_settings

    try:
        settings = load_settings(overrides or None)
        if require_schema:
            _refuse_missing_sqlite_file(settings.resolved_database_url())
        app = create_app(settings)
    except ConfigError as exc:
        raise click.ClickException(f"configuration: {exc}") from exc
    if require_schema:
        _refuse_uninitialised(app)
    return app


_NOT_INITIALISED = "database not initialised ({where}): run `psc-idp init` (same settings) first"


def _refuse_missing_sqlite_file(url: str) -> None:
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database and \
            parsed.database != ":memory:" and not Path(parsed.database).exists():
        raise click.ClickException(_NOT_INITIALISED.format(where=parsed.database))


def _refuse_uninitialised(app: Flask) -> None:
    import sqlalchemy as sa
    from sqlalchemy.exc import SQLAlchemyError

    settings = app.extensions["psc_idp"].settings
    where = _redacted(settings.resolved_database_url())
    with app.app_context():
        try:
            ready = sa.inspect(db.engine).has_table("oidc_client")
        except SQLAlchemyError as exc:
            reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
            raise click.ClickException(f"database unreachable ({where}): {reason}") from None
    if not ready:
        raise click.ClickException(_NOT_INITIALISED.format(where=where))


_SETTINGS_HELP = """\b
Settings: defaults < the TOML file named by PSC_IDP_CONFIG < PSC_IDP_* variables
(every setting in config.example.toml):
  PSC_IDP_CONFIG        the TOML configuration file
  PSC_IDP_MODE          demo | test | production (default demo)
  PSC_IDP_HOME          folder of the default keys/ and instance/ (default: the
                        project folder of a checkout, else ~/.local/share/psc-idp)
  PSC_IDP_DATABASE_URL  sqlite:///PATH or postgresql+psycopg://USER:PASS@HOST/DB
                        (default: SQLite in <home>/instance/psc-idp.db)
  PSC_IDP_KEYS_DIR      signing keys and local TEST authority (default <home>/keys)
  PSC_IDP_PUBLIC_URL    base URL advertised (default http://127.0.0.1:5000)
  PSC_IDP_AUTHENTICATORS  e.g. ecps,ecps_otp (persona: demo/test only)
  PSC_IDP_<TABLE>__<NAME>  a setting in a table, e.g. PSC_IDP_OIDC__CODE_LIFETIME=30
"""


@click.group(context_settings={"help_option_names": ["-h", "--help"]}, epilog=_SETTINGS_HELP)
def main() -> None:
    """psc-idp: a Pro Santé Connect–compatible OpenID Connect provider."""


# ----------------------------------------------------------------------------- init / serve
def initialise(app: Flask, demo: bool | None) -> dict[str, Any]:
    from ..audit import record
    from ..directory.loader import load_demo_directory
    from ..directory.lookup import forget_cached_summaries
    from ..directory.nomenclature import table_versions
    from ..schema import upgrade
    from .clients import seed_clients

    settings = app.extensions["psc_idp"].settings
    upgrade(app)
    load_demo = settings.emulation_enabled and (settings.demo_data if demo is None else demo)
    report: dict[str, Any] = {"database": _redacted(settings.resolved_database_url()),
                              "keys_dir": settings.keys_dir, "demo": load_demo}
    report["nomenclatures"] = table_versions()  # the code tables' versions (data files)
    with app.app_context():
        if load_demo:
            counts = load_demo_directory(db.session, include_staff=True)
            record("directory.loaded", source="demo", **counts)
            report["directory"] = counts
            from ..rpps_plus.demo import seed_demo_habilitations

            report["rpps_plus"] = seed_demo_habilitations()
        report["clients"] = seed_clients(settings, include_demo=load_demo)
        db.session.commit()
    forget_cached_summaries()
    from .pki_cli import ensure_pki

    report["pki"] = ensure_pki(app)
    return report


def _redacted(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url


@main.command()
@click.option("--demo/--no-demo", default=None,
              help="Load the demo professionals and clients (default: config; demo/test only).")
def init(demo: bool | None) -> None:
    """Create or upgrade the schema, generate missing keys, load demo data."""
    app = _app()
    report = initialise(app, demo)
    click.echo(json.dumps(report, indent=2))


@main.command()
@click.option("--host", default=None, help="Listen address (default from config: 127.0.0.1).")
@click.option("--port", default=None, type=int, help="Port (default from config: 5000).")
@click.option("--workers", default=None, type=int,
              help="Run under gunicorn with N worker processes (production style).")
@click.option("--init/--no-init", "run_init", default=True,
              help="Run 'init' first (default: yes).")
@click.option("--tls/--no-tls", default=None,
              help="Serve HTTPS (default from config: [tls] enabled); the certificate is "
                   "[tls] cert_file or issued by the local TEST authority (docs/https.md).")
def serve(host: str | None, port: int | None, workers: int | None, run_init: bool,
          tls: bool | None) -> None:
    """Run the provider."""
    from .serve import run

    overrides: dict[str, Any] = {}
    if host:
        overrides.setdefault("server", {})["host"] = host
    if port:
        overrides.setdefault("server", {})["port"] = port
    if tls is not None:
        overrides["tls"] = {"enabled": tls}
    app = _app(**overrides)
    if run_init:
        initialise(app, None)
    settings = app.extensions["psc_idp"].settings
    refuse_demo_material(app)
    _run(run, app, host or settings.server.host, port or settings.server.port,
         settings.server.workers if workers is None else workers)


def _run(run: Any, app: Flask, host: str, port: int, workers: int) -> None:
    """``serve.run`` with a broken TLS certificate or key reported, not a traceback."""
    from ..pki import PkiError

    try:
        run(app, host, port, workers)
    except PkiError as exc:
        raise click.ClickException(f"TLS: {exc}") from exc


@main.command()
@click.option("--port", default=None, type=int,
              help="Provider port (default from config: 5000). The demo services and the e-CPS "
                   "app follow it: P+1 (\"Dossier patient\"), P+2 (e-CPS app), P+3 "
                   "(\"Messagerie sécurisée\"), unless set by the options below or configured.")
@click.option("--rp-port", default=None, type=int,
              help="Port of the demo service \"Dossier patient\" (default: provider port + 1).")
@click.option("--phone-port", default=None, type=int,
              help="Port of the virtual e-CPS app (default: provider port + 2).")
@click.option("--rp2-port", default=None, type=int,
              help="Port of the demo service \"Messagerie sécurisée\" (default: provider "
                   "port + 3).")
@click.option("--reader-port", default=None, type=int,
              help="Port of the virtual card reader's page (default: provider port + 4).")
@click.option("--tls/--no-tls", default=None,
              help="The provider over HTTPS (local TEST authority); the demo services and the "
                   "e-CPS app trust it (default from config: [tls] enabled).")
def demo(port: int | None, rp_port: int | None, phone_port: int | None,
         rp2_port: int | None, reader_port: int | None, tls: bool | None) -> None:
    """Init, then run the provider (with its card listener), the two demo relying services,
    the virtual e-CPS app and the virtual card reader together (Ctrl-C stops them all; if one
    of them stops, the others are stopped too). The demo cards (PIN 1234, PUK 12345678) are
    issued into <home>/cards. Every port is checked free before anything starts, so two demos
    can run side by side: 'psc-idp demo --port 5100' uses 5100-5104 and 5543 for cards."""
    import os
    import signal
    import subprocess
    import threading
    import time

    from .clients import DEMO_SERVICES
    from .serve import run

    overrides = _demo_overrides(port, rp_port, phone_port, rp2_port, tls, reader_port)
    app = _app(**overrides)
    settings = app.extensions["psc_idp"].settings
    if not settings.emulation_enabled:
        raise click.ClickException("'demo' runs in demo/test mode only")
    phone_url = settings.ecps_app_url.rstrip("/")
    wanted = [("the provider", settings.server.host, settings.server.port),
              ('the demo service "Dossier patient"', "127.0.0.1", _port_of(settings.demo_rp_url)),
              ("the virtual e-CPS app", "127.0.0.1", _port_of(phone_url)),
              ('the demo service "Messagerie sécurisée"', "127.0.0.1",
               _port_of(settings.demo_rp2_url)),
              ("the virtual card reader", "127.0.0.1", _port_of(settings.cards.reader_url))]
    if settings.mtls_enabled:
        wanted.append(("the card listener ([mtls])", settings.mtls.host, settings.mtls.port))
    _check_ports(wanted)
    initialise(app, True)
    cards = _demo_cards(app)
    children: list[tuple[str, subprocess.Popen[bytes]]] = []
    for (client_id, name, secret, url_setting), accent in zip(
            DEMO_SERVICES, ("#000091", "#18753c"), strict=True):
        url = getattr(settings, url_setting)
        env = dict(os.environ, PSC_DEMO_RP_ISSUER=settings.issuer, PSC_DEMO_RP_PUBLIC_URL=url,
                   PSC_DEMO_RP_PORT=str(_port_of(url)),
                   PSC_DEMO_RP_CLIENT_ID=client_id, PSC_DEMO_RP_CLIENT_SECRET=secret,
                   PSC_DEMO_RP_TITLE=name, PSC_DEMO_RP_ACCENT=accent, **_demo_trust(settings))
        children.append((f'the demo service "{name}"', subprocess.Popen(
            [sys.executable, "-m", "clients.demo_rp.app"], env=env)))
    # The virtual e-CPS app (a phone-sized page): its device keys live in the phone's one
    # default home (~/.ecps-app, or $ECPS_APP_HOME), shared with the `ecps-app` CLI.
    app_env = dict(os.environ, ECPS_APP_SERVER=settings.public_url.rstrip("/"),
                   ECPS_APP_PORT=str(_port_of(phone_url)), **_demo_trust(settings))
    children.append(("the virtual e-CPS app", subprocess.Popen(
        [sys.executable, "-m", "clients.ecps_app.web"], env=app_env)))
    # The virtual card reader's page ("insérez votre carte"): the demo cards, trusting the
    # card listener's certificate (the local TEST root).
    children.append(("the virtual card reader", subprocess.Popen(  # noqa: S603 (our own args)
        [sys.executable, "-m", "clients.card_reader.cli", "serve", "--cards-dir", str(cards),
         "--port", str(_port_of(settings.cards.reader_url)), "--ca-file", _root_ca(settings)])))
    failed = threading.Event()

    def stop(*_: Any) -> None:
        sys.exit(1 if failed.is_set() else 0)  # so the finally below stops the children

    signal.signal(signal.SIGTERM, stop)

    def watch() -> None:
        """A helper that stops (a port taken since the check, a crash) stops the demo: its
        links would lead nowhere, or to another demo."""
        while not failed.is_set():
            for label, child in children:
                code = child.poll()
                if code is not None:
                    click.echo(f"psc-idp demo: {label} stopped (exit {code}): stopping the "
                               "demo", err=True)
                    failed.set()
                    os.kill(os.getpid(), signal.SIGTERM)
                    return
            time.sleep(0.3)

    threading.Thread(target=watch, name="demo-watch", daemon=True).start()
    script = Path(sys.executable).with_name("psc-idp")
    click.echo(f"\n  Open the demo service \"Dossier patient\":      {settings.demo_rp_url}/"
               f"\n  Open the demo service \"Messagerie sécurisée\": {settings.demo_rp2_url}/"
               f"\n  Open the virtual e-CPS app:                  {phone_url}/"
               f"\n  The virtual card reader (PIN 1234):          "
               f"{settings.cards.reader_url.rstrip('/')}/  (cards in {cards})"
               f"\n  The provider's home page:                    {settings.public_url}/"
               f"\n  Your sessions: {settings.issuer}/account/sessions"
               f"\n  Command line: {script} --help\n", err=True)
    if _demo_trust(settings):
        click.echo(f"  HTTPS: import this TEST authority in your browser (Authorities tab) or "
                   f"accept the warning once:\n    "
                   f"{_demo_trust(settings)['REQUESTS_CA_BUNDLE']}\n", err=True)
    try:
        _run(run, app, settings.server.host, settings.server.port, settings.server.workers)
    finally:
        failed.set()  # the watcher stops watching
        for _, child in children:
            if child.poll() is None:
                child.terminate()
        for _, child in children:
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()


def _demo_cards(app: Flask) -> Path:
    """The demo cards (idempotent), in ``[cards] cards_dir`` or ``<home>/cards``."""
    from ..credentials.cards import cards_dir, issue_demo_cards

    settings = app.extensions["psc_idp"].settings
    folder = cards_dir(settings)
    with app.app_context():
        issued = issue_demo_cards(folder)
    for one in issued:
        click.echo(f"  demo card {one.card.card_type} {one.card.serial} "
                   f"{one.card.national_id}: {one.folder}", err=True)
    return folder


def _root_ca(settings: Any) -> str:
    from ..pki import LocalPki

    return str(LocalPki.in_keys_dir(settings.keys_dir).root_cert_path.resolve())


def _port_of(url: str) -> int:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return parts.port or (443 if parts.scheme == "https" else 80)


def _demo_overrides(port: int | None, rp_port: int | None, phone_port: int | None,
                    rp2_port: int | None, tls: bool | None,
                    reader_port: int | None = None) -> dict[str, Any]:
    """The demo's settings: the helpers' URLs follow the provider's port (P+1, P+2, P+3,
    the card reader P+4, the card listener P+443) unless given as options or configured
    (``demo_rp_url``, ``demo_rp2_url``, ``ecps_app_url``, ``[cards] reader_url``,
    ``[mtls] port``, or ``ECPS_APP_PORT``)."""
    import os

    from ..config import load_settings

    try:
        configured = load_settings()
    except ConfigError as exc:
        raise click.ClickException(f"configuration: {exc}") from exc
    overrides: dict[str, Any] = {"server": {"port": port}} if port else {}
    if tls is not None:
        overrides["tls"] = {"enabled": tls}
    base = port or configured.server.port
    defaults = Settings()
    if phone_port is None and os.environ.get("ECPS_APP_PORT", "").isdigit():
        phone_port = int(os.environ["ECPS_APP_PORT"])
    for setting, given, offset in (("demo_rp_url", rp_port, 1), ("ecps_app_url", phone_port, 2),
                                   ("demo_rp2_url", rp2_port, 3)):
        if given is not None:
            overrides[setting] = f"http://127.0.0.1:{given}"
        elif getattr(configured, setting) == getattr(defaults, setting):
            overrides[setting] = f"http://127.0.0.1:{base + offset}"
    if reader_port is not None:
        overrides["cards"] = {"reader_url": f"http://127.0.0.1:{reader_port}"}
    elif configured.cards.reader_url == defaults.cards.reader_url:
        overrides["cards"] = {"reader_url": f"http://127.0.0.1:{base + 4}"}
    if configured.mtls.port == defaults.mtls.port and not configured.mtls.public_url:
        overrides["mtls"] = {"port": base + 443}
    return overrides


def _check_ports(wanted: list[tuple[str, str, int]]) -> None:
    """Every port free and distinct, before anything is started or printed."""
    import socket

    seen: dict[int, str] = {}
    for label, host, number in wanted:
        if not 0 < number < 65536:
            raise click.ClickException(f"port {number} for {label} is not a port")
        if number in seen:
            raise click.ClickException(f"port {number} is given to both {seen[number]} and "
                                       f"{label}: choose other ports (psc-idp demo --help)")
        seen[number] = label
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers do
            try:
                probe.bind((host, number))
            except OSError:
                raise click.ClickException(
                    f"port {number} ({label}) is already in use, by another psc-idp demo or "
                    f"another program: start this one on other ports, e.g. 'psc-idp demo "
                    f"--port {_suggest(seen)}' (the demo services and e-CPS app follow: "
                    f"P+1, P+2, P+3), or set --rp-port, --phone-port, --rp2-port") from None


def _suggest(seen: dict[int, str]) -> int:
    return (max(seen) // 100 + 1) * 100


def _demo_trust(settings: Any) -> dict[str, str]:
    """Over TLS, the demo services and the e-CPS app trust the local TEST authority: the demo
    RP through its TLS_VERIFY setting, the phone (plain requests) through REQUESTS_CA_BUNDLE."""
    if not settings.tls.enabled or settings.tls.cert_file:
        return {}
    from ..pki import LocalPki

    root = str(LocalPki.in_keys_dir(settings.keys_dir).root_cert_path.resolve())
    return {"PSC_DEMO_RP_TLS_VERIFY": root, "REQUESTS_CA_BUNDLE": root}


# ----------------------------------------------------------------------------- clients
@main.group()
def client() -> None:
    """Manage relying parties (clients)."""


_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "private_key_jwt", "none",
                 "tls_client_auth", "self_signed_tls_client_auth"]
_HELP = {
    "client_id": "The client's identifier (client_id), as the RP sends it.",
    "client_secret": "The shared secret (client_secret_basic/post); stored hashed (argon2id), "
                     "never printed.",
    "redirect_uri": "Where codes may be sent (exact match, absolute http(s), no fragment); "
                    "repeatable.",
    "auth_method": "How the client authenticates at the token endpoint "
                   "(default client_secret_basic); tls_client_auth and "
                   "self_signed_tls_client_auth: by TLS certificate on the mTLS listener "
                   "(RFC 8705, docs/mtls.md).",
    "jwks_uri": "private_key_jwt, self_signed_tls_client_auth: where psc-idp fetches the "
                "client's public keys.",
    "jwks": "private_key_jwt, self_signed_tls_client_auth: a file holding the client's keys "
            "(JWKS JSON) or its certificate(s) (PEM).",
    "tls_dn": "tls_client_auth: the certificate's subject DN, RFC 4514 "
              "(\"CN=rp.example,O=Hopital,C=FR\").",
    "tls_san": "tls_client_auth, instead of the DN: a SAN the certificate must have "
               "(dns:NAME, uri:URI, ip:ADDRESS or email:ADDRESS).",
    "tls_bound": "RFC 8705 §3: bind access tokens to the certificate presented at the token "
                 "endpoint (userinfo then wants the same certificate).",
    "name": "The name professionals read (login page, consent, session page); default the id.",
    "userinfo_signed": "Answer userinfo as a signed JWT (RS256).",
    "test_autologin": "demo/test mode: a persona's national id as login_hint signs in with no "
                      "page (refused in production).",
    "post_logout": "Where RP-initiated logout may return (exact match; repeatable).",
    "backchannel": "Back-Channel Logout 1.0: psc-idp POSTs a logout_token here.",
    "backchannel_required": "The RP needs the sid claim in logout tokens (always sent by "
                            "psc-idp).",
    "frontchannel": "Front-Channel Logout 1.0: loaded in an iframe with iss and sid at logout.",
    "consent": "The professional approves the requested scopes once (Keycloak's switch).",
    "fidelity": "psc: behave as PSC does for this client (Keycloak's laxities); strict: the RFCs "
                "and RFC 9700. Default: the deployment's [fidelity] profile.",
    "shape": "Userinfo as PSC answers today (2024) or as in Feb 2023 (2023). Default: the "
             "deployment's [fidelity] userinfo_shape.",
}


@client.command("add")
@click.option("--client-id", required=True, help=_HELP["client_id"])
@click.option("--client-secret", default=None, help=_HELP["client_secret"])
@click.option("--redirect-uri", "redirect_uris", multiple=True, required=True,
              help=_HELP["redirect_uri"])
@click.option("--auth-method", default="client_secret_basic", type=click.Choice(_AUTH_METHODS),
              help=_HELP["auth_method"])
@click.option("--jwks-uri", default=None, help=_HELP["jwks_uri"])
@click.option("--jwks", "jwks_file", default=None, type=click.Path(dir_okay=False),
              help=_HELP["jwks"])
@click.option("--tls-subject-dn", default="", help=_HELP["tls_dn"])
@click.option("--tls-san", default="", help=_HELP["tls_san"])
@click.option("--tls-bound-tokens/--no-tls-bound-tokens", default=False,
              help=_HELP["tls_bound"])
@click.option("--name", default="", help=_HELP["name"])
@click.option("--userinfo-signed", is_flag=True, help=_HELP["userinfo_signed"])
@click.option("--test-autologin", is_flag=True, help=_HELP["test_autologin"])
@click.option("--post-logout-redirect-uri", "post_logout", multiple=True,
              help=_HELP["post_logout"])
@click.option("--backchannel-logout-uri", default=None, help=_HELP["backchannel"])
@click.option("--backchannel-logout-session-required", is_flag=True,
              help=_HELP["backchannel_required"])
@click.option("--frontchannel-logout-uri", default=None, help=_HELP["frontchannel"])
@click.option("--consent-required", is_flag=True, help=_HELP["consent"])
@click.option("--fidelity-profile", default="", type=click.Choice(["", "psc", "strict"]),
              help=_HELP["fidelity"])
@click.option("--userinfo-shape", default="", type=click.Choice(["", "2024", "2023"]),
              help=_HELP["shape"])
@click.option("--replace", is_flag=True,
              help="If the id exists, register it again whole: options left out are reset "
                   "(the secret is kept unless given). Without it, an existing id given other "
                   "settings is refused (see 'client update').")
def client_add(client_id: str, client_secret: str | None, redirect_uris: tuple[str, ...],
               auth_method: str, jwks_uri: str | None, name: str, userinfo_signed: bool,
               test_autologin: bool, post_logout: tuple[str, ...],
               backchannel_logout_uri: str | None, backchannel_logout_session_required: bool,
               frontchannel_logout_uri: str | None, consent_required: bool,
               fidelity_profile: str, userinfo_shape: str, replace: bool,
               jwks_file: str | None, tls_subject_dn: str, tls_san: str,
               tls_bound_tokens: bool) -> None:
    """Register a client. An existing id is refused if the settings differ ('client update'
    changes some of them, '--replace' all); the same command run again changes nothing."""
    from .clients import ClientError, add_client, describe, dumps

    if auth_method == "tls_client_auth" and not (tls_subject_dn or tls_san):
        raise click.UsageError("--auth-method tls_client_auth needs --tls-subject-dn "
                               "\"CN=…,O=…,C=FR\" or --tls-san dns:rp.example (RFC 8705 §2.1)")
    if auth_method == "self_signed_tls_client_auth" and not (jwks_file or jwks_uri):
        raise click.UsageError("--auth-method self_signed_tls_client_auth needs --jwks FILE "
                               "(its certificate, PEM, or a JWKS) or --jwks-uri")

    app = _app(require_schema=True)
    with app.app_context():
        seed = ClientSeed(client_id=client_id, client_secret=client_secret,
                          redirect_uris=list(redirect_uris), auth_method=auth_method,
                          jwks_uri=jwks_uri, name=name, userinfo_signed=userinfo_signed,
                          test_autologin=test_autologin,
                          post_logout_redirect_uris=list(post_logout),
                          backchannel_logout_uri=backchannel_logout_uri,
                          backchannel_logout_session_required=backchannel_logout_session_required,
                          frontchannel_logout_uri=frontchannel_logout_uri,
                          consent_required=consent_required,
                          fidelity_profile=fidelity_profile, userinfo_shape=userinfo_shape,
                          jwks=_read_jwks(jwks_file) if jwks_file else None,
                          tls_client_auth_subject_dn=tls_subject_dn,
                          tls_client_auth_san=tls_san,
                          tls_client_certificate_bound_access_tokens=tls_bound_tokens)
        try:
            registered, _ = add_client(seed, app.extensions["psc_idp"].settings,
                                       replace=replace, source="cli")
        except ClientError as exc:
            db.session.rollback()
            raise click.ClickException(str(exc)) from exc
        db.session.commit()
        click.echo(dumps(describe(registered)))


@client.command("update")
@click.argument("client_id")
@click.option("--client-secret", default=None, help="A new secret (the old one stops working).")
@click.option("--redirect-uri", "redirect_uris", multiple=True,
              help="Replaces the list of redirect URIs; repeatable.")
@click.option("--auth-method", default=None, type=click.Choice(_AUTH_METHODS),
              help=_HELP["auth_method"].replace(" (default client_secret_basic)", ""))
@click.option("--jwks-uri", default=None, help=_HELP["jwks_uri"] + " Empty: none.")
@click.option("--jwks", "jwks_file", default=None, help=_HELP["jwks"] + " Empty: none.")
@click.option("--tls-subject-dn", default=None, help=_HELP["tls_dn"] + " Replaces the SAN.")
@click.option("--tls-san", default=None, help=_HELP["tls_san"] + " Replaces the DN.")
@click.option("--tls-bound-tokens/--no-tls-bound-tokens", default=None,
              help=_HELP["tls_bound"])
@click.option("--name", default=None, help=_HELP["name"])
@click.option("--userinfo-signed/--no-userinfo-signed", default=None,
              help=_HELP["userinfo_signed"])
@click.option("--test-autologin/--no-test-autologin", default=None,
              help=_HELP["test_autologin"])
@click.option("--post-logout-redirect-uri", "post_logout", multiple=True,
              help="Replaces the list of post-logout redirect URIs; repeatable.")
@click.option("--no-post-logout-redirect-uri", "no_post_logout", is_flag=True,
              help="Empties the list of post-logout redirect URIs.")
@click.option("--backchannel-logout-uri", default=None,
              help=_HELP["backchannel"] + " Empty: none.")
@click.option("--backchannel-logout-session-required/--no-backchannel-logout-session-required",
              default=None, help=_HELP["backchannel_required"])
@click.option("--frontchannel-logout-uri", default=None,
              help=_HELP["frontchannel"] + " Empty: none.")
@click.option("--consent-required/--no-consent-required", default=None, help=_HELP["consent"])
@click.option("--fidelity-profile", default=None, type=click.Choice(["", "psc", "strict"]),
              help=_HELP["fidelity"] + " Empty: back to that default.")
@click.option("--userinfo-shape", default=None, type=click.Choice(["", "2024", "2023"]),
              help=_HELP["shape"] + " Empty: back to that default.")
def client_update(client_id: str, client_secret: str | None, redirect_uris: tuple[str, ...],
                  auth_method: str | None, jwks_uri: str | None, name: str | None,
                  userinfo_signed: bool | None, test_autologin: bool | None,
                  post_logout: tuple[str, ...], no_post_logout: bool,
                  backchannel_logout_uri: str | None,
                  backchannel_logout_session_required: bool | None,
                  frontchannel_logout_uri: str | None, consent_required: bool | None,
                  fidelity_profile: str | None, userinfo_shape: str | None,
                  jwks_file: str | None, tls_subject_dn: str | None, tls_san: str | None,
                  tls_bound_tokens: bool | None) -> None:
    """Change only the given settings of a registered client (the rest, secret included,
    stays)."""
    from .clients import ClientError, describe, dumps, update_client

    if post_logout and no_post_logout:
        raise click.UsageError("--post-logout-redirect-uri and --no-post-logout-redirect-uri "
                               "exclude each other")
    given: dict[str, Any] = {
        "client_secret": client_secret, "auth_method": auth_method, "jwks_uri": jwks_uri,
        "name": name, "userinfo_signed": userinfo_signed, "test_autologin": test_autologin,
        "backchannel_logout_uri": backchannel_logout_uri,
        "backchannel_logout_session_required": backchannel_logout_session_required,
        "frontchannel_logout_uri": frontchannel_logout_uri,
        "consent_required": consent_required, "fidelity_profile": fidelity_profile,
        "userinfo_shape": userinfo_shape,
        "tls_client_auth_subject_dn": tls_subject_dn, "tls_client_auth_san": tls_san,
        "tls_client_certificate_bound_access_tokens": tls_bound_tokens,
        "redirect_uris": list(redirect_uris) or None,
        "post_logout_redirect_uris": [] if no_post_logout else (list(post_logout) or None)}
    changes = {key: value for key, value in given.items() if value is not None}
    if jwks_file is not None:
        changes["jwks"] = _read_jwks(jwks_file) if jwks_file else None
    if not changes:
        raise click.UsageError("nothing to change: give at least one option (see --help)")
    app = _app(require_schema=True)
    with app.app_context():
        try:
            updated = update_client(client_id, changes, app.extensions["psc_idp"].settings,
                                    source="cli")
        except ClientError as exc:
            db.session.rollback()
            raise click.ClickException(str(exc)) from exc
        db.session.commit()
        click.echo(dumps(describe(updated)))


def _read_jwks(path: str) -> dict[str, Any]:
    """``--jwks FILE``: a JSON key set or PEM certificates (``mtls_auth.jwks_from_file``)."""
    from ..oidc.mtls_auth import jwks_from_file

    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise click.BadParameter(f"cannot read {path}: {exc}", param_hint="--jwks") from exc
    try:
        return jwks_from_file(text)
    except ValueError as exc:
        raise click.BadParameter(f"{path}: {exc}", param_hint="--jwks") from exc


@client.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (every field; no secret).")
def client_list(as_json: bool) -> None:
    """List clients."""
    from ..oidc.models import Client
    from .clients import describe

    app = _app(require_schema=True)
    with app.app_context():
        clients = [describe(c) for c in db.session.scalars(
            db.select(Client).order_by(Client.client_id))]
    echo_listing(clients, as_json, lambda c: f"{c['client_id']:30} "
                                             f"{c['token_endpoint_auth_method']:20} "
                                             f"{' '.join(c['redirect_uris'])}")


@client.command("show")
@click.argument("client_id")
def client_show(client_id: str) -> None:
    """Show one client as JSON."""
    from ..oidc.models import Client
    from .clients import describe, dumps

    app = _app(require_schema=True)
    with app.app_context():
        found = db.session.get(Client, client_id)
        if found is None:
            raise click.ClickException(f"no client {client_id!r}")
        click.echo(dumps(describe(found)))


@client.command("remove")
@click.argument("client_id")
def client_remove(client_id: str) -> None:
    """Remove a client."""
    from .clients import remove_client

    app = _app(require_schema=True)
    with app.app_context():
        if not remove_client(client_id):
            raise click.ClickException(f"no client {client_id!r}")
        db.session.commit()
    click.echo(f"removed {client_id}")


# ----------------------------------------------------------------------------- sessions
@main.group()
def session() -> None:
    """IdP sessions (SSO): list them, end one with single logout."""


@session.command("list")
@click.option("--national-id", default=None, help="Only this professional's sessions.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (sid, means, times, services).")
def session_list(national_id: str | None, as_json: bool) -> None:
    """Live sessions, newest first."""
    from ..directory.lookup import find_by_identifier
    from ..sessions.queries import live_sessions

    app = _app(require_schema=True)
    with app.app_context():
        professional_id = None
        if national_id:
            found = find_by_identifier(national_id)
            if found is None:
                raise click.ClickException(f"no professional {national_id!r}")
            professional_id = found.id
        views = [v.as_json() for v in live_sessions(professional_id)]
    echo_listing(views, as_json, lambda v: f"{v['sid']}  {v['auth_mode']:7} {v['created_at']}  "
                                           + " ".join(c["client_id"] for c in v["clients"]))


@session.command("end")
@click.argument("sid")
@click.option("--wait/--no-wait", default=True,
              help="Wait for the back-channel logout deliveries (retries included).")
def session_end(sid: str, wait: bool) -> None:
    """End a session: tokens revoked (not offline_access), RPs told by back-channel logout."""
    from ..sessions.backchannel import deliver_until_done
    from ..sessions.logout import end_by_id

    app = _app(require_schema=True)
    with app.app_context():
        outcome = end_by_id(sid, "admin_logout")
        if outcome is None:
            raise click.ClickException(f"no live session {sid!r}")
        db.session.commit()
    if wait and outcome.deliveries:
        deliver_until_done(app, sid)
    with app.app_context():
        from ..sessions.models import LogoutDelivery

        rows = db.session.scalars(db.select(LogoutDelivery).where(
            LogoutDelivery.session_id == sid)).all()
        click.echo(f"ended {sid}")
        for row in rows:
            click.echo(f"  back-channel {row.client_id}: {row.status}"
                       f"{' (' + row.last_error + ')' if row.last_error else ''}")


# ----------------------------------------------------------------------------- directory
@main.group()
def professional() -> None:
    """The directory of professionals."""


@professional.command("list")
@click.option("--json", "as_json", is_flag=True,
              help="Print JSON (national_id, rpps, names, professions…).")
def professional_list(as_json: bool) -> None:
    """List professionals."""
    from ..directory.loader import export_professional
    from ..directory.lookup import list_professionals

    app = _app(require_schema=True)
    with app.app_context():
        rows = [export_professional(p) for p in list_professionals()]
    echo_listing(rows, as_json, lambda p: f"{p['national_id']}  {p['given_name']} "
                                          f"{p['family_name']}  {p.get('persona_label', '')}")


@professional.command("load")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
def professional_load(path: str) -> None:
    """Load professionals from a JSON file (same shape as the demo data)."""
    from ..audit import record
    from ..directory.loader import load_directory_file

    app = _app(require_schema=True)
    with app.app_context():
        try:
            counts = load_directory_file(db.session, path)
        except ValueError as exc:
            db.session.rollback()
            raise click.ClickException(str(exc)) from exc
        record("directory.loaded", source=path, **counts)
        db.session.commit()
    click.echo(json.dumps(counts))


@professional.command("reload-demo")
def professional_reload_demo() -> None:
    """Reload the demo personas (demo/test mode)."""
    from ..audit import record
    from ..directory.loader import load_demo_directory

    app = _app(require_schema=True)
    if not app.extensions["psc_idp"].settings.emulation_enabled:
        raise click.ClickException("demo personas are not loaded in production mode")
    with app.app_context():
        counts = load_demo_directory(db.session, include_staff=True)
        record("directory.loaded", source="demo", **counts)
        db.session.commit()
    click.echo(json.dumps(counts))


# ----------------------------------------------------------------------------- demo data
def refuse_demo_material(app: Flask) -> None:
    """Production mode: stop if the database holds the demo clients or personas (their
    secrets and contact data are public), naming the command that removes them."""
    from .demo_material import find

    if not app.extensions["psc_idp"].settings.is_production:
        return
    with app.app_context():
        found = find(db.session)
        db.session.rollback()
    if found:
        raise click.ClickException(found.refusal())


@main.group("demo-data")
def demo_data() -> None:
    """The demo clients and personas (``init --demo``): remove them before production."""


@demo_data.command("remove")
def demo_data_remove() -> None:
    """Remove the demo clients (psc-demo-rp, psc-demo-mss) and the demo personas, with their
    e-CPS, sessions, grants and tokens (the audit trail stays). Any mode; idempotent."""
    from .clients import dumps
    from .demo_material import remove

    app = _app(require_schema=True)
    with app.app_context():
        removed = remove(db.session)
        db.session.commit()
    click.echo(dumps(removed))


# ----------------------------------------------------------------------------- keys, audit
@main.group()
def keys() -> None:
    """Signing keys."""


@keys.command("show")
def keys_show() -> None:
    """Print the public JWKS."""
    click.echo(json.dumps(_app().extensions["psc_idp"].keys.jwks(), indent=2))


@keys.command("rotate")
def keys_rotate() -> None:
    """Add a new active signing key (old ones stay published)."""
    key = _app().extensions["psc_idp"].keys.rotate()
    click.echo(f"new active key {key.kid}")


@keys.command("prune")
def keys_prune() -> None:
    """Remove inactive keys from the JWKS."""
    removed = _app().extensions["psc_idp"].keys.prune()
    click.echo(f"removed {len(removed)} key(s)")


@main.group()
def audit() -> None:
    """The audit trail."""


@audit.command("list")
@click.option("--limit", default=50, type=int, show_default=True,
              help="How many events, newest first.")
@click.option("--json", "as_json", is_flag=True,
              help="Print JSON (at, event, outcome, subject, client_id, details).")
def audit_list(limit: int, as_json: bool) -> None:
    """The newest audit events."""
    from ..audit import AuditEvent
    from .clients import dumps

    app = _app(require_schema=True)
    with app.app_context():
        rows = db.session.scalars(
            db.select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)).all()
        data = [{"at": r.at.isoformat() + "Z", "event": r.event, "outcome": r.outcome,
                 "subject": r.subject, "client_id": r.client_id, "request_id": r.request_id,
                 "details": r.details} for r in rows]
    if as_json:
        click.echo(dumps(data))
        return
    from ..audit.logline import escape

    for r in data:  # one line per event: a client_id holding a newline is shown escaped
        click.echo(f"{r['at']} {r['event']:22} {r['outcome']:8} {escape(r['subject']):13} "
                   f"{escape(r['client_id'])}")


from ..rpps_plus import cli as rpps_plus_cli  # noqa: E402
from . import api_key_cli  # noqa: E402
from .card_cli import card  # noqa: E402  (the groups of their own modules)
from .directory_cli import directory  # noqa: E402
from .pki_cli import pki  # noqa: E402

main.add_command(card)
main.add_command(pki)
main.add_command(directory)
for _command in (*rpps_plus_cli.COMMANDS, *api_key_cli.COMMANDS):
    main.add_command(_command)  # the groups `rpps-plus` and `admin-key`

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
