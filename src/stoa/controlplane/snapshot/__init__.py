"""Builds the config snapshot that gateways serve."""
