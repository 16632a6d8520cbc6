"""Typed settings: defaults, then the TOML file named by ``PSC_IDP_CONFIG``, then ``PSC_IDP_*``.

Read only inside ``create_app`` (never at import time), so tests can build apps with other
settings side by side. Every field is documented in ``config.example.toml``; ``validate()`` runs
named checks at start-up so a bad setting fails there, not at the first login.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MODES = ("demo", "test", "production")
REALM_PATH = "/auth/realms/esante-wallet"
DEFAULT_FEDERATION_ID = "550dc1c8-d97b-4b1e-ac8c-8eb4471cf9dd"


class ConfigError(ValueError):
    """A setting is missing, malformed or unsafe for the chosen mode."""


@dataclass
class OidcSettings:
    access_token_lifetime: int = 120
    """Seconds. PSC's access tokens live 120 s (reference §4.3)."""
    id_token_lifetime: int = 120
    """Seconds. Keycloak gives ID tokens the access-token lifespan."""
    refresh_token_lifetime: int = 1800
    """Seconds a refresh token may be used (Keycloak's SSO idle default)."""
    code_lifetime: int = 60
    """Seconds an authorization code stays redeemable (Keycloak's default, RFC 9700 short)."""
    federation_id: str = DEFAULT_FEDERATION_ID
    """The Keycloak user-storage provider UUID in ``sub = f:<uuid>:<national id>``."""
    default_acr: str = "eidas1"
    """acr put in ID and access tokens (reference §3 and quirk 5: clients insist on eidas1)."""


@dataclass
class QuirkSettings:
    """Per-behaviour overrides of the fidelity profile (``fidelity.py``). Unset (the default):
    the profile decides; true/false forces the behaviour for the whole deployment."""

    allow_plain_pkce: bool | None = None
    """Accept ``code_challenge_method=plain`` (PSC advertises it; RFC 9700 says S256)."""
    keycloak_acr_values_supported: bool | None = None
    """Advertise ``acr_values_supported: ["0","0"]`` as PSC's discovery does (not eidas1)."""
    card_access_token_acr_eidas3: bool | None = None
    """Put ``acr: eidas3`` in access tokens of card logins, as every BAS capture shows."""
    logout_without_state: bool | None = None
    """Return to post_logout_redirect_uri without ``state`` (KEYCLOAK-7209)."""
    access_token_empty_nonce: bool | None = None
    """Put ``nonce: ""`` in access tokens whatever the RP sent, as every BAS capture shows."""
    refresh_token_reuse: bool | None = None
    """Let a refresh token be used again while valid (Keycloak's default)."""
    client_secret_any_method: bool | None = None
    """Accept a client secret by Basic or in the body whatever the registered method."""
    keycloak_client_errors: bool | None = None
    """Word client-authentication and grant errors as Keycloak does."""
    logout_empty_id_token_hint_refused: bool | None = None
    """Answer 400 to an empty ``id_token_hint=`` at logout as Keycloak does."""
    client_default_scopes: bool | None = None
    """Add the realm's default client scopes (``fidelity.default_scopes``) to granted scopes."""
    mtls_refresh_bound_all_clients: bool | None = None
    """Every client with certificate-bound tokens must refresh with the same certificate
    (Keycloak); off: only public clients (RFC 8705 §3, a renewed certificate may refresh)."""
    keycloak_auth_methods_supported: bool | None = None
    """Discovery lists ``tls_client_auth`` but not ``self_signed_tls_client_auth`` (accepted
    all the same), as PSC's Keycloak list does."""


@dataclass
class FidelitySettings:
    """Which PSC to be: see ``fidelity.py`` and docs/psc-compatibility.md."""

    profile: str = ""
    """``psc`` (behave as PSC, oddities included) or ``strict`` (RFCs and RFC 9700 where PSC
    is lax). Empty: ``psc``, or ``strict`` in production mode."""
    userinfo_shape: str = "2024"
    """``2024``: PSC's current userinfo (top-level codeCivilite, codeGenreActivite);
    ``2023``: the Feb-2023 shape (``SubjectRefPro.codeCivilite``)."""
    default_scopes: list[str] = field(default_factory=lambda: ["profile", "identity"])
    """The realm's default client scopes, added to every granted scope in the psc profile
    (the 2023 BAS access token: ``openid profile scope_all identity``)."""

    def resolved_profile(self, production: bool) -> str:
        return self.profile or ("strict" if production else "psc")


@dataclass
class SessionSettings:
    cookie_name: str = "PSC_IDP_SESSION"
    lifetime: int = 36000
    """Seconds an IdP session lives at most (Keycloak's SSO max, 10 h)."""
    idle_timeout: int = 1800
    """Seconds of inactivity after which the IdP session ends."""
    secure_cookie: bool = False
    """Set the Secure flag (true behind HTTPS; forced in production mode)."""
    cookie_domain: str = ""
    """Domain of the session cookie. With a separate ``wallet_url`` host, set the parent domain
    both hosts share (e.g. ``.psc.example``) so the logout endpoint sees the session."""
    backchannel_timeout: float = 5.0
    """Seconds psc-idp waits for an RP's back-channel logout endpoint to answer, per attempt."""
    backchannel_attempts: int = 5
    """Deliveries of a logout token before giving up on an RP that keeps failing."""
    backchannel_backoff: float = 1.0
    """Seconds before the first retry; each later retry waits twice as long."""


@dataclass
class EcpsSettings:
    activation_delay: int | None = None
    """Seconds between activation and first use (seeds: 48 h). Unset: 172800, or 0 in
    demo/test mode."""
    validity_days: int = 1095
    """An e-CPS is valid 3 years, renewable."""
    code_lifetime: int = 600
    """Seconds the activation codes (e-mail, SMS) stay valid."""
    code_attempts: int = 5
    """Wrong code submissions before the activation is void."""
    pin_attempts: int = 3
    """Wrong PINs in a row before the e-CPS is blocked (re-activation unblocks)."""
    challenge_lifetime: int = 120
    """Seconds a login pushed to the phone waits for an answer."""
    otp_drift_steps: int = 1
    """TOTP codes accepted this many 30 s steps before or after now."""
    otp_attempts: int = 5
    """Wrong one-time codes per login; a professional gets twice that per window (15 min,
    doubling up to 24 h until a code is accepted). Anonymous codes throttle, never lock."""
    stream_max_duration: int = 60
    """Seconds a Server-Sent Events stream (phone, login page) stays open; clients reconnect."""
    stream_heartbeat: int = 15
    """Seconds between two heartbeat comments on an open event stream."""
    webhook_timeout: int = 3
    """Seconds a push-gateway webhook POST may take (connect + answer) before it is dropped."""

    def resolved_activation_delay(self, emulation: bool) -> int:
        if self.activation_delay is not None:
            return self.activation_delay
        return 0 if emulation else 172800


@dataclass
class SmtpSettings:
    """Optional SMTP delivery of the e-mail one-time codes (they always land in the outbox)."""

    host: str = ""
    """Empty: no SMTP (demo/test read the codes from the outbox)."""
    port: int = 25
    from_address: str = "psc-idp@localhost"
    starttls: bool = False
    username: str = ""
    password: str = ""
    timeout: float = 10.0


@dataclass
class OutboundSettings:
    """psc-idp's own outgoing calls (back-channel logout, webhooks): ``outbound.py``."""

    block_private_addresses: bool | None = None
    """Refuse destinations that resolve to loopback, link-local, private or reserved
    addresses. Unset: on in production mode, off in demo/test (demo services run on
    127.0.0.1)."""
    allowed_networks: list[str] = field(default_factory=list)
    """CIDRs always allowed even with the guard on (an RP on a test set-up's private network),
    e.g. ["10.20.0.0/16"]."""


@dataclass
class ServerSettings:
    host: str = "127.0.0.1"
    port: int = 5000
    workers: int = 0
    """0: Flask's threaded server; N>0: gunicorn with N worker processes."""
    worker_class: str = "gthread"
    """gunicorn worker class: ``gthread`` (default) or ``sync`` (one request per process: only
    for deployments without e-CPS waits, which would each hold a whole process)."""
    threads: int = 32
    """gunicorn (workers > 0): threads per worker process (``gthread`` workers). A waiting
    e-CPS page or phone (long-poll or event stream) holds one thread while it waits."""


@dataclass
class WaitSettings:
    """Bounds on the e-CPS waits (long-polls and event streams), per server process
    (``waits.py``): a wait that finds no room is answered at once (the long-poll with the
    current status, the stream with 429/503), with ``Retry-After``."""

    max_open: int = 0
    """Waits held at once by one process. 0: half of ``server.threads`` (at least 1), so
    the other half always serves discovery, token, userinfo and the login pages."""
    per_address: int = 0
    """Login-page waits held at once per client address (after ``[proxy]``), per process.
    0: a quarter of ``max_open`` (at least 1). Phones are not counted per address (mobile
    networks put many behind one address): they are counted per device."""
    per_login: int = 4
    """Waits held at once per login (its waiting page) and per e-CPS device (the phone).
    A client that left is noticed at the next heartbeat (``ecps.stream_heartbeat``): a page
    reloaded or a phone reconnecting several times within it keeps its stream."""
    retry_after: int = 2
    """Seconds a client that found no room waits before asking again (``Retry-After``)."""

    def resolved(self, threads: int) -> tuple[int, int, int]:
        """(max_open, per_address, per_login) with the automatic values filled in."""
        max_open = self.max_open or max(threads // 2, 1)
        return max_open, self.per_address or max(max_open // 4, 1), self.per_login


@dataclass
class RateLimitSettings:
    """Abuse limits (``ratelimit/``), shared by every process and instance: counted in the
    database, or in Redis when ``storage`` names one. Each limit is written in the ``limits``
    notation, ``"3/hour"`` or ``"3 per hour; 10 per day"`` (fixed windows opening at the first
    hit); an empty string turns that limit off."""

    storage: str = ""
    """Empty: the database (SQLite or PostgreSQL, one counter row per window).
    ``redis://host:port/N`` (or ``rediss://``): Redis, with ``pip install psc-idp[redis]``;
    when Redis does not answer, the database counts instead (and the log says so)."""
    key_prefix: str = "psc-idp"
    """Prefix of the Redis keys (several deployments may share one Redis)."""
    activation_per_professional: str = "3/hour"
    """e-CPS activations with the contact codes started per professional (each one sends an
    e-mail and an SMS to them): anyone may start one with a public national id."""
    activation_per_address: str = "20/hour"
    """e-CPS activations (contact or card) started per client address (IPv6: per /64)."""
    client_auth_failures_per_client: str = "30/minute"
    """Wrong client secrets per client. Once spent, a secret is still checked for an address
    that has no wrong secret for this client in its window (the client's own servers), and
    refused unchecked for the others, until the window ends."""
    client_auth_failures_per_client_address: str = "10/minute"
    """Wrong client secrets per client and client address: beyond, refused unchecked."""
    client_auth_failures_per_address: str = "60/minute"
    """Wrong client secrets per client address, whatever the client: beyond, refused
    unchecked."""
    token_refusals_per_address: str = "120/minute"  # noqa: S105 (a limit, not a token)
    """Refused token requests (bad codes, refresh tokens, clients...; not the CIBA polls that
    find a request pending) per client address: beyond, every token request from that
    address is answered 429 until the window ends."""
    token_per_address: str = ""
    """All token requests per client address (off by default: one relying service's servers
    may make many)."""

    LIMITS = ("activation_per_professional", "activation_per_address",
              "client_auth_failures_per_client", "client_auth_failures_per_client_address",
              "client_auth_failures_per_address", "token_refusals_per_address",
              "token_per_address")


@dataclass
class TlsSettings:
    """HTTPS served by psc-idp itself (``pki/``, docs/https.md)."""

    enabled: bool = False
    """Serve TLS (werkzeug and gunicorn). The default public_url becomes https://."""
    cert_file: str = ""
    """PEM certificate chain to serve. Empty: issued by the local TEST authority in
    keys_dir/pki for the hosts of public_url and wallet_url, 127.0.0.1, ::1 and localhost."""
    key_file: str = ""
    """PEM private key of cert_file (required with it)."""
    outgoing_ca_bundle: str = ""
    """PEM file of extra CAs psc-idp trusts for its own outgoing calls (back-channel logout,
    webhooks, jwks_uri), added to the default store. Empty: the default store only."""


@dataclass
class ProxySettings:
    """A reverse proxy in front: whose X-Forwarded-* headers to believe. Default: nobody's."""

    trusted_hops: int = 0
    """Proxies in front of psc-idp; the last N X-Forwarded-For/-Proto/-Host/-Port values
    are applied (werkzeug's ProxyFix). 0: the headers are ignored."""
    trusted_addresses: list[str] = field(default_factory=list)
    """If not empty: apply them only when the direct peer is one of these addresses or
    networks (CIDR); a request from anywhere else keeps its own scheme, host and address."""


@dataclass
class MtlsSettings:
    """The TLS listener that asks for client certificates (``mtls/``, docs/cards.md): card
    logins (the browser presents the card) and RFC 8705 aliases of the token, userinfo,
    introspection, revocation and CIBA endpoints (``tls_client_auth``, bound tokens)."""

    enabled: bool | None = None
    """Start it with ``serve``. Unset: on in demo and test mode, off in production."""
    host: str = "127.0.0.1"
    port: int = 5443
    public_url: str = ""
    """How browsers and RPs reach it (``https://host:port``); PSC puts the card step on
    its wallet host. Empty: ``https://<host>:<port>``. Behind a reverse proxy that asks for
    the certificate itself, that proxy's URL."""
    forwarded_certificate_header: str = ""
    """Behind such a proxy: the request header carrying the client certificate it received
    (PEM, URL-escaped as nginx's ``$ssl_client_escaped_cert``; e.g. ``X-SSL-Client-Cert``).
    Believed only from ``[proxy]`` trusted peers; empty: never."""
    threads: int = 8
    """Worker threads of the listener (each process runs one)."""


@dataclass
class CardSettings:
    """CPx cards (``credentials/cards.py``, docs/cards.md)."""

    accepted_types: list[str] = field(
        default_factory=lambda: ["CPS", "CPF", "CPE", "CPA", "CDE"])
    """Card types that may sign in (PSC accepts every CPx type; unverified for CDE)."""
    lifetime_days: int = 1095
    """Validity of a new card and its certificates: 3 years (seed 002)."""
    cards_dir: str = ""
    """Where ``card issue`` writes a card when ``--out`` is not given. Empty:
    ``<home>/cards``."""
    reader_url: str = "http://127.0.0.1:5004"
    """Where the virtual card reader's page runs in the demo (``card-reader serve``): the
    card step links to it ("insérez votre carte")."""


@dataclass
class ClientSeed:
    client_id: str
    redirect_uris: list[str]
    client_secret: str | None = None
    auth_method: str = "client_secret_basic"
    name: str = ""
    jwks_uri: str | None = None
    jwks: dict[str, Any] | None = None
    userinfo_signed: bool = False
    test_autologin: bool = False
    post_logout_redirect_uris: list[str] = field(default_factory=list)
    backchannel_logout_uri: str | None = None
    backchannel_logout_session_required: bool = False
    frontchannel_logout_uri: str | None = None
    consent_required: bool = False
    fidelity_profile: str = ""
    """``psc`` or ``strict`` for this client; empty: the deployment's profile."""
    userinfo_shape: str = ""
    """``2024`` or ``2023`` for this client; empty: the deployment's shape."""
    tls_client_auth_subject_dn: str = ""
    """RFC 8705 ``tls_client_auth``: the certificate's subject DN (RFC 4514, e.g.
    ``CN=rp.example,O=Hopital,C=FR``)."""
    tls_client_auth_san: str = ""
    """RFC 8705 ``tls_client_auth``, instead of the DN: ``dns:``, ``uri:``, ``ip:`` or
    ``email:`` and the value a SAN of the certificate must have."""
    tls_client_certificate_bound_access_tokens: bool = False
    """RFC 8705 §3: tokens bound to the certificate presented at the token endpoint."""


@dataclass
class Settings:
    mode: str = "demo"
    """demo (persona login, demo data), test (same, for CI pipelines), production (neither)."""
    public_url: str = ""
    """Base URL the provider advertises; the issuer is ``<public_url>/auth/realms/esante-wallet``.
    Empty: ``http://<server.host>:<server.port>``."""
    wallet_url: str = ""
    """Base URL of the browser authorization endpoint (PSC's ``wallet.*`` host).
    Empty: public_url."""
    database_url: str = ""
    """SQLAlchemy URL. Empty: SQLite file ``psc-idp.db`` in the instance folder. PostgreSQL:
    ``postgresql+psycopg://…``; ``postgres://`` and ``postgresql://`` (Heroku-style URLs) are
    read as ``postgresql+psycopg://``."""
    database_pool_size: int = 0
    """PostgreSQL connections each process keeps open (10 more may open for a burst).
    0: ``server.threads``, so a gthread worker under load never opens and closes a connection
    per request (SQLAlchemy's default of 5 did, ~20 new connections a second at N = 16)."""
    home: str = ""
    """The embedded default's folder: ``keys_dir`` and ``instance_dir`` (hence the default
    SQLite file) are ``<home>/keys`` and ``<home>/instance`` unless set. Empty: the project
    folder when psc-idp runs from a source checkout, else ``$XDG_DATA_HOME/psc-idp``
    (``~/.local/share/psc-idp``). Never the current directory (``default_home``)."""
    keys_dir: str = "keys"
    """Signing keys, cookie secret, local TEST authority. Unset or empty: ``<home>/keys``; a
    relative path given explicitly is relative to the current directory."""
    secret_key: str = ""
    """Signs cookies and CSRF tokens. Empty: generated once and kept in keys_dir."""
    instance_dir: str = "instance"
    """Folder of the default SQLite database. Unset or empty: ``<home>/instance``."""
    log_level: str = "INFO"
    demo_data: bool = True
    """Load the demo professionals and clients at init (ignored in production mode)."""
    demo_rp_url: str = "http://127.0.0.1:5001"
    """Where the demo relying service "Dossier patient" runs (client ``psc-demo-rp``)."""
    demo_rp2_url: str = "http://127.0.0.1:5003"
    """Where the second demo service "Messagerie sécurisée" runs (client ``psc-demo-mss``):
    with the first, it shows SSO and single logout."""
    ecps_app_url: str = "http://127.0.0.1:5002"
    """Where the virtual e-CPS app (the phone page) runs in the demo: linked from the home
    page in demo/test mode."""
    authenticators: dict[str, dict[str, Any]] = field(
        default_factory=lambda: {"persona": {}, "card": {}, "ecps": {}, "ecps_otp": {}}
    )
    """Authenticators to enable, by registry name, each with its own settings table. The first
    one's page opens the login; the others are linked from it. Production lists only real means
    (``card``, ``ecps``, ``ecps_otp``): ``persona`` is refused there."""
    clients: list[ClientSeed] = field(default_factory=list)
    oidc: OidcSettings = field(default_factory=OidcSettings)
    quirks: QuirkSettings = field(default_factory=QuirkSettings)
    fidelity: FidelitySettings = field(default_factory=FidelitySettings)
    session: SessionSettings = field(default_factory=SessionSettings)
    server: ServerSettings = field(default_factory=ServerSettings)
    waits: WaitSettings = field(default_factory=WaitSettings)
    rate_limits: RateLimitSettings = field(default_factory=RateLimitSettings)
    ecps: EcpsSettings = field(default_factory=EcpsSettings)
    smtp: SmtpSettings = field(default_factory=SmtpSettings)
    outbound: OutboundSettings = field(default_factory=OutboundSettings)
    tls: TlsSettings = field(default_factory=TlsSettings)
    proxy: ProxySettings = field(default_factory=ProxySettings)
    mtls: MtlsSettings = field(default_factory=MtlsSettings)
    cards: CardSettings = field(default_factory=CardSettings)

    @property
    def issuer(self) -> str:
        return self.public_url.rstrip("/") + REALM_PATH

    @property
    def wallet_base(self) -> str:
        return (self.wallet_url or self.public_url).rstrip("/")

    @property
    def mtls_enabled(self) -> bool:
        """The client-certificate listener runs: by ``[mtls] enabled``, else outside production."""
        return self.emulation_enabled if self.mtls.enabled is None else self.mtls.enabled

    @property
    def mtls_base(self) -> str:
        """Base URL of the client-certificate listener as browsers and RPs reach it."""
        return (self.mtls.public_url or f"https://{self.mtls.host}:{self.mtls.port}").rstrip("/")

    @property
    def is_production(self) -> bool:
        return self.mode == "production"

    @property
    def emulation_enabled(self) -> bool:
        """Persona login, test autologin and demo data: never in production."""
        return self.mode in ("demo", "test")

    def engine_options(self) -> dict[str, Any]:
        """SQLAlchemy engine options for this database (pool sizing on PostgreSQL).

        No ``pool_pre_ping``: a pooled connection PostgreSQL dropped (restart,
        ``pg_terminate_backend``, an idle timeout) is found at checkout without a round trip
        and replaced, with the rest of the pool (``pool_liveness.py``)."""
        options: dict[str, Any] = {"pool_recycle": 1800}
        if not self.resolved_database_url().startswith("sqlite"):
            options["pool_size"] = self.database_pool_size or self.server.threads
            options["max_overflow"] = 10
        return options

    def resolved_database_url(self) -> str:
        if self.database_url:
            return normalised_database_url(self.database_url)
        path = Path(self.instance_dir).resolve() / "psc-idp.db"
        return f"sqlite:///{path}"

    def validate(self) -> None:
        for check in (_check_mode, _check_urls, _check_database_url, _check_lifetimes,
                      _check_fidelity, _check_outbound, _check_tls_and_proxy, _check_rate_limits,
                      _check_production):
            check(self)


def _check_mode(s: Settings) -> None:
    if s.mode not in MODES:
        raise ConfigError(f"mode must be one of {MODES}, not {s.mode!r}")


def normalised_database_url(url: str) -> str:
    """``postgres://`` (Heroku, many PaaS) and ``postgresql://`` name psycopg 3, the driver
    psc-idp installs (SQLAlchemy would look for a ``postgres`` plugin, or psycopg2)."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def _check_database_url(s: Settings) -> None:
    if not s.database_url:
        return
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    url = s.resolved_database_url()
    try:
        parsed = make_url(url)
        parsed.get_dialect()
        if parsed.get_backend_name() not in ("sqlite", "postgresql"):
            raise ValueError(parsed.get_backend_name())
    except (ArgumentError, NoSuchModuleError, ValueError):
        raise ConfigError(
            f"database_url: {url.split(':', 1)[0]!r} is not a database psc-idp can use; give "
            "sqlite:///PATH or postgresql+psycopg://USER:PASSWORD@HOST:5432/NAME") from None


def default_home(environ: dict[str, str] | os._Environ[str] | None = None) -> Path:
    """Where the embedded default lives when ``home`` is not set: the project folder of a
    source checkout (``scripts/run``'s ``keys/`` and ``instance/``), else the user's data
    folder. Never the current directory, so a command run elsewhere finds the same data."""
    env = os.environ if environ is None else environ
    project = Path(__file__).resolve().parent.parent
    marker = project / "pyproject.toml"
    try:
        if marker.is_file() and 'name = "psc-idp"' in marker.read_text(encoding="utf-8") \
                and os.access(project, os.W_OK):
            return project
    except OSError:
        pass
    data = env.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data) / "psc-idp"


def _check_urls(s: Settings) -> None:
    for name in ("public_url", "wallet_url"):
        value = getattr(s, name)
        if value and not value.startswith(("http://", "https://")):
            raise ConfigError(f"{name} must be an http(s) URL, not {value!r}")


def _check_lifetimes(s: Settings) -> None:
    for name in ("access_token_lifetime", "id_token_lifetime", "refresh_token_lifetime",
                 "code_lifetime"):
        if getattr(s.oidc, name) <= 0:
            raise ConfigError(f"oidc.{name} must be positive")
    if s.session.lifetime <= 0 or s.session.idle_timeout <= 0:
        raise ConfigError("session.lifetime and session.idle_timeout must be positive")
    if not (0 < s.session.backchannel_timeout <= 60 and 1 <= s.session.backchannel_attempts <= 20
            and 0 < s.session.backchannel_backoff <= 3600):
        raise ConfigError("session.backchannel_*: timeout 0–60 s, attempts 1–20, backoff > 0")
    if s.oidc.code_lifetime > 600:
        raise ConfigError("oidc.code_lifetime above 600 s breaks RFC 6749 §4.1.2's advice")
    for name in ("stream_max_duration", "stream_heartbeat", "webhook_timeout"):
        if getattr(s.ecps, name) <= 0:
            raise ConfigError(f"ecps.{name} must be positive")
    if s.server.threads <= 0:
        raise ConfigError("server.threads must be positive")
    if s.waits.max_open < 0 or s.waits.per_address < 0 or s.waits.per_login < 1:
        raise ConfigError("waits.max_open and waits.per_address: 0 (automatic) or positive; "
                          "waits.per_login: at least 1")
    if not 1 <= s.waits.retry_after <= 60:
        raise ConfigError("waits.retry_after must be between 1 and 60 seconds")
    if s.database_pool_size < 0:
        raise ConfigError("database_pool_size must be 0 (automatic) or positive")
    if s.server.worker_class not in ("gthread", "sync"):
        raise ConfigError(f"server.worker_class must be gthread or sync, not "
                          f"{s.server.worker_class!r}")


def _check_networks(name: str, values: list[str]) -> None:
    import ipaddress

    for value in values:
        try:
            ipaddress.ip_network(value, strict=False)
        except ValueError as exc:
            raise ConfigError(f"{name}: {exc}") from None


def _check_outbound(s: Settings) -> None:
    _check_networks("outbound.allowed_networks", s.outbound.allowed_networks)


def _check_tls_and_proxy(s: Settings) -> None:
    if bool(s.tls.cert_file) != bool(s.tls.key_file):
        raise ConfigError("tls.cert_file and tls.key_file go together (both, or neither: "
                          "a certificate from the local authority)")
    for name in ("cert_file", "key_file", "outgoing_ca_bundle"):
        path = getattr(s.tls, name)
        if path and not Path(path).is_file():
            raise ConfigError(f"tls.{name}: no such file {path!r}")
    if not 0 <= s.proxy.trusted_hops <= 10:
        raise ConfigError("proxy.trusted_hops must be between 0 and 10")
    if s.proxy.trusted_addresses and not s.proxy.trusted_hops:
        raise ConfigError("proxy.trusted_addresses needs proxy.trusted_hops >= 1")
    _check_networks("proxy.trusted_addresses", s.proxy.trusted_addresses)
    if s.mtls.forwarded_certificate_header and not s.proxy.trusted_hops:
        raise ConfigError("mtls.forwarded_certificate_header needs proxy.trusted_hops >= 1 "
                          "(a certificate header is believed from a trusted proxy only)")
    unknown = set(s.cards.accepted_types) - {"CPS", "CPF", "CPE", "CPA", "CDE"}
    if unknown:
        raise ConfigError(f"cards.accepted_types: unknown card types {sorted(unknown)}")
    if not 1 <= s.cards.lifetime_days <= 3650:
        raise ConfigError("cards.lifetime_days must be between 1 and 3650")


def _check_rate_limits(s: Settings) -> None:
    import importlib.util

    from limits import parse_many

    r = s.rate_limits
    for name in RateLimitSettings.LIMITS:
        value = getattr(r, name)
        if value.strip():
            try:
                parse_many(value)
            except ValueError:
                raise ConfigError(f"rate_limits.{name}: {value!r} is not a limit such as "
                                  "'3/hour' or '3 per hour; 10 per day'") from None
    if r.storage:
        if not r.storage.startswith(("redis://", "rediss://", "redis+unix://")):
            raise ConfigError("rate_limits.storage: empty (the database) or a redis:// URL")
        if importlib.util.find_spec("redis") is None:
            raise ConfigError("rate_limits.storage names Redis but the redis client is not "
                              "installed: pip install 'psc-idp[redis]'")
    if not r.key_prefix or len(r.key_prefix) > 60:
        raise ConfigError("rate_limits.key_prefix: 1 to 60 characters")


def _check_fidelity(s: Settings) -> None:
    if s.fidelity.profile not in ("", "psc", "strict"):
        raise ConfigError(f"fidelity.profile must be psc or strict, not {s.fidelity.profile!r}")
    if s.fidelity.userinfo_shape not in ("2024", "2023"):
        raise ConfigError(f"fidelity.userinfo_shape must be 2024 or 2023, not "
                          f"{s.fidelity.userinfo_shape!r}")


def _check_production(s: Settings) -> None:
    if not s.is_production:
        return
    card_reachable = s.mtls_enabled or bool(s.mtls.forwarded_certificate_header)
    if "persona" in s.authenticators:
        real = ",".join(name for name in s.authenticators if name != "persona"
                        and (name != "card" or card_reachable)) or "ecps,ecps_otp"
        raise ConfigError(
            "the persona authenticator signs anyone in: it is refused in production. Remove "
            "\"persona\" from the authenticators setting ([authenticators] table in the "
            f"PSC_IDP_CONFIG file, or PSC_IDP_AUTHENTICATORS={real}), or run in mode demo/test "
            "(PSC_IDP_MODE=demo)")
    if "card" in s.authenticators and not card_reachable:
        raise ConfigError(
            "the card authenticator needs a listener that asks for client certificates: set "
            "[mtls] enabled = true (PSC_IDP_MTLS__ENABLED=true), or a reverse proxy's "
            "[mtls] forwarded_certificate_header (docs/card-login.md), or remove \"card\" "
            "from the authenticators")
    if any(c.test_autologin for c in s.clients):
        raise ConfigError("test_autologin clients are refused in production: set "
                          "test_autologin = false on the [[clients]] entries of the config file")


# ----------------------------------------------------------------------------- loading

_ENV_PREFIX = "PSC_IDP_"


def load_settings(overrides: dict[str, Any] | None = None,
                  environ: dict[str, str] | None = None) -> Settings:
    """Defaults < TOML file (``PSC_IDP_CONFIG``) < environment < explicit overrides."""
    env = os.environ if environ is None else environ
    data: dict[str, Any] = {}
    config_path = env.get(_ENV_PREFIX + "CONFIG")
    if config_path:
        try:
            with open(config_path, "rb") as fh:
                data = tomllib.load(fh)
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"cannot read {config_path}: {exc}") from exc
    _merge(data, _from_environment(env))
    _merge(data, overrides or {})
    settings = _build(Settings, data, "")
    home = Path(settings.home) if settings.home else default_home(env)
    if "keys_dir" not in data or not settings.keys_dir:
        settings.keys_dir = str(home / "keys")
    if "instance_dir" not in data or not settings.instance_dir:
        settings.instance_dir = str(home / "instance")
    if not settings.public_url:
        scheme = "https" if settings.tls.enabled else "http"
        settings.public_url = f"{scheme}://{settings.server.host}:{settings.server.port}"
    settings.validate()
    return settings


def _from_environment(env: dict[str, str] | os._Environ[str]) -> dict[str, Any]:
    """``PSC_IDP_MODE`` → mode, ``PSC_IDP_OIDC__CODE_LIFETIME`` → oidc.code_lifetime."""
    out: dict[str, Any] = {}
    for key, value in env.items():
        if not key.startswith(_ENV_PREFIX) or key == _ENV_PREFIX + "CONFIG":
            continue
        path = key[len(_ENV_PREFIX):].lower().split("__")
        node = out
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = value
    return out


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> None:
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict) and key != "authenticators":
            _merge(base[key], value)
        else:
            base[key] = value


def _build(cls: type, data: dict[str, Any], where: str) -> Any:
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        if key not in fields:
            raise ConfigError(f"unknown setting {where}{key}")
        kwargs[key] = _coerce(fields[key], value, f"{where}{key}")
    try:
        return cls(**kwargs)
    except TypeError as exc:  # a required setting is missing
        raise ConfigError(f"{where.rstrip('.') or 'settings'}: {exc}") from exc


_NESTED = {"oidc": OidcSettings, "quirks": QuirkSettings, "fidelity": FidelitySettings,
           "session": SessionSettings, "server": ServerSettings, "waits": WaitSettings,
           "rate_limits": RateLimitSettings, "ecps": EcpsSettings,
           "smtp": SmtpSettings, "outbound": OutboundSettings,
           "tls": TlsSettings, "proxy": ProxySettings, "mtls": MtlsSettings,
           "cards": CardSettings}


def _coerce(f: dataclasses.Field[Any], value: Any, where: str) -> Any:
    if f.name in _NESTED and where.count(".") == 0:
        if not isinstance(value, dict):
            raise ConfigError(f"{where} must be a table")
        return _build(_NESTED[f.name], value, where + ".")
    if f.name == "clients" and where == "clients":
        if not isinstance(value, list):
            raise ConfigError("clients must be an array of tables")
        return [_build(ClientSeed, item, f"clients[{i}].") for i, item in enumerate(value)]
    if f.name == "authenticators" and where == "authenticators":
        if isinstance(value, str):  # PSC_IDP_AUTHENTICATORS=persona,ecps
            return {name.strip(): {} for name in value.split(",") if name.strip()}
        if not isinstance(value, dict):
            raise ConfigError("authenticators must be a table")
        return value
    kind = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", "")
    if kind == "list[str]" and not (isinstance(value, list) and
                                    all(isinstance(v, str) for v in value)):
        raise ConfigError(f"{where}: expected a list of strings, got {value!r}")
    try:
        if kind in ("bool", "bool | None") and isinstance(value, str):
            if value.lower() not in ("1", "0", "true", "false", "yes", "no", "on", "off"):
                raise ValueError(value)
            return value.lower() in ("1", "true", "yes", "on")
        if kind == "int" or (kind == "int | None" and value is not None):
            return int(value)
        if kind == "str":
            return str(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: expected {kind}, got {value!r}") from exc
    return value
