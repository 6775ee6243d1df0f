"""What `sqlgateway serve` prints before it listens: where it serves, how to authenticate,
where the audit trail goes, and a request to try."""

from __future__ import annotations

from sqlgateway import __version__
from sqlgateway.settings import Settings

__all__ = ["banner"]


def banner(settings: Settings, generated_key: str | None) -> str:
    """The banner for `settings`; `generated_key` is the API key `serve` made for this run."""
    url = settings.served_url
    workers = f", {settings.workers} workers" if settings.workers > 1 else ""
    credential = {"none": "", "oauth": "-H 'Authorization: Bearer <access token>' "}.get(
        settings.auth, f"-H 'Authorization: Bearer {generated_key or '<key>'}' "
    )
    lines = [
        "",
        f"  sqlgateway {__version__} on http://{settings.host}:{settings.port}{workers}",
        f"  OpenAPI spec:   {url}/openapi.yaml",
        *([f"  MCP endpoint:   {url}/mcp (docs/mcp.md)"] if settings.mcp else []),
        f"  Schema docs:    {settings.schema_docs_dir or 'none (SQLGATEWAY_SCHEMA_DOCS_DIR)'}",
        *_auth_lines(settings, generated_key),
        f"  Audit trail:    {_audit_line(settings)}",
        "  try:",
        f"    curl -s {url}/query {credential}"
        "-H 'Content-Type: application/json' "
        """-d '{"sql": "SELECT status, count(*) FROM claims GROUP BY status"}'""",
        "",
    ]
    return "\n".join(lines)


def _auth_lines(settings: Settings, generated_key: str | None) -> list[str]:
    if settings.auth == "none":
        return [
            "  !!! AUTHENTICATION IS OFF (SQLGATEWAY_AUTH=none): anyone who can reach "
            f"{settings.host}:{settings.port} can read everything the database role can. !!!"
        ]
    if settings.auth == "oauth":
        source = settings.oauth_jwks_url or settings.oauth_introspection_url
        return [f"  Auth:           OAuth access tokens from {settings.oauth_issuer} ({source})"]
    if generated_key:
        return [
            f"  API key:        {generated_key}",
            "                  (generated for this run; make a lasting one with "
            "`sqlgateway hash-key --name <name>`)",
        ]
    names = ", ".join(entry.get_secret_value().split(":", 1)[0] for entry in settings.api_keys)
    return [f"  API keys:       {names} (SQLGATEWAY_API_KEYS)"]


def _audit_line(settings: Settings) -> str:
    destination = settings.audit_destination
    if destination == "none":
        return "OFF (SQLGATEWAY_AUDIT_SINK=none): requests are not audited"
    if destination == "jsonl":
        return f"{settings.audit_file}"
    assert settings.audit_database_url is not None
    from sqlgateway.db.pools import describe_dsn

    where = describe_dsn(settings.audit_database_url.get_secret_value())
    return f"PostgreSQL {where}, table {settings.audit_schema}.audit_events"
