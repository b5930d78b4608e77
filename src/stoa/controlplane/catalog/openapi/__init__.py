"""OpenAPI 3.0 / 3.1 descriptions turned into MCP tool drafts, one per operation.

`parse_openapi` reads the text an API owner uploaded (JSON or YAML) and refuses, with a
message saying what to fix, anything that is not an OpenAPI 3.0.x or 3.1.x document:
Swagger 2.0, syntax errors (with the line), oversized documents, nesting or YAML alias
expansion that would make later processing explode.

`tools_from_openapi` makes one `ToolDraft` per operation, in document order:

- **name**: the operationId reduced to the MCP tool-name charset `[A-Za-z0-9_.-]` and 64
  characters; without one, `<method>_<path>` with `{param}` read as `by_param`
  (`GET /forecast/{city}` → `get_forecast_by_city`). Two operations with one name are an
  error naming both.
- **input schema**: an object with one property per path, query and header parameter
  (path-level parameters merged with the operation's, the operation winning), then the
  JSON request body: merged into the top level when it is a plain object schema whose
  property names clash with no parameter, else carried whole under a `body` property.
  Non-JSON bodies are a `body` string sent with their content type. Cookie parameters are
  left out (the gateway does not forward caller cookies), as are `Accept`, `Content-Type`
  and `Authorization` header parameters, which OpenAPI itself says to ignore. Parameter
  names outside `[A-Za-z0-9_.-]` get a sanitized property name; the binding keeps the
  real one.
- **schemas** are made self-contained JSON Schema 2020-12: local `$ref`s are inlined (a
  reference back into a schema being expanded becomes `{}`, accepting anything), OpenAPI
  3.0 `nullable` becomes a `"null"` type, boolean `exclusiveMinimum`/`exclusiveMaximum`
  become numbers, `example` becomes `examples`, and the OpenAPI-only `xml`,
  `externalDocs` and `discriminator` are dropped. Remote `$ref`s are refused.
- **output schema**: the JSON schema of the first 2xx response when it is an object
  schema (what MCP's `outputSchema` requires), else None.
- **binding**: what the gateway needs to build the HTTP request::

    {"method": "GET", "path": "/forecast/{city}",
     "parameters": [{"name": "city", "in": "path", "property": "city",
                     "style": "simple", "explode": False, "content_type": None}],
     "body": None}

  `style`/`explode` are the parameter's serialization with OpenAPI's defaults filled in;
  `content_type` is set for parameters described by `content` (JSON-encode the value).
  `body` is None or ``{"mode": "merged" | "property", "property": <name> | None,
  "properties": [<merged property names>], "content_type": "application/json",
  "required": bool}``.
"""

from __future__ import annotations

from typing import Any, Final

from stoa.controlplane.catalog.openapi.json_schema import References
from stoa.controlplane.catalog.openapi.operations import tool_from_operation
from stoa.controlplane.catalog.openapi.text import (
    check_document,
    kind_of,
    load_json,
    load_yaml,
    plain,
)
from stoa.controlplane.catalog.tool_draft import ToolDraft
from stoa.kit.errors import InvalidInput

MAX_DOCUMENT_BYTES: Final = 5_000_000
HTTP_METHODS: Final = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def parse_openapi(document: str | bytes) -> dict[str, Any]:
    """Read an OpenAPI 3.0.x or 3.1.x document from JSON or YAML text.

    Returns:
        The document as plain JSON data: string keys (YAML's `200:` becomes `"200"`),
        YAML 1.2 scalars (`yes`, `on` and dates stay strings), `openapi` as a string.

    Raises:
        InvalidInput: the text is too large, not UTF-8, not valid JSON/YAML (the message
            gives the line), nested or alias-expanded beyond the limits, or not an
            OpenAPI 3.0/3.1 object with a `paths` mapping.
    """
    size = len(document) if isinstance(document, bytes) else len(document.encode())
    if size > MAX_DOCUMENT_BYTES:
        raise InvalidInput(f"the document is {size} bytes; the limit is {MAX_DOCUMENT_BYTES} bytes")
    if isinstance(document, bytes):
        try:
            text = document.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise InvalidInput("the document is not UTF-8 text") from None
    else:
        text = document
    if not text.strip():
        raise InvalidInput("the document is empty")
    raw = load_json(text) if text.lstrip().startswith("{") else load_yaml(text)
    data = plain(raw, "", 0)
    version = check_document(data)
    return {**data, "openapi": version}


def tools_from_openapi(document: dict[str, Any]) -> list[ToolDraft]:
    """One tool draft per operation of `document` (as returned by `parse_openapi`).

    Raises:
        InvalidInput: the document breaks a rule a tool depends on (a malformed parameter,
            an unresolvable or remote `$ref`, schemas expanding beyond the limits) or two
            operations map to the same tool name; the message names the operation.
    """
    check_document(document)
    refs = References(document)
    drafts: list[ToolDraft] = []
    owners: dict[str, str] = {}
    for path, raw_item in document["paths"].items():
        if path.startswith("x-"):
            continue
        if not path.startswith("/"):
            raise InvalidInput(f"path {path!r} must start with '/'")
        item = refs.resolve(raw_item, f"path {path}")
        if not isinstance(item, dict):
            raise InvalidInput(f"path {path}: expected an object, found {kind_of(item)}")
        for method in item:
            if method not in HTTP_METHODS:
                continue
            draft = tool_from_operation(refs, path, method, item[method], item.get("parameters"))
            label = f"{method.upper()} {path}"
            if draft.name in owners:
                raise InvalidInput(
                    f"{owners[draft.name]} and {label} both become the tool "
                    f"'{draft.name}'; give them distinct operationIds"
                )
            owners[draft.name] = label
            drafts.append(draft)
    return drafts
