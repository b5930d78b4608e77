"""The data plane: serves MCP and REST traffic from an immutable snapshot, never the database."""
