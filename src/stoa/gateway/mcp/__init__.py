"""The gateway's MCP endpoint: JSON-RPC 2.0 over Streamable HTTP, spoken natively.

`endpoint.McpEndpoint` is the entry point the gateway server dispatches `/mcp` and
`/mcp/{tenant}/{api}` to. The package is split by concern: `jsonrpc` (messages and
errors), `versions` (protocol generations), `session` (signed session ids), `origin`
(DNS-rebinding protection), `catalog` (what a caller may see, precomputed per snapshot),
`rest_call` (REST tools as HTTP requests), `upstream/` (our own HTTP/1.1 pool and
Streamable HTTP client for upstream MCP servers).
"""
