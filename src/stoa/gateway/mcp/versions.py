"""MCP protocol versions the gateway speaks, and what differs between them."""

from __future__ import annotations

from typing import Final

MODERN_VERSION: Final = "2026-07-28"
"""The stateless generation: every request carries its version in `params._meta`."""

LEGACY_VERSIONS: Final = ("2025-03-26", "2025-06-18", "2025-11-25")
"""The session generation, reached through `initialize`, oldest first."""

LATEST_LEGACY_VERSION: Final = LEGACY_VERSIONS[-1]
BATCH_VERSION: Final = "2025-03-26"
"""The only version whose Streamable HTTP transport accepts JSON-RPC batches."""

ALL_VERSIONS: Final = (*LEGACY_VERSIONS, MODERN_VERSION)

PROTOCOL_VERSION_META: Final = "io.modelcontextprotocol/protocolVersion"
CLIENT_CAPABILITIES_META: Final = "io.modelcontextprotocol/clientCapabilities"
CLIENT_INFO_META: Final = "io.modelcontextprotocol/clientInfo"
SERVER_INFO_META: Final = "io.modelcontextprotocol/serverInfo"

NAME_BEARING_METHODS: Final = {"tools/call": "name", "prompts/get": "name", "resources/read": "uri"}
"""2026-07-28: methods whose `Mcp-Name` header mirrors this body parameter."""


def negotiate_legacy(requested: object) -> str:
    """The version to answer `initialize` with: the client's if we speak it, else our latest."""
    if isinstance(requested, str) and requested in LEGACY_VERSIONS:
        return requested
    return LATEST_LEGACY_VERSION
