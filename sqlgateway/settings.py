"""Settings: the only home of defaults and limits.

Every field is read from an environment variable named ``SQLGATEWAY_<FIELD>`` (upper case).
Units are part of the names. docs/configuration.md's table is generated from the field
descriptions here (``sqlgateway settings``) and a test keeps it in step.
"""

from __future__ import annotations

import ipaddress
import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import platformdirs
from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from sqlgateway.guard.policy import function_names, relation_names, schema_names
from sqlgateway.logs import log_level

#: The GPT action platform cuts requests at 45 s and payloads at 100,000 characters.
PLATFORM_REQUEST_TIMEOUT_MS = 45_000
PLATFORM_MAX_PAYLOAD_CHARS = 100_000

CommaList = Annotated[tuple[str, ...], NoDecode]

#: `name:sha256:<hex>`: what SQLGATEWAY_API_KEYS holds (see `sqlgateway hash-key`).
API_KEY_ENTRY = re.compile(r"[A-Za-z0-9_.@-]{1,64}:sha256:[0-9a-f]{64}")
#: `prefix.name=claim` pairs of SQLGATEWAY_SCOPE_SETTINGS.
SCOPE_SETTING = re.compile(r"\s*[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*\s*=\s*[^\s=,]+\s*")
#: JWT algorithms with a public key; `none` and HS* are refused by construction.
ASYMMETRIC_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)


#: Settings that are gone, and what to use instead: refused at start rather than ignored.
RETIRED_SETTINGS = {
    "SQLGATEWAY_AUDIT_FLUSH_MS": "SQLGATEWAY_AUDIT_COMMIT_WINDOW_MS (events are written before "
    "the answer leaves, not up to a flush interval later)",
    "SQLGATEWAY_AUDIT_BATCH_SIZE": "SQLGATEWAY_AUDIT_COMMIT_MAX_EVENTS",
    "SQLGATEWAY_AUDIT_QUEUE_SIZE": "nothing (every pending event belongs to a request "
    "waiting for it)",
}


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


_DEFAULT_PORTS = {"http": 80, "https": 443}


def origin_of(url: str) -> str:
    """The web origin of `url` as browsers send it in `Origin`: `scheme://host[:port]`,
    lower case, without a default port. ValueError if `url` has no http(s) scheme and host.

    >>> origin_of("https://GW.example.com:443/sql/"), origin_of("http://127.0.0.1:8000")
    ('https://gw.example.com', 'http://127.0.0.1:8000')
    """
    parts = urlsplit(url.strip())
    if parts.scheme.lower() not in _DEFAULT_PORTS or not parts.hostname:
        raise ValueError(f"{url!r} is not an http(s) URL")
    host = parts.hostname.lower()
    host = f"[{host}]" if ":" in host else host
    port = parts.port
    default = _DEFAULT_PORTS[parts.scheme.lower()]
    return f"{parts.scheme.lower()}://{host}" + (f":{port}" if port and port != default else "")


def _split_commas(value: Any) -> Any:
    if isinstance(value, str):
        return tuple(item.strip() for item in value.split(",") if item.strip())
    return value


def default_state_dir() -> Path:
    return Path(platformdirs.user_data_dir("sqlgateway"))


def default_data_dir() -> Path:
    return default_state_dir() / "pgdata"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="SQLGATEWAY_", frozen=True, extra="ignore", validate_default=True
    )

    database_url: SecretStr | None = Field(
        default=None,
        description=(
            "PostgreSQL URL the gateway reads through (use a read-only role). "
            "Unset: start the embedded demo server."
        ),
    )
    auth: Literal["none", "api_key", "oauth"] = Field(
        default="api_key",
        description="Who may call the API: `api_key` (SQLGATEWAY_API_KEYS), `oauth` (bearer "
        "access tokens from an identity provider, see docs/auth.md) or `none` (only on a "
        "loopback host unless SQLGATEWAY_ALLOW_NO_AUTH_ON_PUBLIC_HOST is set).",
    )
    api_keys: Annotated[tuple[SecretStr, ...], NoDecode] = Field(
        default=(),
        description="Comma-separated `name:sha256:<hex>` entries, made by `sqlgateway hash-key "
        "--name <name>`; never plain keys. A key is accepted as `Authorization: Bearer <key>`, "
        "as the password of `Authorization: Basic`, or in SQLGATEWAY_API_KEY_HEADER; the "
        "name is the actor. Unset with `serve`: a random key is generated and printed.",
    )
    api_key_header: str | None = Field(
        default=None,
        description="Extra header the key may arrive in, for the GPT editor's `Custom` API "
        "key option (e.g. `X-API-Key`).",
    )
    allow_no_auth_on_public_host: bool = Field(
        default=False,
        description="Let SQLGATEWAY_AUTH=none serve on a non-loopback host (anyone who reaches "
        "it can read everything the role can).",
    )
    oauth_issuer: str | None = Field(
        default=None, description="Required `iss` of access tokens (exact match)."
    )
    oauth_audience: str | None = Field(
        default=None, description="Required `aud` of access tokens (one of its values)."
    )
    oauth_jwks_url: str | None = Field(
        default=None,
        description="The provider's JWKS URL (https://, or file:// for a local key set): JWT "
        "access tokens are verified against its keys.",
    )
    oauth_algorithms: CommaList = Field(
        default=("RS256", "ES256"),
        description="Comma-separated JWT signature algorithms accepted (RS*, PS*, ES*, EdDSA); "
        "`none` and HMAC are always refused.",
    )
    oauth_leeway_s: int = Field(
        default=30, ge=0, le=300, description="Clock skew allowed on exp/nbf/iat, in seconds."
    )
    oauth_actor_claim: str = Field(
        default="sub",
        description="Token claim that names the actor recorded in the audit log (e.g. `sub`, "
        "`email`).",
    )
    oauth_required_scopes: CommaList = Field(
        default=(),
        description="Comma-separated scopes a token must carry (`scope`/`scp` claim); a valid "
        "token without them gets 403.",
    )
    oauth_jwks_cache_s: int = Field(
        default=3_600, ge=1, description="How long fetched JWKS keys are used, in seconds."
    )
    oauth_jwks_min_refresh_s: int = Field(
        default=30,
        ge=0,
        description="Least time between two JWKS fetches caused by unknown `kid`s, in seconds.",
    )
    oauth_introspection_url: str | None = Field(
        default=None,
        description="RFC 7662 introspection endpoint for opaque (non-JWT) access tokens.",
    )
    oauth_client_id: str | None = Field(
        default=None, description="Client id the gateway authenticates to introspection with."
    )
    oauth_client_secret: SecretStr | None = Field(
        default=None, description="Client secret the gateway authenticates to introspection with."
    )
    oauth_introspection_cache_s: int = Field(
        default=300,
        ge=0,
        description="Longest time an introspection answer is reused (never past the token's "
        "`exp`), in seconds.",
    )
    oauth_authorization_url: str | None = Field(
        default=None,
        description="The provider's authorization URL, written into the OpenAPI spec's OAuth "
        "scheme (the GPT editor asks for it too).",
    )
    oauth_token_url: str | None = Field(
        default=None, description="The provider's token URL, written into the OpenAPI spec."
    )
    oauth_scopes: CommaList = Field(
        default=(),
        description="Comma-separated scopes the GPT asks for, written into the OpenAPI spec.",
    )
    scope_role_claim: str | None = Field(
        default=None,
        description="Token claim naming the database role each request runs as (`SET LOCAL "
        "ROLE`); the role must be in SQLGATEWAY_SCOPE_ALLOWED_ROLES, else 403.",
    )
    scope_allowed_roles: CommaList = Field(
        default=(),
        description="Comma-separated roles a request may run as; each is checked read-only at "
        "connect, like the login role.",
    )
    scope_default_role: str | None = Field(
        default=None,
        description="Role used when the token has no SQLGATEWAY_SCOPE_ROLE_CLAIM claim. Unset: "
        "such tokens get 403.",
    )
    scope_settings: CommaList = Field(
        default=(),
        description="Comma-separated `setting=claim` pairs published transaction-locally to "
        "row-level-security policies, e.g. `sqlgateway.user_id=sub`; a token without the claim "
        "gets 403. `sqlgateway.actor` is always set.",
    )
    rate_limit_per_minute: float = Field(
        default=0,
        ge=0,
        description="Requests per minute each actor may make (token bucket); over it: 429 with "
        "Retry-After. 0: no limit.",
    )
    rate_limit_burst: int = Field(
        default=20, ge=1, description="Requests an actor may make at once above the rate."
    )
    max_concurrent_queries_per_actor: int = Field(
        default=0,
        ge=0,
        description="Queries one actor may run at once (per worker); more wait up to "
        "SQLGATEWAY_POOL_ACQUIRE_TIMEOUT_MS, then 429. 0: only the pool limits.",
    )
    host: str = Field(default="127.0.0.1", description="Interface to listen on.")
    port: int = Field(default=8000, ge=0, le=65535, description="TCP port to listen on.")
    trusted_proxies: CommaList = Field(
        default=(),
        description="Comma-separated addresses of reverse proxies whose X-Forwarded-For and "
        "X-Forwarded-Proto are believed (`*`: any); the audit trail then records the real client "
        "address. Unset: forwarded headers are ignored.",
    )
    public_url: str | None = Field(
        default=None,
        description=(
            "URL the GPT reaches the gateway at; becomes `servers[0].url` of the served "
            "OpenAPI spec. Unset: http://<host>:<port>."
        ),
    )
    mcp: bool = Field(
        default=True,
        description="Serve the MCP endpoint `/mcp` (Streamable HTTP, tools `run_query` and "
        "`get_schema`) beside the REST API, with the same auth, guard and audit; see docs/mcp.md.",
    )
    mcp_allowed_origins: CommaList = Field(
        default=("https://chatgpt.com", "https://claude.ai"),
        description="Comma-separated web origins (`https://host[:port]`) whose pages may call "
        "`/mcp` from a browser, besides the gateway's own (SQLGATEWAY_PUBLIC_URL); a request "
        "with any other `Origin` header gets 403 (DNS-rebinding defence). Requests without "
        "`Origin` (agents, desktop hosts) are not affected. Empty: the gateway's own only.",
    )
    statement_timeout_ms: int = Field(
        default=25_000,
        gt=0,
        description="PostgreSQL statement_timeout for each query, in milliseconds (< 45000).",
    )
    request_deadline_ms: int = Field(
        default=40_000,
        gt=0,
        description=(
            "Deadline for a whole request (pool wait, execution, encoding), in milliseconds; "
            "above statement_timeout_ms and below the platform's 45000."
        ),
    )
    max_response_chars: int = Field(
        default=95_000,
        ge=1_000,
        le=PLATFORM_MAX_PAYLOAD_CHARS,
        description="Largest response body, in characters (UTF-8 bytes, so never more characters).",
    )
    max_request_chars: int = Field(
        default=PLATFORM_MAX_PAYLOAD_CHARS,
        ge=100,
        description="Largest accepted request body, in bytes; larger bodies get 413 unread.",
    )
    max_cell_chars: int = Field(
        default=10_000,
        ge=100,
        description="Longer text, bytea, JSON, numeric and other values are clipped to this "
        "many characters with a visible marker and their length, by PostgreSQL (arrays, "
        "composites and ranges once longer than the response).",
    )
    pool_min_size: int = Field(default=1, ge=0, description="Connections kept open per worker.")
    pool_max_size: int = Field(default=10, ge=1, description="Most connections per worker.")
    pool_acquire_timeout_ms: int = Field(
        default=5_000,
        gt=0,
        description="How long a request waits for a free connection before 503, in milliseconds.",
    )
    cursor_prefetch_rows: int = Field(
        default=500, ge=1, description="Rows fetched per round trip while streaming a result."
    )
    free_sql: bool = Field(
        default=True,
        description="Serve free SQL (POST /query, the action runQuery). `false`: locked-down "
        "mode, only the named queries of the schema docs and GET /schema are served; /query "
        "answers 403 and the action spec leaves runQuery out.",
    )
    allowed_functions: CommaList = Field(
        default=(),
        description="Comma-separated extra function names the guard allows "
        "(e.g. `public.fiscal_quarter`), on top of the built-in safe list.",
    )
    allowed_schemas: CommaList = Field(
        default=(),
        description="Comma-separated schemas queries may read. Unset: every non-system schema.",
    )
    allowed_tables: CommaList = Field(
        default=(),
        description="Comma-separated `schema.table` names queries may read. Unset: all tables "
        "of the allowed schemas.",
    )
    allowed_system_relations: CommaList = Field(
        default=(),
        description="Comma-separated system relations (e.g. `pg_catalog.pg_class`) that are "
        "readable despite the system-schema ban.",
    )
    max_plan_cost: float = Field(
        default=10_000_000,
        ge=0,
        description="Refuse a query whose estimated cost (EXPLAIN, in PostgreSQL cost units, "
        "counted for the rows a response can hold) is above this; 0 turns the check off.",
    )
    max_plan_rows: float = Field(
        default=1_000_000_000,
        ge=0,
        description="Refuse a query that is estimated to sort, hash or aggregate more rows than "
        "this in one step; 0 turns the check off.",
    )
    embedded_data_dir: Path = Field(
        default_factory=default_data_dir,
        description="Data directory of the embedded demo PostgreSQL, reused between starts "
        "(default: the user data directory, e.g. `~/.local/share/sqlgateway/pgdata`).",
    )
    schema_docs_dir: Path | None = Field(
        default=None,
        description="Directory of schema docs (`*.yaml`, see docs/schema_docs.md) describing the "
        "data to the GPT: merged with the live catalog into GET /schema and the GPT instructions; "
        "their `sensitive: true` columns are refused in queries. Unset: the bundled demo docs "
        "when serving the embedded demo, none otherwise.",
    )
    catalog_refresh_s: int = Field(
        default=600,
        ge=0,
        description="Age in seconds after which the live catalog (tables, columns, keys, "
        "comments, row estimates) is read again, by the next request that needs it; 0: read once.",
    )
    privacy_policy_file: Path | None = Field(
        default=None,
        description="File served at GET /privacy, the privacy policy URL a public GPT needs "
        "(HTML if it ends in .html or .htm, else plain text); read at start.",
    )
    privacy_policy_text: str | None = Field(
        default=None,
        description="Text served at GET /privacy when no file is set. Neither set: a neutral "
        "notice saying what the gateway does with requests.",
    )
    workers: int = Field(
        default=1,
        ge=1,
        description="Worker processes `serve` runs, each with its own pools (so up to "
        "workers × pool_max_size connections per database).",
    )
    replica_urls: Annotated[tuple[SecretStr, ...], NoDecode] = Field(
        default=(),
        description="Comma-separated PostgreSQL URLs of read replicas (same read-only role "
        "check): queries go round-robin to the replicas that answer, and to "
        "SQLGATEWAY_DATABASE_URL only when none does. Unset: every query goes to "
        "SQLGATEWAY_DATABASE_URL.",
    )
    replica_retry_ms: int = Field(
        default=2_000,
        gt=0,
        description="How long a database whose connection failed is skipped before it is "
        "tried again, in milliseconds.",
    )
    pgbouncer: bool = Field(
        default=False,
        description="The URLs point at PgBouncer in transaction pooling mode: send no startup "
        "parameters but application_name and set everything per transaction "
        "(see docs/deployment.md).",
    )
    audit_sink: Literal["auto", "postgres", "jsonl", "none"] = Field(
        default="auto",
        description="Where the audit trail goes: `postgres` (SQLGATEWAY_AUDIT_DATABASE_URL), "
        "`jsonl` (SQLGATEWAY_AUDIT_FILE) or `none`. `auto`: postgres when the URL is set "
        "(`serve` sets it for the embedded demo), else jsonl.",
    )
    audit_database_url: SecretStr | None = Field(
        default=None,
        description="PostgreSQL URL of the audit writer: its own role, which may write the audit "
        "schema and must not read the served data.",
    )
    audit_schema: str = Field(
        default="sqlgateway_audit",
        description="Schema of the audit table (`audit_events`), created and migrated at start.",
    )
    audit_file: Path = Field(
        default_factory=lambda: default_state_dir() / "audit" / "audit.jsonl",
        description="JSON Lines audit file (default: the user data directory, e.g. "
        "`~/.local/share/sqlgateway/audit/audit.jsonl`).",
    )
    audit_file_max_bytes: int = Field(
        default=100_000_000, ge=1_000, description="Size at which the audit file is rotated."
    )
    audit_file_rotate_s: int = Field(
        default=86_400,
        ge=0,
        description="Age at which the audit file is rotated, in seconds; 0: never.",
    )
    audit_spill_dir: Path = Field(
        default_factory=lambda: default_state_dir() / "audit-spill",
        description="Where events wait, written and fsynced, while the audit sink is down; "
        "replayed when it answers again (or by the next start, or a sibling worker, after a "
        "crash).",
    )
    audit_commit_window_ms: float = Field(
        default=1.0,
        ge=0,
        le=1_000,
        description="Group commit: how long the audit writer waits after a request's event for "
        "others to share its write (one INSERT, or one write and fsync), in milliseconds. Every "
        "answer waits for its event to be durable; a longer window means fewer writes under "
        "load and more latency per request. 0: write at once (requests that end while a write "
        "is under way still share the next one).",
    )
    audit_commit_max_events: int = Field(
        default=500,
        ge=1,
        description="Group commit: most events in one write; a full batch is written without "
        "waiting out the window.",
    )
    audit_fail_open: bool = Field(
        default=False,
        description="When no audit sink can take an event (the sink is down and the spill "
        "directory cannot be written): false, requests get 503 `unavailable` before any SQL "
        "runs; true, they are answered anyway and every answer without its event is counted "
        "(`sqlgateway_audit_events_unaudited_total`) and logged.",
    )
    log_level: str = Field(
        default="info",
        description="Log level of the service's own logs: trace, debug, info, warning, error "
        "or critical.",
    )
    log_format: Literal["json", "text"] = Field(
        default="json",
        description="Service logs (not the audit trail) as JSON lines, one per request with "
        "its request id, or as plain text.",
    )

    @field_validator("api_keys", "replica_urls", mode="before")
    @classmethod
    def _split_keys(cls, value: Any) -> Any:
        return _split_commas(value)

    @field_validator(
        "allowed_functions",
        "allowed_schemas",
        "allowed_tables",
        "allowed_system_relations",
        "oauth_algorithms",
        "oauth_required_scopes",
        "oauth_scopes",
        "scope_allowed_roles",
        "scope_settings",
        "trusted_proxies",
        "mcp_allowed_origins",
        mode="before",
    )
    @classmethod
    def _split_lists(cls, value: Any) -> Any:
        return _split_commas(value)

    @field_validator("mcp_allowed_origins")
    @classmethod
    def _origins(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        origins = []
        for entry in value:
            parts = urlsplit(entry)
            try:
                origin = origin_of(entry)
            except ValueError:
                origin = ""
            extra = parts.path not in ("", "/") or parts.query or parts.fragment or parts.username
            if not origin or extra or "*" in entry:
                raise ValueError(
                    f"{entry!r} is not a web origin such as https://app.example.com or "
                    "http://localhost:6274 (scheme, host and port only; no path, no `*`)"
                )
            origins.append(origin)
        return tuple(origins)

    @field_validator("api_keys")
    @classmethod
    def _hashed_keys(cls, value: tuple[SecretStr, ...]) -> tuple[SecretStr, ...]:
        names = []
        for number, entry in enumerate(value, start=1):
            # never echo the entry: it may be a plain key pasted by mistake
            if not API_KEY_ENTRY.fullmatch(entry.get_secret_value()):
                raise ValueError(
                    f"entry {number} is not `name:sha256:<64 hex digits>`; make one with "
                    "`sqlgateway hash-key --name <name>` (plain keys are never configured)"
                )
            names.append(entry.get_secret_value().split(":", 1)[0])
        if len(set(names)) != len(names):
            raise ValueError("API key names must be unique: the name is the actor")
        return value

    @field_validator("allowed_functions")
    @classmethod
    def _function_names(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        function_names(value)
        return value

    @field_validator("allowed_schemas")
    @classmethod
    def _schema_names(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        schema_names(value)
        return value

    @field_validator("allowed_tables", "allowed_system_relations")
    @classmethod
    def _relation_names(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        relation_names(value)
        return value

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        log_level(value)  # ValueError names the choices
        return value.strip().lower()

    @field_validator("oauth_algorithms")
    @classmethod
    def _asymmetric_only(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        refused = [alg for alg in value if alg not in ASYMMETRIC_ALGORITHMS]
        if refused or not value:
            raise ValueError(
                f"{refused or 'an empty list'} not allowed: use some of "
                f"{', '.join(sorted(ASYMMETRIC_ALGORITHMS))} (`none` and HMAC are never accepted)"
            )
        return value

    @field_validator("scope_settings")
    @classmethod
    def _setting_pairs(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for pair in value:
            if not SCOPE_SETTING.fullmatch(pair):
                raise ValueError(
                    f"{pair!r} is not `prefix.name=claim` (a custom setting needs a dot, "
                    "e.g. `sqlgateway.user_id=sub`)"
                )
        return value

    @field_validator("statement_timeout_ms")
    @classmethod
    def _under_platform_timeout(cls, value: int) -> int:
        if value >= PLATFORM_REQUEST_TIMEOUT_MS:
            raise ValueError(
                f"SQLGATEWAY_STATEMENT_TIMEOUT_MS={value} is not below the GPT action platform's "
                f"{PLATFORM_REQUEST_TIMEOUT_MS} ms request timeout; the model would never see "
                "the answer. Use a value such as 25000."
            )
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        if not self.statement_timeout_ms < self.request_deadline_ms < PLATFORM_REQUEST_TIMEOUT_MS:
            raise ValueError(
                "SQLGATEWAY_REQUEST_DEADLINE_MS must be above SQLGATEWAY_STATEMENT_TIMEOUT_MS "
                f"({self.statement_timeout_ms}) and below {PLATFORM_REQUEST_TIMEOUT_MS}; "
                f"got {self.request_deadline_ms}."
            )
        retired = [
            f"{name}: use {instead}"
            for name, instead in RETIRED_SETTINGS.items()
            if name in os.environ
        ]
        if retired:
            raise ValueError("retired settings are set; " + "; ".join(retired))
        if self.pool_min_size > self.pool_max_size:
            raise ValueError("SQLGATEWAY_POOL_MIN_SIZE must not exceed SQLGATEWAY_POOL_MAX_SIZE.")
        self._check_auth()
        if self.privacy_policy_file is not None and self.privacy_policy_text is not None:
            raise ValueError(
                "set SQLGATEWAY_PRIVACY_POLICY_FILE or SQLGATEWAY_PRIVACY_POLICY_TEXT, not both."
            )
        return self

    def _check_auth(self) -> None:
        public = not (self.allow_no_auth_on_public_host or is_loopback(self.host))
        if self.auth == "none" and public:
            raise ValueError(
                f"SQLGATEWAY_AUTH=none on host {self.host!r} would let anyone who reaches it "
                "read the database; listen on 127.0.0.1, choose api_key or oauth, or set "
                "SQLGATEWAY_ALLOW_NO_AUTH_ON_PUBLIC_HOST=true"
            )
        if self.auth == "oauth":
            missing = [
                name
                for name, value in (
                    ("SQLGATEWAY_OAUTH_ISSUER", self.oauth_issuer),
                    ("SQLGATEWAY_OAUTH_AUDIENCE", self.oauth_audience),
                )
                if not value
            ]
            if not (self.oauth_jwks_url or self.oauth_introspection_url):
                missing.append("SQLGATEWAY_OAUTH_JWKS_URL or SQLGATEWAY_OAUTH_INTROSPECTION_URL")
            if self.oauth_introspection_url and not (
                self.oauth_client_id and self.oauth_client_secret
            ):
                missing.append("SQLGATEWAY_OAUTH_CLIENT_ID and SQLGATEWAY_OAUTH_CLIENT_SECRET")
            if missing:
                raise ValueError(f"SQLGATEWAY_AUTH=oauth needs {', '.join(missing)}")
        if self.scope_role_claim and not self.scope_allowed_roles:
            raise ValueError(
                "SQLGATEWAY_SCOPE_ROLE_CLAIM needs SQLGATEWAY_SCOPE_ALLOWED_ROLES (the roles a "
                "token may choose)"
            )
        if self.scope_default_role and self.scope_default_role not in self.scope_allowed_roles:
            raise ValueError(
                "SQLGATEWAY_SCOPE_DEFAULT_ROLE must be one of SQLGATEWAY_SCOPE_ALLOWED_ROLES"
            )
        claims_needed = self.scope_settings or (
            self.scope_role_claim and not self.scope_default_role
        )
        if claims_needed and self.auth != "oauth":
            raise ValueError(
                "SQLGATEWAY_SCOPE_SETTINGS and SQLGATEWAY_SCOPE_ROLE_CLAIM read token claims: "
                f"they need SQLGATEWAY_AUTH=oauth (with {self.auth} every request would get "
                "403); to run every request as one role, set SQLGATEWAY_SCOPE_DEFAULT_ROLE"
            )

    @property
    def scope_setting_claims(self) -> tuple[tuple[str, str], ...]:
        """`(setting, claim)` pairs of SQLGATEWAY_SCOPE_SETTINGS."""
        return tuple(
            (setting.strip(), claim.strip())
            for setting, _, claim in (pair.partition("=") for pair in self.scope_settings)
        )

    @property
    def audit_destination(self) -> Literal["postgres", "jsonl", "none"]:
        """The audit sink `auto` resolves to."""
        if self.audit_sink != "auto":
            return self.audit_sink
        return "postgres" if self.audit_database_url is not None else "jsonl"

    @property
    def served_url(self) -> str:
        return self.public_url or f"http://{self.host}:{self.port}"
