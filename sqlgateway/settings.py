"""Settings: the only home of defaults and limits.

Every field is read from an environment variable named ``SQLGATEWAY_<FIELD>`` (upper case).
Units are part of the names. The README's configuration table is generated from the field
descriptions here (``sqlgateway settings --markdown``) and a test keeps it in step.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import platformdirs
from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

#: The GPT action platform cuts requests at 45 s and payloads at 100,000 characters.
PLATFORM_REQUEST_TIMEOUT_MS = 45_000
PLATFORM_MAX_PAYLOAD_CHARS = 100_000

CommaList = Annotated[tuple[str, ...], NoDecode]


def _split_commas(value: Any) -> Any:
    if isinstance(value, str):
        return tuple(item.strip() for item in value.split(",") if item.strip())
    return value


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("sqlgateway")) / "pgdata"


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
    api_keys: Annotated[tuple[SecretStr, ...], NoDecode] = Field(
        default=(),
        description=(
            "Comma-separated API keys accepted as `Authorization: Bearer <key>`. "
            "Unset: a random key is generated at start and printed."
        ),
    )
    host: str = Field(default="127.0.0.1", description="Interface to listen on.")
    port: int = Field(default=8000, ge=0, le=65535, description="TCP port to listen on.")
    public_url: str | None = Field(
        default=None,
        description=(
            "URL the GPT reaches the gateway at; becomes `servers[0].url` of the served "
            "OpenAPI spec. Unset: http://<host>:<port>."
        ),
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
        description="Longer text, bytea and JSON values are clipped to this many characters "
        "with a visible marker.",
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
    log_level: str = Field(default="info", description="Log level of the service's own logs.")

    @field_validator("api_keys", "replica_urls", mode="before")
    @classmethod
    def _split_keys(cls, value: Any) -> Any:
        return _split_commas(value)

    @field_validator(
        "allowed_functions",
        "allowed_schemas",
        "allowed_tables",
        "allowed_system_relations",
        mode="before",
    )
    @classmethod
    def _split_lists(cls, value: Any) -> Any:
        return _split_commas(value)

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
        if self.pool_min_size > self.pool_max_size:
            raise ValueError("SQLGATEWAY_POOL_MIN_SIZE must not exceed SQLGATEWAY_POOL_MAX_SIZE.")
        if self.privacy_policy_file is not None and self.privacy_policy_text is not None:
            raise ValueError(
                "set SQLGATEWAY_PRIVACY_POLICY_FILE or SQLGATEWAY_PRIVACY_POLICY_TEXT, not both."
            )
        return self

    @property
    def served_url(self) -> str:
        return self.public_url or f"http://{self.host}:{self.port}"
