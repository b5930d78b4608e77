"""Naming REST calls by their OpenAPI operation for the rollups.

A gateway reports a REST call as `METHOD /path` as it was called (`GET /users/42`).
Rolled up that way, every id in a path would make rows of its own, without bound; rolled
up by operation (`getUser`, the API's tool for `GET /users/{id}`), the rows are as many
as the API's operations. Calls that match no operation are counted together per method;
an API with no known operations keeps its paths. The raw events keep the path as called.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

_PARAMETER = re.compile(r"\{[^/{}]+\}")
UNMATCHED = "(no operation)"


def _pattern(template: str) -> re.Pattern[str]:
    literal = _PARAMETER.split(template)
    return re.compile("[^/]+".join(re.escape(part) for part in literal) + r"/?\Z")


class OperationNames:
    """The operations of one REST API, from its tools' bindings (method and path)."""

    def __init__(self, tools: Iterable[tuple[str, dict[str, Any] | None]]) -> None:
        ranked: list[tuple[int, str, str, re.Pattern[str]]] = []
        for name, binding in tools:
            if not binding:
                continue
            method, path = binding.get("method"), binding.get("path")
            if not isinstance(method, str) or not isinstance(path, str):
                continue
            # The most literal template wins: /users/me before /users/{id}.
            specificity = len(_PARAMETER.sub("", path))
            ranked.append((specificity, method.upper(), name, _pattern(path)))
        ranked.sort(key=lambda entry: -entry[0])
        self._operations = [(method, name, pattern) for _, method, name, pattern in ranked]

    @property
    def known(self) -> bool:
        """Whether the API has any operation to name calls by."""
        return bool(self._operations)

    def name_of(self, route: str) -> str:
        """The operation's name for `route` (`METHOD /path`), or `METHOD (no operation)`."""
        method, _, path = route.partition(" ")
        path = path.split("?", 1)[0]
        for operation_method, name, pattern in self._operations:
            if operation_method == method and pattern.match(path):
                return name
        return f"{method} {UNMATCHED}"


def is_rest_route(route: str) -> bool:
    """Whether `route` is a REST call as gateways report it (MCP calls are tool names)."""
    method, space, path = route.partition(" ")
    return bool(space) and method.isalpha() and method.isupper() and path.startswith("/")
