"""Offline demo upstreams that `stoa up` serves on loopback: REST "weather", MCP "toolbox"."""
