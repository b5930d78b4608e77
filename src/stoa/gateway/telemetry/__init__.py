"""Prometheus metrics and structured access logs."""
