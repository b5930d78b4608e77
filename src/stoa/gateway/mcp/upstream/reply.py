"""JSON-RPC responses from upstream MCP servers, decoded with their results left encoded.

Interpreted, never compiled (see `stoa.gateway.native`): msgspec decodes by the class's
annotations, and mypyc turns a union annotation such as `int | str | None` into `type`.
"""

from __future__ import annotations

from typing import Any, Final

import msgspec


class Reply(msgspec.Struct):
    """A JSON-RPC response, its result left encoded so it can be passed on untouched."""

    id: int | str | None = None
    # msgspec reads Raw only outside unions: an empty Raw stands for "no result".
    result: msgspec.Raw = msgspec.field(default_factory=msgspec.Raw)
    error: dict[str, Any] | None = None

    @property
    def has_result(self) -> bool:
        return len(self.result) > 0


_reply_decoder: Final = msgspec.json.Decoder(Reply)
_replies_decoder: Final = msgspec.json.Decoder(list[Reply])
_FAILURES: Final = (msgspec.DecodeError, msgspec.ValidationError, ValueError, RecursionError)


def decode_reply(data: bytes) -> Reply | None:
    """One response, or None when `data` is not one."""
    try:
        return _reply_decoder.decode(data)
    except _FAILURES:
        return None


def decode_replies(data: bytes) -> list[Reply] | None:
    """A batch of responses, or None when `data` is not one."""
    try:
        return _replies_decoder.decode(data)
    except _FAILURES:
        return None
