"""The audit trail: one event per request, written off the request path, never lost silently."""
