"""JSON-RPC 2.0 messages as the MCP endpoint reads and writes them, with msgspec.

`parse_body` turns a POST body into `Incoming` messages or raises `JsonRpcError`;
`result_message` and `error_message` build the answers, which `encode` turns into bytes.
Nothing here knows about MCP methods: this is the envelope only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import msgspec

PARSE_ERROR: Final = -32700
INVALID_REQUEST: Final = -32600
METHOD_NOT_FOUND: Final = -32601
INVALID_PARAMS: Final = -32602
INTERNAL_ERROR: Final = -32603
# MCP's spec-defined codes (2026-07-28).
HEADER_MISMATCH: Final = -32020
UNSUPPORTED_PROTOCOL_VERSION: Final = -32022
# STOA's own codes, in the implementation-defined band -32000..-32019.
UPSTREAM_ERROR: Final = -32002
"""The upstream MCP server could not be reached, timed out, or answered garbage."""
RATE_LIMITED: Final = -32005
"""The subscription's rate limit or quota is exhausted (HTTP 429 on /proxy)."""
FORBIDDEN: Final = -32003
"""The caller lacks the scope or subscription the request needs (HTTP 403 on /proxy)."""
SESSION_NOT_FOUND: Final = -32001
"""The `Mcp-Session-Id` is unknown, expired or ended: initialize again."""

RequestId = int | str

_decoder: Final = msgspec.json.Decoder()
_encoder: Final = msgspec.json.Encoder()


class JsonRpcError(Exception):
    """An error to answer with a JSON-RPC error object.

    `http_status` is the status of the HTTP response when this error is the whole answer
    (a single request); inside a batch the status is 200.
    """

    def __init__(
        self,
        code: int,
        message: str,
        data: Any = None,
        *,
        http_status: int = 200,
        headers: tuple[tuple[str, str], ...] = (),
        request_id: RequestId | None = None,
    ) -> None:
        super().__init__(message)
        self.request_id = request_id
        """The id of the message this error answers, when one could be read."""
        self.code = code
        self.message = message
        self.data = data
        self.http_status = http_status
        self.headers = headers

    def error_object(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.data is not None:
            error["data"] = self.data
        return error


@dataclass(slots=True)
class Incoming:
    """One message of a POST body.

    `kind` is "request" (has an id, wants an answer), "notification" (no id) or
    "response" (a client's answer to a server request; the gateway sends none, so these
    are acknowledged and dropped). `params` is {} when the message had none.
    """

    kind: str
    method: str
    id: RequestId | None
    params: dict[str, Any]


def parse_body(body: bytes) -> tuple[list[Incoming | JsonRpcError], bool]:
    """Read a POST body: one message, or a batch (a JSON array) of them.

    Returns:
        The messages in order, where a message that is not valid JSON-RPC is a
        `JsonRpcError` (-32600, carrying its id when one could be read), and whether the
        body was a batch.

    Raises:
        JsonRpcError: -32700 for bytes that are not JSON, -32600 for an empty batch or a
            body that is neither an object nor an array.
    """
    try:
        decoded = _decoder.decode(body)
    except (msgspec.DecodeError, ValueError, RecursionError):
        raise JsonRpcError(
            PARSE_ERROR, "Parse error: the body is not valid JSON", http_status=400
        ) from None
    if isinstance(decoded, dict):
        return [read_message(decoded)], False
    if isinstance(decoded, list):
        if not decoded:
            raise JsonRpcError(INVALID_REQUEST, "Invalid request: empty batch", http_status=400)
        return [read_message(item) for item in decoded], True
    raise JsonRpcError(
        INVALID_REQUEST, "Invalid request: expected a JSON-RPC object", http_status=400
    )


def read_message(raw: Any) -> Incoming | JsonRpcError:
    """Check one decoded message's envelope; an invalid one becomes a -32600 error."""
    if not isinstance(raw, dict):
        return JsonRpcError(INVALID_REQUEST, "Invalid request: a message must be an object")
    has_id = "id" in raw
    raw_id = raw.get("id")
    # MCP forbids null ids; JSON-RPC forbids fractions and other types.
    message_id: RequestId | None = (
        raw_id
        if isinstance(raw_id, str) or (isinstance(raw_id, int) and not isinstance(raw_id, bool))
        else None
    )
    if raw.get("jsonrpc") != "2.0":
        return _invalid('`jsonrpc` must be "2.0"', message_id)
    method = raw.get("method")
    if method is None and has_id and ("result" in raw or "error" in raw):
        return Incoming("response", "", message_id, {})
    if not isinstance(method, str) or not method:
        return _invalid("`method` must be a non-empty string", message_id)
    if has_id and message_id is None:
        return _invalid("`id` must be a string or an integer", None)
    params = raw.get("params")
    if params is None:
        params = {}
    elif not isinstance(params, dict):
        return JsonRpcError(
            INVALID_PARAMS, "Invalid params: `params` must be an object", request_id=message_id
        )
    return Incoming("request" if has_id else "notification", method, message_id, params)


def _invalid(why: str, message_id: RequestId | None) -> JsonRpcError:
    return JsonRpcError(INVALID_REQUEST, f"Invalid request: {why}", request_id=message_id)


def result_message(message_id: RequestId, result: Any) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": message_id, "result": result}


def error_message(message_id: RequestId | None, error: JsonRpcError) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": message_id, "error": error.error_object()}


def encode(message: Any) -> bytes:
    """JSON bytes of a message; `msgspec.Raw` values are spliced in as they are."""
    return _encoder.encode(message)


def decode(data: bytes) -> Any:
    """Decode JSON bytes (raises msgspec.DecodeError)."""
    return _decoder.decode(data)
