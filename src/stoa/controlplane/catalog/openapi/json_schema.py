"""OpenAPI schemas made self-contained JSON Schema 2020-12: local `$ref`s inlined,
OpenAPI 3.0 idioms translated, OpenAPI-only vocabulary dropped."""

from __future__ import annotations

import copy
from typing import Any, Final
from urllib.parse import unquote

from stoa.controlplane.catalog.openapi.text import kind_of
from stoa.kit.errors import InvalidInput

MAX_SCHEMA_NODES: Final = 100_000
"""Schema nodes one operation may produce once `$ref`s are inlined."""
MAX_SCHEMA_DEPTH: Final = 64
# Schema keywords whose value is a schema, a list of schemas, or a map of schemas.
_SUBSCHEMA: Final = frozenset(
    {
        "items",
        "additionalItems",
        "additionalProperties",
        "not",
        "if",
        "then",
        "else",
        "contains",
        "propertyNames",
        "unevaluatedItems",
        "unevaluatedProperties",
        "contentSchema",
    }
)
_SUBSCHEMA_LIST: Final = frozenset({"allOf", "anyOf", "oneOf", "prefixItems"})
_SUBSCHEMA_MAP: Final = frozenset({"properties", "patternProperties", "dependentSchemas"})
# Dropped: OpenAPI vocabulary that is not JSON Schema, and definitions made dead by inlining.
_DROPPED: Final = frozenset(
    {"xml", "externalDocs", "discriminator", "$defs", "definitions", "$id", "$schema"}
)
# `$ref` siblings that only annotate, and so can be laid over the inlined target.
_ANNOTATIONS: Final = frozenset(
    {"description", "title", "default", "example", "examples", "deprecated", "readOnly"}
    | {"writeOnly", "nullable", "$comment"}
)


class References:
    """Resolves local `$ref`s (`#/json/pointer`) against one document."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document

    def lookup(self, ref: Any, where: str) -> Any:
        if not isinstance(ref, str):
            raise InvalidInput(f"{where}: `$ref` must be a string, found {kind_of(ref)}")
        if not ref.startswith("#"):
            raise InvalidInput(
                f"{where}: $ref '{ref}' points outside this document; bundle the description "
                "into one file first (for example with `redocly bundle`)"
            )
        pointer = unquote(ref[1:])
        if pointer and not pointer.startswith("/"):
            raise InvalidInput(f"{where}: $ref '{ref}' is not a JSON pointer ('#/...')")
        node: Any = self.document
        for raw_token in pointer.split("/")[1:]:
            token = raw_token.replace("~1", "/").replace("~0", "~")
            if isinstance(node, dict) and token in node:
                node = node[token]
            elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
                node = node[int(token)]
            else:
                raise InvalidInput(f"{where}: $ref '{ref}' does not resolve: no '{token}' there")
        return node

    def resolve(self, value: Any, where: str) -> Any:
        """`value` with its chain of `$ref`s followed (for parameters, bodies, responses and
        path items; schemas go through `SchemaBuilder`). A `description` next to the first
        `$ref` overrides the target's, as OpenAPI 3.1 reference objects allow."""
        seen: list[str] = []
        description = None
        while isinstance(value, dict) and "$ref" in value:
            ref = value["$ref"]
            if description is None and isinstance(value.get("description"), str):
                description = value["description"]
            if ref in seen:
                raise InvalidInput(f"{where}: circular $ref {' -> '.join([*seen, ref])}")
            seen.append(ref)
            value = self.lookup(ref, where)
        if description is not None and isinstance(value, dict):
            value = {**value, "description": description}
        return value


class SchemaBuilder:
    """Builds self-contained JSON Schema 2020-12 from OpenAPI schemas for one operation,
    within a budget of nodes and depth shared by all its schemas."""

    def __init__(self, refs: References, where: str) -> None:
        self.refs = refs
        self.where = where
        self.nodes = 0
        self.expanding: list[str] = []

    def build(self, schema: Any, depth: int = 0) -> Any:
        self.nodes += 1
        if self.nodes > MAX_SCHEMA_NODES:
            raise InvalidInput(
                f"{self.where}: its schemas expand to more than {MAX_SCHEMA_NODES} nodes once "
                "$refs are inlined; simplify them"
            )
        if depth > MAX_SCHEMA_DEPTH:
            raise InvalidInput(f"{self.where}: schemas nest deeper than {MAX_SCHEMA_DEPTH} levels")
        if isinstance(schema, bool):
            return schema
        if not isinstance(schema, dict):
            raise InvalidInput(f"{self.where}: a schema must be an object, found {kind_of(schema)}")
        if "$ref" not in schema:
            return self._keywords(schema, depth)
        ref = schema["$ref"]
        if ref in self.expanding:
            target: Any = {}  # recursion: the reference accepts anything below this level
        else:
            self.expanding.append(ref)
            try:
                target = self.build(self.refs.lookup(ref, self.where), depth + 1)
            finally:
                self.expanding.pop()
        siblings = {key: value for key, value in schema.items() if key != "$ref"}
        if not siblings:
            return target
        nullable = siblings.pop("nullable", None) is True
        if isinstance(target, dict) and set(siblings) <= _ANNOTATIONS:
            result = {**target, **self._keywords(siblings, depth)}
        else:
            result = {"allOf": [target], **self._keywords(siblings, depth)}
        return _make_nullable(result) if nullable else result

    def _keywords(self, schema: dict[str, Any], depth: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in schema.items():
            if key in _DROPPED or key == "nullable":
                continue
            if key in _SUBSCHEMA and isinstance(value, list):  # draft-04 tuple `items`
                out[key] = [self.build(item, depth + 1) for item in value]
            elif key in _SUBSCHEMA:
                out[key] = self.build(value, depth + 1)
            elif key in _SUBSCHEMA_LIST:
                if not isinstance(value, list):
                    raise InvalidInput(f"{self.where}: `{key}` must be a list of schemas")
                out[key] = [self.build(item, depth + 1) for item in value]
            elif key in _SUBSCHEMA_MAP:
                if not isinstance(value, dict):
                    raise InvalidInput(f"{self.where}: `{key}` must map names to schemas")
                out[key] = {name: self.build(item, depth + 1) for name, item in value.items()}
            elif key == "example":
                if "examples" not in schema:
                    out["examples"] = [copy.deepcopy(value)]
            else:
                out[key] = copy.deepcopy(value)
        for exclusive, bound in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
            flag = out.get(exclusive)
            if isinstance(flag, bool):  # OpenAPI 3.0: a flag on minimum/maximum
                del out[exclusive]
                if flag and bound in out:
                    out[exclusive] = out.pop(bound)
        if schema.get("nullable") is True:
            return _make_nullable(out)
        return out


def _make_nullable(schema: dict[str, Any]) -> dict[str, Any]:
    """OpenAPI 3.0 `nullable: true` in JSON Schema terms."""
    if not schema:
        return schema  # already accepts null
    kind = schema.get("type")
    if isinstance(kind, str):
        schema["type"] = kind if kind == "null" else [kind, "null"]
    elif isinstance(kind, list):
        if "null" not in kind:
            schema["type"] = [*kind, "null"]
    else:
        return {"anyOf": [schema, {"type": "null"}]}
    enum = schema.get("enum")
    if isinstance(enum, list) and None not in enum:
        schema["enum"] = [*enum, None]
    return schema
