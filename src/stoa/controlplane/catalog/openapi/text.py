"""Reading an OpenAPI document's text (JSON or YAML) into plain JSON data, within
limits that keep hostile documents (alias bombs, deep nesting) from exploding."""

from __future__ import annotations

import json
import re
from typing import Any, Final

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from stoa.kit.errors import InvalidInput

MAX_NESTING: Final = 100
"""Deepest nesting of objects and arrays accepted in a document."""
MAX_YAML_NODES: Final = 1_000_000
"""Values a YAML document may hold once its aliases are expanded (alias bombs)."""
_VERSION: Final = re.compile(r"^3\.([01])(\.\d+)?(-[0-9A-Za-z.-]+)?$")


class _Loader(yaml.SafeLoader):
    """SafeLoader reading YAML 1.2 scalars: only true/false are booleans, and dates stay
    strings, as OpenAPI (a YAML 1.2 format) intends; `on:` and `no:` remain names."""


_Loader.yaml_implicit_resolvers = {
    first: [
        (tag, pattern)
        for tag, pattern in resolvers
        if tag not in ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:timestamp")
    ]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)


def load_json(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput(
            f"line {exc.lineno} column {exc.colno}: JSON syntax error: {exc.msg}"
        ) from None
    except RecursionError:
        raise _too_deep() from None


def load_yaml(text: str) -> Any:
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            raise InvalidInput("the document is empty")
        _check_yaml_graph(node)
        return loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}: " if mark is not None else ""
        problem = ", ".join(part for part in (exc.context, exc.problem) if part) or "unreadable"
        raise InvalidInput(f"{where}YAML syntax error: {problem}") from None
    except yaml.YAMLError as exc:
        raise InvalidInput(f"YAML syntax error: {exc}") from None
    except RecursionError:
        raise _too_deep() from None
    finally:
        loader.dispose()


def _check_yaml_graph(root: Node) -> None:
    """Refuse alias bombs and recursive anchors before anything walks the data.

    PyYAML shares aliased nodes instead of copying them, so loading is cheap, but every
    walk over the result (ours, `json.dumps`) expands them: ten levels of ten aliases are
    10^10 values. Sizes are memoized per node, so this check is linear in the text.
    """
    measured: dict[int, tuple[int, int]] = {}  # node id -> (expanded size, height)
    active: set[int] = set()

    def measure(node: Node, depth: int) -> tuple[int, int]:
        key = id(node)
        if key in measured:
            size, height = measured[key]
            if depth + height > MAX_NESTING:
                raise _too_deep()
            return size, height
        if depth > MAX_NESTING:
            raise _too_deep()
        if isinstance(node, ScalarNode):
            return 1, 0
        if key in active:
            line = node.start_mark.line + 1
            raise InvalidInput(f"line {line}: a YAML alias refers to a node containing it")
        active.add(key)
        children: list[Node] = []
        if isinstance(node, SequenceNode):
            children = list(node.value)
        elif isinstance(node, MappingNode):
            children = [part for pair in node.value for part in pair]
        size, height = 1, 0
        for child in children:
            child_size, child_height = measure(child, depth + 1)
            size += child_size
            height = max(height, child_height + 1)
            if size > MAX_YAML_NODES:
                raise InvalidInput(
                    f"the YAML expands to more than {MAX_YAML_NODES} values through its "
                    "aliases (*name); inline fewer anchors"
                )
        active.discard(key)
        measured[key] = (size, height)
        return size, height

    measure(root, 0)


def plain(value: Any, where: str, depth: int) -> Any:
    """A copy of `value` made of JSON types only, with string keys."""
    if depth > MAX_NESTING:
        raise _too_deep()
    if isinstance(value, dict):
        return {_key(key): plain(item, where, depth + 1) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item, where, depth + 1) for item in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise InvalidInput(f"the document holds a {type(value).__name__} value; use JSON types only")


def _key(key: Any) -> str:
    if isinstance(key, bool):
        return "true" if key else "false"
    if key is None:
        return "null"
    if isinstance(key, str | int | float):
        return str(key)
    raise InvalidInput(f"the document uses a {type(key).__name__} as a key; keys must be text")


def _too_deep() -> InvalidInput:
    return InvalidInput(f"the document nests objects and arrays deeper than {MAX_NESTING} levels")


def check_document(data: Any) -> str:
    """The document's OpenAPI version, after checking it is one that tools can come from."""
    if not isinstance(data, dict):
        raise InvalidInput(
            f"the document is {kind_of(data)}, not an OpenAPI object "
            "(a mapping with `openapi` and `paths`)"
        )
    if "swagger" in data:
        raise InvalidInput(
            f"this is a Swagger {data['swagger']} document; convert it to OpenAPI 3 first "
            "(for example with swagger2openapi or editor.swagger.io)"
        )
    if "openapi" not in data:
        raise InvalidInput("the document has no `openapi` field; is it an OpenAPI 3 description?")
    raw = data["openapi"]
    version = raw if isinstance(raw, str) else repr(raw)
    if isinstance(raw, bool) or not _VERSION.match(version):
        raise InvalidInput(
            f"OpenAPI version {version} is not supported; STOA reads 3.0.x and 3.1.x"
        )
    if "paths" not in data:
        raise InvalidInput("the document has no `paths` object, so it has no operations")
    if not isinstance(data["paths"], dict):
        raise InvalidInput(f"`paths` must be an object, found {kind_of(data['paths'])}")
    return version


def kind_of(value: Any) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "null"
    return f"a {type(value).__name__}"
