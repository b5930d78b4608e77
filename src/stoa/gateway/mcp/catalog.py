"""What a caller sees on `/mcp`: tool lists and name routing, precomputed per snapshot.

A caller's view is built once per snapshot and set of grants, then every `tools/list` is a
slice of pre-encoded JSON and every `tools/call` a dict hit from the public name to the
grant and tool. Each tool's JSON (minus its name) is encoded once per grant.

Names on the aggregate endpoint are `<api><separator><tool>` (`toolbox__echo`). Two
subscribed APIs of different tenants may share a name; then both are prefixed with
`<tenant>.<api>` so names stay unique and stable. Resource URIs get the same prefix as a
URI scheme prefix, `<api>+<uri>` (API names are slugs, valid in a scheme), so
`resources/read` finds the owning upstream; the per-API endpoint shows everything as the
upstream does.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import msgspec

from stoa.contract.snapshot import ToolEntry
from stoa.gateway.mcp.jsonrpc import INVALID_PARAMS, JsonRpcError
from stoa.gateway.snapshot.compiled import Grant

_encoder: Final = msgspec.json.Encoder()
_MAX_VIEWS: Final = 10_000


def tool_json(tool: ToolEntry) -> dict[str, Any]:
    """The MCP `Tool` object for `tool`, without its name."""
    body: dict[str, Any] = {}
    title = tool.annotations.get("title")
    if isinstance(title, str) and title:
        body["title"] = title
    body["description"] = tool.description
    body["inputSchema"] = tool.input_schema
    if tool.output_schema is not None:
        body["outputSchema"] = tool.output_schema
    if tool.annotations:
        body["annotations"] = tool.annotations
    return body


def _tail(tool: ToolEntry) -> bytes:
    """`tool_json(tool)` encoded, opening brace removed, ready to follow a name member."""
    return _encoder.encode(tool_json(tool))[1:]


@dataclass(frozen=True, slots=True)
class ToolRoute:
    """Where a public tool name leads."""

    grant: Grant
    tool: ToolEntry


@dataclass(frozen=True, slots=True)
class ToolView:
    """The tools of one caller on one endpoint, sorted by public name."""

    names: tuple[str, ...]
    tools: tuple[msgspec.Raw, ...]
    routes: Mapping[str, ToolRoute]
    grant_by_prefix: Mapping[str, Grant]
    """Prefix (`toolbox`, or `tenant.toolbox` on collisions) to grant; {"": grant} per API."""

    def page(self, cursor: str | None, size: int) -> tuple[list[msgspec.Raw], str | None]:
        """One page of tools from `cursor`, and the cursor of the next page (None at the end).

        Raises:
            JsonRpcError: -32602 for a cursor this gateway did not issue.
        """
        start = decode_cursor(cursor)
        end = start + size
        next_cursor = encode_cursor(end) if end < len(self.tools) else None
        return list(self.tools[start:end]), next_cursor


def encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"o{offset}".encode()).decode("ascii").rstrip("=")


def decode_cursor(cursor: str | None) -> int:
    if cursor is None:
        return 0
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
        if text.startswith("o") and text[1:].isdigit():
            return int(text[1:])
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    raise JsonRpcError(INVALID_PARAMS, "Invalid params: unknown cursor", http_status=400)


class Catalog:
    """Views per snapshot: `view_for` returns the cached view or builds it.

    The cache belongs to one snapshot (identified by object identity) and is dropped as
    soon as a call comes with another one, so a reload never serves stale tools.
    """

    def __init__(self, separator: str = "__") -> None:
        self.separator = separator
        self._snapshot: object = None
        self._views: dict[tuple[str, ...], ToolView] = {}
        self._tails: dict[str, tuple[tuple[str, bytes], ...]] = {}
        # Grants mappings seen before, by identity. The entry holds the mapping itself, so
        # its id cannot be reused by another object while the entry exists.
        self._by_identity: dict[int, tuple[Mapping[str, Grant], ToolView]] = {}

    def aggregate_view(self, snapshot: object, grants: Mapping[str, Grant]) -> ToolView:
        """All tools of `grants`, namespaced."""
        if snapshot is not self._snapshot:
            self._reset(snapshot)
        known = self._by_identity.get(id(grants))
        if known is not None and known[0] is grants:
            return known[1]
        key = tuple(grant.subscription_id for grant in grants.values())
        view = self._views.get(key)
        if view is None:
            view = self._build(grants.values(), prefixed=True)
            if len(self._views) >= _MAX_VIEWS:
                self._views.clear()
            self._views[key] = view
        if len(self._by_identity) >= _MAX_VIEWS:
            self._by_identity.clear()
        self._by_identity[id(grants)] = (grants, view)
        return view

    def api_view(self, snapshot: object, grant: Grant) -> ToolView:
        """One grant's tools, unprefixed (the per-API endpoint)."""
        if snapshot is not self._snapshot:
            self._reset(snapshot)
        key = ("\x00api", grant.subscription_id)
        view = self._views.get(key)
        if view is None:
            view = self._build((grant,), prefixed=False)
            self._views[key] = view
        return view

    def _reset(self, snapshot: object) -> None:
        self._snapshot = snapshot
        self._views = {}
        self._tails = {}
        self._by_identity = {}

    def _tails_of(self, grant: Grant) -> tuple[tuple[str, bytes], ...]:
        tails = self._tails.get(grant.subscription_id)
        if tails is None:
            tails = tuple((tool.name, _tail(tool)) for tool in grant.tools)
            self._tails[grant.subscription_id] = tails
        return tails

    def _build(self, grants: Iterable[Grant], *, prefixed: bool) -> ToolView:
        grant_list = list(grants)
        by_prefix = prefixes(grant_list) if prefixed else {"": grant_list[0]}
        entries: list[tuple[str, msgspec.Raw, ToolRoute]] = []
        for prefix, grant in by_prefix.items():
            tools_by_name = {tool.name: tool for tool in grant.tools}
            for name, tail in self._tails_of(grant):
                public = f"{prefix}{self.separator}{name}" if prefix else name
                raw = msgspec.Raw(b'{"name":' + _encoder.encode(public) + b"," + tail)
                entries.append((public, raw, ToolRoute(grant, tools_by_name[name])))
        entries.sort(key=lambda entry: entry[0])
        return ToolView(
            names=tuple(entry[0] for entry in entries),
            tools=tuple(entry[1] for entry in entries),
            routes={entry[0]: entry[2] for entry in entries},
            grant_by_prefix=by_prefix,
        )


def prefixes(grants: Iterable[Grant]) -> dict[str, Grant]:
    """The namespace prefix of each grant: the API name, or `tenant.api` when two
    granted APIs of different tenants share a name."""
    grant_list = sorted(grants, key=lambda g: (g.api.tenant, g.api.name))
    counts: dict[str, int] = {}
    for grant in grant_list:
        counts[grant.api.name] = counts.get(grant.api.name, 0) + 1
    found: dict[str, Grant] = {}
    for grant in grant_list:
        api = grant.api
        found[api.name if counts[api.name] == 1 else f"{api.tenant}.{api.name}"] = grant
    return found


def split_prefixed(value: str, separator: str) -> tuple[str, str] | None:
    """(`prefix`, `rest`) of a namespaced name, or None when there is no separator."""
    prefix, found, rest = value.partition(separator)
    if not found or not prefix or not rest:
        return None
    return prefix, rest
