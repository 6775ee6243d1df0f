"""Prometheus metrics: per-request figures, pool and audit state, several workers."""
