"""The audit trail SQLGATEWAY_AUDIT_* asks for: its sink, wrapped in the writer."""

from __future__ import annotations

from sqlgateway.audit.jsonl import JsonlSink
from sqlgateway.audit.postgres import PostgresSink
from sqlgateway.audit.sink import Sink
from sqlgateway.audit.trail import AuditTrail
from sqlgateway.settings import Settings


def build_sink(settings: Settings) -> Sink | None:
    destination = settings.audit_destination
    if destination == "none":
        return None
    if destination == "postgres":
        if settings.audit_database_url is None:
            raise ValueError("SQLGATEWAY_AUDIT_SINK=postgres needs SQLGATEWAY_AUDIT_DATABASE_URL")
        return PostgresSink(settings.audit_database_url.get_secret_value(), settings.audit_schema)
    return JsonlSink(
        settings.audit_file,
        max_bytes=settings.audit_file_max_bytes,
        rotate_s=settings.audit_file_rotate_s,
    )


def build_trail(settings: Settings) -> AuditTrail | None:
    """The writer for the configured sink (not started); None when auditing is off."""
    sink = build_sink(settings)
    if sink is None:
        return None
    return AuditTrail(
        sink,
        spill_dir=settings.audit_spill_dir,
        commit_window_ms=settings.audit_commit_window_ms,
        commit_max_events=settings.audit_commit_max_events,
        fail_open=settings.audit_fail_open,
    )
