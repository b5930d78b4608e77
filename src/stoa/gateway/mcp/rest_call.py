"""REST tools: an OpenAPI operation's binding plus tool arguments become an HTTP request,
and the HTTP response becomes an MCP tool result.

The binding (see the control plane's OpenAPI import) says where each argument goes:
path, query or header parameter, serialized with its OpenAPI `style`/`explode` (or as JSON
when the parameter is described by `content`), and which arguments form the JSON body
(`merged`: named top-level properties; `property`: one property holding the whole body).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import quote

import msgspec

from stoa.contract.snapshot import UpstreamAuth
from stoa.gateway.mcp.jsonrpc import INVALID_PARAMS, JsonRpcError

_encoder: Final = msgspec.json.Encoder()
_decoder: Final = msgspec.json.Decoder()
ERROR_EXCERPT: Final = 2_000
"""Characters of an error response body quoted in the tool result."""
_UNRESERVED: Final = "-._~"


@dataclass(frozen=True, slots=True)
class HttpCall:
    method: str
    target: str  # path and query, encoded
    headers: list[tuple[str, str]]
    body: bytes


def build_call(
    binding: dict[str, Any],
    arguments: dict[str, Any],
    *,
    base_path: str,
    auth: UpstreamAuth | None,
) -> HttpCall:
    """The HTTP request for one tool call.

    Raises:
        JsonRpcError: -32602 when a path parameter is missing or a value cannot be sent
            (a header value with a line break).
    """
    path: str = binding["path"]
    query: list[str] = []
    headers: list[tuple[str, str]] = [("Accept", "application/json, */*;q=0.5")]
    for parameter in binding["parameters"]:
        prop = parameter["property"]
        value = arguments.get(prop)
        location = parameter["in"]
        name = parameter["name"]
        if value is None:
            if location == "path":
                raise _invalid(f"the argument '{prop}' is required")
            continue
        if parameter.get("content_type"):
            value = _encoder.encode(value).decode()
        style, explode = parameter["style"], parameter["explode"]
        if location == "path":
            path = path.replace("{" + name + "}", _path_value(name, value, style, explode))
        elif location == "query":
            query.extend(_query_pairs(name, value, style, explode))
        elif location == "header":
            text = _joined(value, explode, quoted=False)
            if "\r" in text or "\n" in text or "\r" in name or "\n" in name:
                raise _invalid(f"the argument '{prop}' cannot be sent as a header")
            headers.append((name, text))
    body = b""
    spec = binding.get("body")
    if spec is not None:
        if spec["mode"] == "merged":
            fields = {p: arguments[p] for p in spec["properties"] if p in arguments}
            if fields or spec["required"]:
                body = _encoder.encode(fields)
        else:
            payload = arguments.get(spec["property"])
            if payload is not None:
                content_type = str(spec["content_type"])
                if _is_json(content_type):
                    body = _encoder.encode(payload)
                else:
                    body = (payload if isinstance(payload, str) else str(payload)).encode()
        if body:
            headers.append(("Content-Type", str(spec["content_type"])))
    if auth is not None:
        if auth.location == "header":
            headers.append((auth.name, auth.value))
        else:
            query.append(f"{quote(auth.name, safe=_UNRESERVED)}={quote(auth.value, safe='')}")
    target = base_path + path
    if query:
        target += "?" + "&".join(query)
    return HttpCall(binding["method"], target, headers, body)


def tool_result(status: int, content_type: str, body: bytes) -> dict[str, Any]:
    """The `CallToolResult` for a backend's answer.

    The body is the text content; a JSON object body is also `structuredContent`. A status
    of 400 or more makes the result an error (`isError`) whose text starts with the status
    and quotes the first `ERROR_EXCERPT` characters of the body.
    """
    text = body.decode("utf-8", errors="replace")
    if status >= 400:
        excerpt = text[:ERROR_EXCERPT] + ("…" if len(text) > ERROR_EXCERPT else "")
        message = f"The API answered HTTP {status}" + (f": {excerpt}" if excerpt else "")
        return {"content": [{"type": "text", "text": message}], "isError": True}
    result: dict[str, Any] = {"content": [{"type": "text", "text": text}]}
    if _is_json(content_type) and body:
        try:
            decoded = _decoder.decode(body)
        except (msgspec.DecodeError, ValueError, RecursionError):
            decoded = None
        if isinstance(decoded, dict):
            result["structuredContent"] = decoded
    return result


def _is_json(content_type: str) -> bool:
    essence = content_type.split(";", 1)[0].strip().lower()
    return essence == "application/json" or essence.endswith("+json")


def _invalid(why: str) -> JsonRpcError:
    return JsonRpcError(INVALID_PARAMS, f"Invalid params: {why}")


def _scalar(value: Any) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(value)
    return _encoder.encode(value).decode()


def _joined(value: Any, explode: bool, *, quoted: bool, separator: str = ",") -> str:
    """`simple`-style rendering: arrays joined, objects as `k,v` or (exploded) `k=v`."""

    def enc(text: str) -> str:
        return quote(text, safe=_UNRESERVED) if quoted else text

    if isinstance(value, list):
        return separator.join(enc(_scalar(item)) for item in value)
    if isinstance(value, dict):
        if explode:
            return separator.join(f"{enc(k)}={enc(_scalar(v))}" for k, v in value.items())
        return separator.join(f"{enc(k)},{enc(_scalar(v))}" for k, v in value.items())
    return enc(_scalar(value))


def _path_value(name: str, value: Any, style: str, explode: bool) -> str:
    if style == "label":
        return "." + _joined(value, explode, quoted=True, separator="." if explode else ",")
    if style == "matrix":
        key = quote(name, safe=_UNRESERVED)
        if isinstance(value, list) and explode:
            return "".join(f";{key}={quote(_scalar(v), safe=_UNRESERVED)}" for v in value)
        if isinstance(value, dict) and explode:
            return "".join(
                f";{quote(k, safe=_UNRESERVED)}={quote(_scalar(v), safe=_UNRESERVED)}"
                for k, v in value.items()
            )
        return f";{key}={_joined(value, False, quoted=True)}"
    return _joined(value, explode, quoted=True)


def _query_pairs(name: str, value: Any, style: str, explode: bool) -> list[str]:
    key = quote(name, safe=_UNRESERVED)

    def enc(text: str) -> str:
        return quote(text, safe=_UNRESERVED)

    if style == "deepObject" and isinstance(value, dict):
        return [f"{key}%5B{enc(k)}%5D={enc(_scalar(v))}" for k, v in value.items()]
    if isinstance(value, list):
        if explode:
            return [f"{key}={enc(_scalar(item))}" for item in value]
        separator = {"spaceDelimited": "%20", "pipeDelimited": "%7C"}.get(style, ",")
        return [f"{key}=" + separator.join(enc(_scalar(item)) for item in value)]
    if isinstance(value, dict):
        if explode:
            return [f"{enc(k)}={enc(_scalar(v))}" for k, v in value.items()]
        return [f"{key}=" + ",".join(f"{enc(k)},{enc(_scalar(v))}" for k, v in value.items())]
    return [f"{key}={enc(_scalar(value))}"]
