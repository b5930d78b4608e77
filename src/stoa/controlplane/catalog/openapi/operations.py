"""One OpenAPI operation turned into a tool draft: name, merged input schema, output
schema, hints and the binding the gateway uses to build the HTTP request."""

from __future__ import annotations

import re
from typing import Any, Final

from stoa.controlplane.catalog.openapi.json_schema import References, SchemaBuilder
from stoa.controlplane.catalog.openapi.text import kind_of
from stoa.controlplane.catalog.tool_draft import ToolDraft
from stoa.kit.errors import InvalidInput

MAX_TOOL_NAME: Final = 64
_SAFE_METHODS: Final = frozenset({"get", "head", "options", "trace"})
_LOCATIONS: Final = ("path", "query", "header", "cookie")
_DEFAULT_STYLE: Final = {"path": "simple", "query": "form", "header": "simple"}
_IGNORED_HEADERS: Final = frozenset({"accept", "content-type", "authorization"})
_NAME_CHARS: Final = re.compile(r"[^A-Za-z0-9_.-]+")
_PROPERTY_NAME: Final = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_JSON_SUFFIX: Final = re.compile(r"^[a-z0-9!#$&^_.-]+/[a-z0-9!#$&^_.*-]*\+json$")
_TEMPLATE_VARIABLE: Final = re.compile(r"{([^{}/]+)}")
_COMPOSITION: Final = frozenset({"allOf", "anyOf", "oneOf", "not", "if", "$ref"})


def tool_from_operation(
    refs: References, path: str, method: str, operation: Any, path_parameters: Any
) -> ToolDraft:
    label = f"{method.upper()} {path}"
    where = f"operation {label}"
    if not isinstance(operation, dict):
        raise InvalidInput(f"{where}: expected an object, found {kind_of(operation)}")
    builder = SchemaBuilder(refs, where)
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
    refs: References, path_level: Any, operation_level: Any, where: str
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
                raise InvalidInput(f"{context} must be an object, found {kind_of(parameter)}")
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
    builder: SchemaBuilder, parameter: dict[str, Any], where: str
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
    refs: References,
    builder: SchemaBuilder,
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
        raise InvalidInput(f"{where}: requestBody must be an object, found {kind_of(body)}")
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
    refs: References, builder: SchemaBuilder, responses: Any, where: str
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
