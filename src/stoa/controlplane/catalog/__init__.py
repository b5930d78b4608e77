"""The catalog: APIs, MCP servers and the tools they expose."""
