"""STOA: a gateway platform for REST APIs and MCP servers."""
