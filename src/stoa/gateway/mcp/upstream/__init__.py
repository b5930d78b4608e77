"""Clients for upstreams: an HTTP/1.1 keep-alive pool and a Streamable HTTP MCP client."""
