"""A tool as imported into the catalog, before it is stored."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class ToolDraft:
    """One tool read from an OpenAPI operation or an upstream MCP server's `tools/list`.

    - `name`: the tool name within its API, from the MCP charset `[A-Za-z0-9_.-]`.
    - `description`: text for the model; may be empty.
    - `input_schema`: a JSON Schema with `"type": "object"` at the root, free of `$ref`s
      for OpenAPI tools; as the upstream sent it for MCP tools.
    - `output_schema`: a JSON Schema for `structuredContent`, or None.
    - `annotations`: MCP tool annotations (`title`, `readOnlyHint`, ...).
    - `binding`: how the gateway turns a call into an HTTP request (see
      `catalog.openapi.tools_from_openapi`); None for MCP tools, which are forwarded as is.

    The dicts are fresh objects owned by the draft; nothing else holds them.
    """

    name: str
    description: str
    input_schema: dict[str, Any]
    output_schema: dict[str, Any] | None
    annotations: dict[str, Any]
    binding: dict[str, Any] | None
