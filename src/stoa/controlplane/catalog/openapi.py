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

import copy
import json
import re
from typing import Any, Final
from urllib.parse import unquote

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from stoa.controlplane.catalog.tool_draft import ToolDraft
from stoa.kit.errors import InvalidInput

MAX_DOCUMENT_BYTES: Final = 5_000_000
MAX_NESTING: Final = 100
"""Deepest nesting of objects and arrays accepted in a document."""
MAX_YAML_NODES: Final = 1_000_000
"""Values a YAML document may hold once its aliases are expanded (alias bombs)."""
MAX_SCHEMA_NODES: Final = 100_000
"""Schema nodes one operation may produce once `$ref`s are inlined."""
MAX_SCHEMA_DEPTH: Final = 64
MAX_TOOL_NAME: Final = 64

HTTP_METHODS: Final = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_SAFE_METHODS: Final = frozenset({"get", "head", "options", "trace"})
_LOCATIONS: Final = ("path", "query", "header", "cookie")
_DEFAULT_STYLE: Final = {"path": "simple", "query": "form", "header": "simple"}
_IGNORED_HEADERS: Final = frozenset({"accept", "content-type", "authorization"})

_NAME_CHARS: Final = re.compile(r"[^A-Za-z0-9_.-]+")
_PROPERTY_NAME: Final = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_VERSION: Final = re.compile(r"^3\.([01])(\.\d+)?(-[0-9A-Za-z.-]+)?$")
_JSON_SUFFIX: Final = re.compile(r"^[a-z0-9!#$&^_.-]+/[a-z0-9!#$&^_.*-]*\+json$")
_TEMPLATE_VARIABLE: Final = re.compile(r"{([^{}/]+)}")

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
_COMPOSITION: Final = frozenset({"allOf", "anyOf", "oneOf", "not", "if", "$ref"})


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
    raw = _load_json(text) if text.lstrip().startswith("{") else _load_yaml(text)
    data = _plain(raw, "", 0)
    version = _check_document(data)
    return {**data, "openapi": version}


def tools_from_openapi(document: dict[str, Any]) -> list[ToolDraft]:
    """One tool draft per operation of `document` (as returned by `parse_openapi`).

    Raises:
        InvalidInput: the document breaks a rule a tool depends on (a malformed parameter,
            an unresolvable or remote `$ref`, schemas expanding beyond the limits) or two
            operations map to the same tool name; the message names the operation.
    """
    _check_document(document)
    refs = _References(document)
    drafts: list[ToolDraft] = []
    owners: dict[str, str] = {}
    for path, raw_item in document["paths"].items():
        if path.startswith("x-"):
            continue
        if not path.startswith("/"):
            raise InvalidInput(f"path {path!r} must start with '/'")
        item = refs.resolve(raw_item, f"path {path}")
        if not isinstance(item, dict):
            raise InvalidInput(f"path {path}: expected an object, found {_kind(item)}")
        for method in item:
            if method not in HTTP_METHODS:
                continue
            draft = _tool(refs, path, method, item[method], item.get("parameters"))
            label = f"{method.upper()} {path}"
            if draft.name in owners:
                raise InvalidInput(
                    f"{owners[draft.name]} and {label} both become the tool "
                    f"'{draft.name}'; give them distinct operationIds"
                )
            owners[draft.name] = label
            drafts.append(draft)
    return drafts


# --- reading the text -----------------------------------------------------------------


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


def _load_json(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput(
            f"line {exc.lineno} column {exc.colno}: JSON syntax error: {exc.msg}"
        ) from None
    except RecursionError:
        raise _too_deep() from None


def _load_yaml(text: str) -> Any:
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


def _plain(value: Any, where: str, depth: int) -> Any:
    """A copy of `value` made of JSON types only, with string keys."""
    if depth > MAX_NESTING:
        raise _too_deep()
    if isinstance(value, dict):
        return {_key(key): _plain(item, where, depth + 1) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item, where, depth + 1) for item in value]
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


def _check_document(data: Any) -> str:
    """The document's OpenAPI version, after checking it is one that tools can come from."""
    if not isinstance(data, dict):
        raise InvalidInput(
            f"the document is {_kind(data)}, not an OpenAPI object "
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
        raise InvalidInput(f"`paths` must be an object, found {_kind(data['paths'])}")
    return version


def _kind(value: Any) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "null"
    return f"a {type(value).__name__}"


# --- references and schemas -----------------------------------------------------------


class _References:
    """Resolves local `$ref`s (`#/json/pointer`) against one document."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document

    def lookup(self, ref: Any, where: str) -> Any:
        if not isinstance(ref, str):
            raise InvalidInput(f"{where}: `$ref` must be a string, found {_kind(ref)}")
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
        path items; schemas go through `_SchemaBuilder`). A `description` next to the first
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


class _SchemaBuilder:
    """Builds self-contained JSON Schema 2020-12 from OpenAPI schemas for one operation,
    within a budget of nodes and depth shared by all its schemas."""

    def __init__(self, refs: _References, where: str) -> None:
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
            raise InvalidInput(f"{self.where}: a schema must be an object, found {_kind(schema)}")
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


# --- operations -----------------------------------------------------------------------


def _tool(
    refs: _References, path: str, method: str, operation: Any, path_parameters: Any
) -> ToolDraft:
    label = f"{method.upper()} {path}"
    where = f"operation {label}"
    if not isinstance(operation, dict):
        raise InvalidInput(f"{where}: expected an object, found {_kind(operation)}")
    builder = _SchemaBuilder(refs, where)
    properties: dict[str, Any] = {}
    required: list[str] = []
    parameters: list[dict[str, Any]] = []

    declared_path_names: set[str] = set()
    for parameter in _merged_parameters(refs, path_parameters, operation.get("parameters"), where):
        name, location = parameter["name"], parameter["in"]
        if location == "cookie":
            continue
        if location == "header" and name.lower() in _IGNORED_HEADERS:
            continue
        schema, content_type = _parameter_schema(builder, parameter, where)
        prop = _unique(_property_name(name), properties, suffix=location)
        properties[prop] = schema
        if location == "path":
            declared_path_names.add(name)
        if location == "path" or parameter.get("required") is True:
            required.append(prop)
        style = parameter.get("style", _DEFAULT_STYLE[location])
        parameters.append(
            {
                "name": name,
                "in": location,
                "property": prop,
                "style": style,
                "explode": parameter.get("explode", style == "form"),
                "content_type": content_type,
            }
        )
    # A template variable the document forgot to declare still has to be filled in.
    for name in _TEMPLATE_VARIABLE.findall(path):
        if name not in declared_path_names:
            prop = _unique(_property_name(name), properties, suffix="path")
            properties[prop] = {"type": "string"}
            required.append(prop)
            parameters.append(
                {
                    "name": name,
                    "in": "path",
                    "property": prop,
                    "style": "simple",
                    "explode": False,
                    "content_type": None,
                }
            )
            declared_path_names.add(name)

    body = _request_body(refs, builder, operation.get("requestBody"), properties, required, where)
    input_schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        input_schema["required"] = required

    summary = _text(operation.get("summary"))
    annotations: dict[str, Any] = {}
    if summary:
        annotations["title"] = summary
    annotations.update(_hints(method))
    return ToolDraft(
        name=_tool_name(operation.get("operationId"), method, path),
        description=summary or _text(operation.get("description")) or label,
        input_schema=input_schema,
        output_schema=_output_schema(refs, builder, operation.get("responses"), where),
        annotations=annotations,
        binding={
            "method": method.upper(),
            "path": path,
            "parameters": parameters,
            "body": body,
        },
    )


def _merged_parameters(
    refs: _References, path_level: Any, operation_level: Any, where: str
) -> list[dict[str, Any]]:
    """Path-level then operation-level parameters, resolved and checked; an operation
    parameter replaces the path-level one with the same name and location."""
    merged: dict[tuple[str, str], dict[str, Any]] = {}
    for level, source in (("path-level", path_level), ("operation", operation_level)):
        if source is None:
            continue
        if not isinstance(source, list):
            raise InvalidInput(f"{where}: {level} `parameters` must be a list")
        for index, raw in enumerate(source, start=1):
            context = f"{where}: {level} parameter {index}"
            parameter = refs.resolve(raw, context)
            if not isinstance(parameter, dict):
                raise InvalidInput(f"{context} must be an object, found {_kind(parameter)}")
            name, location = parameter.get("name"), parameter.get("in")
            if not isinstance(name, str) or not name:
                raise InvalidInput(f"{context} has no `name`")
            if location not in _LOCATIONS:
                raise InvalidInput(
                    f"{context} ('{name}') has `in: {location}`; "
                    f"expected one of {', '.join(_LOCATIONS)}"
                )
            # Header names are case-insensitive: `X-Id` and `x-id` are one parameter.
            key = (name.lower() if location == "header" else name, location)
            merged[key] = parameter
    return list(merged.values())


def _parameter_schema(
    builder: _SchemaBuilder, parameter: dict[str, Any], where: str
) -> tuple[dict[str, Any], str | None]:
    """The property schema of a parameter, and the media type of a `content` parameter."""
    content_type = None
    if "schema" in parameter:
        built = builder.build(parameter["schema"])
    elif isinstance(parameter.get("content"), dict) and parameter["content"]:
        content_type, media = next(iter(parameter["content"].items()))
        built = builder.build(media.get("schema", {}) if isinstance(media, dict) else {})
    else:
        built = {"type": "string"}  # neither schema nor content: a plain string on the wire
    schema = _as_object_schema(built)
    description = _text(parameter.get("description"))
    if description:
        schema["description"] = description
    if parameter.get("deprecated") is True:
        schema["deprecated"] = True
    return schema, content_type


def _request_body(
    refs: _References,
    builder: _SchemaBuilder,
    raw: Any,
    properties: dict[str, Any],
    required: list[str],
    where: str,
) -> dict[str, Any] | None:
    """Add the request body to `properties`/`required`; return its binding."""
    if raw is None:
        return None
    body = refs.resolve(raw, f"{where}: requestBody")
    if not isinstance(body, dict):
        raise InvalidInput(f"{where}: requestBody must be an object, found {_kind(body)}")
    content = body.get("content")
    if not isinstance(content, dict) or not content:
        return None
    body_required = body.get("required") is True
    media_type, media = _json_media(content)
    if media_type is None:
        # Form, text, XML, binary: the caller supplies the encoded body as text.
        media_type = next(iter(content))
        schema: dict[str, Any] = {
            "type": "string",
            "description": _text(body.get("description")) or f"Request body ({media_type}).",
        }
    else:
        schema = _as_object_schema(builder.build(media.get("schema", {})))
        names = list(schema.get("properties", {}))
        if _mergeable(schema) and not set(names) & set(properties):
            properties.update(schema["properties"])
            if body_required:
                declared = schema.get("required", [])
                required.extend(name for name in names if name in declared)
            return {
                "mode": "merged",
                "property": None,
                "properties": names,
                "content_type": media_type,
                "required": body_required,
            }
        description = _text(body.get("description"))
        if description and "description" not in schema:
            schema["description"] = description
    prop = _unique("body", properties, suffix="request")
    properties[prop] = schema
    if body_required:
        required.append(prop)
    return {
        "mode": "property",
        "property": prop,
        "properties": [],
        "content_type": media_type,
        "required": body_required,
    }


def _json_media(content: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
    """The `application/json` media type of `content`, else the first `*/*+json` one."""
    found: tuple[str | None, dict[str, Any]] = (None, {})
    for media_type, media in content.items():
        essence = media_type.split(";", 1)[0].strip().lower()
        media = media if isinstance(media, dict) else {}
        if essence == "application/json":
            return media_type, media
        if found[0] is None and _JSON_SUFFIX.match(essence):
            found = (media_type, media)
    return found


def _mergeable(schema: dict[str, Any]) -> bool:
    """A plain object with named properties, whose meaning survives being spread over the
    top level: no composition, no open-ended extra properties."""
    properties = schema.get("properties")
    return (
        schema.get("type", "object") == "object"
        and isinstance(properties, dict)
        and bool(properties)
        and not _COMPOSITION & set(schema)
        and "patternProperties" not in schema
        and schema.get("additionalProperties", False) is False
    )


def _output_schema(
    refs: _References, builder: _SchemaBuilder, responses: Any, where: str
) -> dict[str, Any] | None:
    if not isinstance(responses, dict):
        return None
    codes = sorted(code for code in responses if re.fullmatch(r"2\d\d", code))
    codes += [code for code in responses if code in ("2XX", "2xx")]
    if not codes:
        return None
    response = refs.resolve(responses[codes[0]], f"{where}: response {codes[0]}")
    content = response.get("content") if isinstance(response, dict) else None
    if not isinstance(content, dict):
        return None
    media_type, media = _json_media(content)
    if media_type is None or "schema" not in media:
        return None
    schema = builder.build(media["schema"])
    if not isinstance(schema, dict):
        return None
    if schema.get("type") == "object":
        return schema
    if "type" not in schema and "properties" in schema and not _COMPOSITION & set(schema):
        return {"type": "object", **schema}
    return None


def _as_object_schema(schema: Any) -> dict[str, Any]:
    """A schema as a dict: JSON Schema's `true` is `{}`, `false` is `{"not": {}}`."""
    if schema is True:
        return {}
    if schema is False:
        return {"not": {}}
    result: dict[str, Any] = schema
    return result


def _property_name(name: str) -> str:
    if _PROPERTY_NAME.fullmatch(name):
        return name
    return _sanitize(name)[:MAX_TOOL_NAME] or "parameter"


def _unique(name: str, taken: dict[str, Any], *, suffix: str) -> str:
    if name not in taken:
        return name
    candidate = f"{name}_{suffix}"
    number = 2
    while candidate in taken:
        candidate = f"{name}_{suffix}_{number}"
        number += 1
    return candidate


def _tool_name(operation_id: Any, method: str, path: str) -> str:
    if isinstance(operation_id, str):
        name = _sanitize(operation_id)
        if name:
            return name[:MAX_TOOL_NAME]
    pieces = [method]
    for segment in path.split("/"):
        if segment.startswith("{") and segment.endswith("}"):
            pieces.append(f"by_{segment[1:-1]}")
        elif segment:
            pieces.append(segment)
    if len(pieces) == 1:
        pieces.append("root")
    return _sanitize("_".join(pieces))[:MAX_TOOL_NAME]


def _sanitize(text: str) -> str:
    """Runs of characters outside `[A-Za-z0-9_.-]` become one underscore, none at the ends."""
    return "_".join(part for part in _NAME_CHARS.split(text) if part)


def _hints(method: str) -> dict[str, Any]:
    if method in _SAFE_METHODS:
        return {"readOnlyHint": True}
    if method == "delete":
        return {"readOnlyHint": False, "idempotentHint": True, "destructiveHint": True}
    if method == "put":
        return {"readOnlyHint": False, "idempotentHint": True}
    return {"readOnlyHint": False}


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""
