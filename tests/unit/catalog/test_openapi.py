"""OpenAPI 3.0/3.1 documents become one MCP tool draft per operation."""

from __future__ import annotations

import json
from typing import Any

import pytest

from stoa.controlplane.catalog.openapi import parse_openapi, tools_from_openapi
from stoa.controlplane.catalog.tool_draft import ToolDraft
from stoa.kit.errors import InvalidInput

WEATHER_30 = """\
openapi: 3.0.3
info:
  title: Weather
  version: 2024-05-01
paths:
  /forecast:
    get:
      operationId: getForecast
      summary: Forecast for a city
      description: Three days of weather.
      parameters:
        - name: city
          in: query
          required: true
          description: City name
          schema: {type: string}
        - name: days
          in: query
          schema: {type: integer, minimum: 1, exclusiveMinimum: true, nullable: true}
      responses:
        200:
          description: The forecast
          content:
            application/json:
              schema: {$ref: '#/components/schemas/Forecast'}
  /cities/{city}:
    parameters:
      - {name: city, in: path, description: path-level, schema: {type: string}}
      - {name: units, in: query, schema: {type: string, enum: [metric, imperial]}}
    put:
      operationId: putCity
      parameters:
        - {name: units, in: query, required: true, schema: {type: string, enum: [si]}}
      requestBody:
        $ref: '#/components/requestBodies/City'
      responses:
        '204': {description: stored}
    delete:
      parameters:
        - $ref: '#/components/parameters/Reason'
      responses:
        '200': {$ref: '#/components/responses/Deleted'}
    head:
      responses: {'200': {description: exists}}
components:
  parameters:
    Reason:
      name: reason
      in: header
      schema: {type: string}
  requestBodies:
    City:
      required: true
      content:
        application/json:
          schema: {$ref: '#/components/schemas/City'}
  responses:
    Deleted:
      description: gone
      content:
        application/json:
          schema: {type: object, properties: {deleted: {type: boolean}}}
  schemas:
    Forecast:
      type: object
      properties:
        city: {type: string}
        on: {type: boolean, description: a YAML 1.1 boolean name}
        days:
          type: array
          items: {$ref: '#/components/schemas/Day'}
    Day:
      type: object
      properties:
        date: {type: string, format: date, example: 2024-05-01}
        rain: {type: number, nullable: true}
        kind: {type: string, enum: [sun, rain], nullable: true}
    City:
      type: object
      required: [name]
      properties:
        name: {type: string}
        population: {type: integer}
"""


def tools(document: str | dict[str, Any]) -> dict[str, ToolDraft]:
    parsed = parse_openapi(document) if isinstance(document, str) else document
    return {tool.name: tool for tool in tools_from_openapi(parsed)}


def doc31(paths: dict[str, Any], **components: Any) -> dict[str, Any]:
    document: dict[str, Any] = {"openapi": "3.1.0", "info": {"title": "t"}, "paths": paths}
    if components:
        document["components"] = components
    return parse_openapi(json.dumps(document))


# --- parsing --------------------------------------------------------------------------


def test_yaml_is_read_as_yaml_1_2_with_string_keys() -> None:
    document = parse_openapi(WEATHER_30)
    assert document["openapi"] == "3.0.3"
    assert document["info"]["version"] == "2024-05-01"
    assert "200" in document["paths"]["/forecast"]["get"]["responses"]
    assert "on" in document["components"]["schemas"]["Forecast"]["properties"]


def test_json_bytes_with_bom_are_read() -> None:
    text = json.dumps({"openapi": "3.1.0", "paths": {}})
    assert parse_openapi(b"\xef\xbb\xbf" + text.encode()) == {"openapi": "3.1.0", "paths": {}}


def test_swagger_2_is_refused_with_advice() -> None:
    with pytest.raises(InvalidInput, match=r"Swagger 2\.0 document; convert it to OpenAPI 3"):
        parse_openapi('swagger: "2.0"\ninfo: {title: x}\npaths: {}\n')


def test_yaml_syntax_error_names_the_line() -> None:
    text = "openapi: 3.1.0\npaths:\n  /a:\n    get: {\n  bad: [\n"
    with pytest.raises(InvalidInput, match=r"^line \d+: YAML syntax error: "):
        parse_openapi(text)
    with pytest.raises(InvalidInput, match="line 3: YAML syntax error: mapping values"):
        parse_openapi("openapi: 3.1.0\npaths: {}\nkey: value: other\n")


def test_json_syntax_error_names_line_and_column() -> None:
    with pytest.raises(InvalidInput, match="line 2 column 14: JSON syntax error"):
        parse_openapi('{"openapi": "3.1.0",\n "paths": {}}}')


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- a\n- b\n", "the document is a list, not an OpenAPI object"),
        ("just text", "the document is a string, not an OpenAPI object"),
        ("   \n", "the document is empty"),
        ("info: {title: x}\npaths: {}\n", "no `openapi` field"),
        ("openapi: 3.2.0\npaths: {}\n", "OpenAPI version 3.2.0 is not supported"),
        ("openapi: 2.0\npaths: {}\n", "OpenAPI version 2.0 is not supported"),
        ("openapi: 3.1.0\ninfo: {title: x}\n", "no `paths` object"),
        ("openapi: 3.1.0\npaths: [a]\n", "`paths` must be an object, found a list"),
        ("openapi: 3.0.0\npaths: {}\n---\nmore: 1\n", "expected a single document"),
        ('openapi: 3.1.0\npaths: {}\nblob: !!binary "aGk="\n', "holds a bytes value"),
    ],
)
def test_documents_that_are_not_openapi_3_are_refused(text: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        parse_openapi(text)


def test_unquoted_short_versions_are_accepted() -> None:
    assert parse_openapi("openapi: 3.1\npaths: {}\n")["openapi"] == "3.1"


def test_oversized_document_is_refused_before_parsing() -> None:
    with pytest.raises(InvalidInput, match="the limit is 5000000 bytes"):
        parse_openapi("openapi: 3.1.0\npaths: {}\n#" + "x" * 5_000_000)


def test_non_utf8_bytes_are_refused() -> None:
    with pytest.raises(InvalidInput, match="not UTF-8"):
        parse_openapi(b"openapi: 3.1.0\npaths: {}\ninfo: {title: \xff}\n")


def test_yaml_alias_bomb_is_refused() -> None:
    lines = ["openapi: 3.1.0", "paths: {}", "a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for level in range(1, 10):
        below = f"*a{level - 1}"
        lines.append(f"a{level}: &a{level} [{', '.join([below] * 10)}]")
    with pytest.raises(InvalidInput, match="expands to more than 1000000 values"):
        parse_openapi("\n".join(lines))


def test_modest_yaml_anchors_are_fine() -> None:
    document = parse_openapi(
        "openapi: 3.1.0\npaths: {}\nx-shared: &s {type: string}\nx-use: [*s, *s]\n"
    )
    assert document["x-use"] == [{"type": "string"}, {"type": "string"}]


def test_recursive_yaml_anchor_is_refused() -> None:
    with pytest.raises(InvalidInput, match="alias refers to a node containing it"):
        parse_openapi("openapi: 3.1.0\npaths: {}\nloop: &l {self: *l}\n")


@pytest.mark.parametrize("opening", ["{", "- "])
def test_deep_nesting_is_refused(opening: str) -> None:
    if opening == "{":
        text = '{"openapi": "3.1.0", "paths": {}, "x": ' + "[" * 500 + "]" * 500 + "}"
    else:
        text = "openapi: 3.1.0\npaths: {}\nx: " + "[" * 500 + "]" * 500
    with pytest.raises(InvalidInput, match="deeper than 100 levels"):
        parse_openapi(text)


# --- tools ----------------------------------------------------------------------------


def test_get_operation_becomes_a_read_only_tool() -> None:
    forecast = tools(WEATHER_30)["getForecast"]
    assert forecast.description == "Forecast for a city"
    assert forecast.annotations == {"title": "Forecast for a city", "readOnlyHint": True}
    assert forecast.input_schema == {
        "type": "object",
        "properties": {
            "city": {"type": "string", "description": "City name"},
            "days": {"type": ["integer", "null"], "exclusiveMinimum": 1},
        },
        "required": ["city"],
    }
    assert forecast.binding == {
        "method": "GET",
        "path": "/forecast",
        "parameters": [
            {
                "name": "city",
                "in": "query",
                "property": "city",
                "style": "form",
                "explode": True,
                "content_type": None,
            },
            {
                "name": "days",
                "in": "query",
                "property": "days",
                "style": "form",
                "explode": True,
                "content_type": None,
            },
        ],
        "body": None,
    }


def test_output_schema_inlines_refs_and_converts_nullable() -> None:
    forecast = tools(WEATHER_30)["getForecast"]
    day = {
        "type": "object",
        "properties": {
            "date": {"type": "string", "format": "date", "examples": ["2024-05-01"]},
            "rain": {"type": ["number", "null"]},
            "kind": {"type": ["string", "null"], "enum": ["sun", "rain", None]},
        },
    }
    assert forecast.output_schema == {
        "type": "object",
        "properties": {
            "city": {"type": "string"},
            "on": {"type": "boolean", "description": "a YAML 1.1 boolean name"},
            "days": {"type": "array", "items": day},
        },
    }


def test_path_level_parameters_merge_and_the_operation_wins() -> None:
    put = tools(WEATHER_30)["putCity"]
    properties = put.input_schema["properties"]
    assert list(properties) == ["city", "units", "name", "population"]
    assert properties["city"] == {"type": "string", "description": "path-level"}
    assert properties["units"] == {"type": "string", "enum": ["si"]}
    # Path parameters are required even when the document forgets to say so.
    assert put.input_schema["required"] == ["city", "units", "name"]
    assert put.annotations == {"readOnlyHint": False, "idempotentHint": True}
    assert put.output_schema is None


def test_object_body_is_merged_at_the_top_level() -> None:
    put = tools(WEATHER_30)["putCity"]
    assert put.binding == {
        "method": "PUT",
        "path": "/cities/{city}",
        "parameters": [
            {
                "name": "city",
                "in": "path",
                "property": "city",
                "style": "simple",
                "explode": False,
                "content_type": None,
            },
            {
                "name": "units",
                "in": "query",
                "property": "units",
                "style": "form",
                "explode": True,
                "content_type": None,
            },
        ],
        "body": {
            "mode": "merged",
            "property": None,
            "properties": ["name", "population"],
            "content_type": "application/json",
            "required": True,
        },
    }


def test_operation_without_id_is_named_from_method_and_path() -> None:
    by_name = tools(WEATHER_30)
    assert set(by_name) == {
        "getForecast",
        "putCity",
        "delete_cities_by_city",
        "head_cities_by_city",
    }
    delete = by_name["delete_cities_by_city"]
    assert delete.description == "DELETE /cities/{city}"
    assert "title" not in delete.annotations
    assert delete.annotations == {
        "readOnlyHint": False,
        "idempotentHint": True,
        "destructiveHint": True,
    }
    assert delete.input_schema["properties"]["reason"] == {"type": "string"}
    assert delete.binding is not None
    assert [(p["name"], p["in"]) for p in delete.binding["parameters"]] == [
        ("city", "path"),
        ("units", "query"),
        ("reason", "header"),
    ]
    assert delete.output_schema == {
        "type": "object",
        "properties": {"deleted": {"type": "boolean"}},
    }


def test_head_is_read_only_and_operations_keep_document_order() -> None:
    names = [tool.name for tool in tools_from_openapi(parse_openapi(WEATHER_30))]
    assert names == ["getForecast", "putCity", "delete_cities_by_city", "head_cities_by_city"]
    assert tools(WEATHER_30)["head_cities_by_city"].annotations == {"readOnlyHint": True}


def test_post_is_not_read_only_and_description_falls_back_to_description() -> None:
    post = tools(doc31({"/jobs": {"post": {"description": "Start a job.", "responses": {}}}}))[
        "post_jobs"
    ]
    assert post.annotations == {"readOnlyHint": False}
    assert post.description == "Start a job."
    assert post.input_schema == {"type": "object", "properties": {}}


def test_openapi_31_types_pass_through_unchanged() -> None:
    get = tools(
        doc31(
            {
                "/items": {
                    "get": {
                        "operationId": "listItems",
                        "parameters": [
                            {
                                "name": "tag",
                                "in": "query",
                                "schema": {"type": ["string", "null"], "exclusiveMaximum": 5},
                            }
                        ],
                        "responses": {
                            "200": {
                                "description": "ok",
                                "content": {
                                    "application/json": {
                                        "schema": {"type": "array", "items": {"type": "string"}}
                                    }
                                },
                            }
                        },
                    }
                }
            }
        )
    )["listItems"]
    assert get.input_schema["properties"]["tag"] == {
        "type": ["string", "null"],
        "exclusiveMaximum": 5,
    }
    # MCP output schemas must be objects: an array response gives none.
    assert get.output_schema is None


def test_body_clashing_with_a_parameter_goes_under_body() -> None:
    paths = {
        "/users/{name}": {
            "patch": {
                "operationId": "renameUser",
                "parameters": [{"name": "name", "in": "path", "schema": {"type": "string"}}],
                "requestBody": {
                    "content": {
                        "application/merge-patch+json": {
                            "schema": {
                                "type": "object",
                                "properties": {"name": {"type": "string"}},
                            }
                        }
                    }
                },
                "responses": {},
            }
        }
    }
    patch = tools(doc31(paths))["renameUser"]
    assert patch.input_schema == {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "body": {"type": "object", "properties": {"name": {"type": "string"}}},
        },
        "required": ["name"],
    }
    assert patch.binding is not None
    assert patch.binding["body"] == {
        "mode": "property",
        "property": "body",
        "properties": [],
        "content_type": "application/merge-patch+json",
        "required": False,
    }


def test_required_array_body_goes_under_body_and_is_required() -> None:
    paths = {
        "/batch": {
            "post": {
                "operationId": "batch",
                "requestBody": {
                    "required": True,
                    "description": "The items.",
                    "content": {
                        "application/json": {
                            "schema": {"type": "array", "items": {"type": "integer"}}
                        }
                    },
                },
                "responses": {},
            }
        }
    }
    batch = tools(doc31(paths))["batch"]
    assert batch.input_schema["properties"]["body"] == {
        "type": "array",
        "items": {"type": "integer"},
        "description": "The items.",
    }
    assert batch.input_schema["required"] == ["body"]


def test_non_json_body_is_a_string_with_its_content_type() -> None:
    paths = {
        "/login": {
            "post": {
                "operationId": "login",
                "parameters": [{"name": "body", "in": "query", "schema": {"type": "string"}}],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/x-www-form-urlencoded": {"schema": {"type": "object"}},
                        "text/plain": {},
                    },
                },
                "responses": {},
            }
        }
    }
    login = tools(doc31(paths))["login"]
    assert login.input_schema["properties"]["body_request"] == {
        "type": "string",
        "description": "Request body (application/x-www-form-urlencoded).",
    }
    assert login.input_schema["required"] == ["body_request"]
    assert login.binding is not None
    assert login.binding["body"]["content_type"] == "application/x-www-form-urlencoded"
    assert login.binding["body"]["property"] == "body_request"


def test_cookie_and_ignored_header_parameters_are_left_out() -> None:
    paths = {
        "/me": {
            "get": {
                "operationId": "me",
                "parameters": [
                    {"name": "session", "in": "cookie", "required": True},
                    {"name": "Accept", "in": "header", "schema": {"type": "string"}},
                    {"name": "X-Trace", "in": "header", "schema": {"type": "string"}},
                    {"name": "filter[name]", "in": "query", "schema": {"type": "string"}},
                    {"name": "id", "in": "query", "schema": {"type": "string"}},
                    {"name": "id", "in": "header", "schema": {"type": "string"}},
                ],
                "responses": {},
            }
        }
    }
    me = tools(doc31(paths))["me"]
    assert list(me.input_schema["properties"]) == ["X-Trace", "filter_name", "id", "id_header"]
    assert me.binding is not None
    assert [(p["name"], p["in"], p["property"]) for p in me.binding["parameters"]] == [
        ("X-Trace", "header", "X-Trace"),
        ("filter[name]", "query", "filter_name"),
        ("id", "query", "id"),
        ("id", "header", "id_header"),
    ]


def test_recursive_schemas_stop_after_one_level() -> None:
    schemas = {
        "Node": {
            "type": "object",
            "properties": {
                "value": {"type": "string"},
                "children": {"type": "array", "items": {"$ref": "#/components/schemas/Node"}},
                "peer": {"$ref": "#/components/schemas/Peer"},
            },
        },
        "Peer": {"type": "object", "properties": {"back": {"$ref": "#/components/schemas/Node"}}},
    }
    paths = {
        "/tree": {
            "post": {
                "operationId": "plant",
                "requestBody": {
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Node"}}
                    }
                },
                "responses": {},
            }
        }
    }
    plant = tools(doc31(paths, schemas=schemas))["plant"]
    properties = plant.input_schema["properties"]
    assert properties["children"] == {"type": "array", "items": {}}
    assert properties["peer"] == {"type": "object", "properties": {"back": {}}}


def test_ref_siblings_annotate_the_target_and_json_pointer_escapes_work() -> None:
    schemas = {
        "a/b~c": {"type": "string", "description": "original"},
        "Base": {"type": "object", "properties": {"id": {"type": "string"}}},
    }
    paths = {
        "/x": {
            "get": {
                "operationId": "x",
                "parameters": [
                    {
                        "name": "p",
                        "in": "query",
                        "schema": {"$ref": "#/components/schemas/a~1b~0c", "description": "over"},
                    },
                    {
                        "name": "q",
                        "in": "query",
                        "schema": {
                            "$ref": "#/components/schemas/Base",
                            "required": ["id"],
                            "nullable": True,
                        },
                    },
                ],
                "responses": {},
            }
        }
    }
    x = tools(doc31(paths, schemas=schemas))["x"]
    assert x.input_schema["properties"]["p"] == {"type": "string", "description": "over"}
    assert x.input_schema["properties"]["q"] == {
        "anyOf": [
            {
                "allOf": [{"type": "object", "properties": {"id": {"type": "string"}}}],
                "required": ["id"],
            },
            {"type": "null"},
        ]
    }


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ("other.yaml#/components/schemas/X", "points outside this document; bundle"),
        ("https://example.com/schemas.json", "points outside this document"),
        ("#/components/schemas/Missing", "does not resolve: no 'Missing' there"),
        ("#components", "is not a JSON pointer"),
    ],
)
def test_bad_refs_are_refused_naming_the_operation(ref: str, message: str) -> None:
    paths = {
        "/x": {
            "get": {
                "parameters": [{"name": "p", "in": "query", "schema": {"$ref": ref}}],
                "responses": {},
            }
        }
    }
    with pytest.raises(InvalidInput, match=message) as caught:
        tools_from_openapi(doc31(paths, schemas={}))
    assert caught.value.detail.startswith("operation GET /x")


def test_circular_parameter_refs_are_refused() -> None:
    parameters = {
        "A": {"$ref": "#/components/parameters/B"},
        "B": {"$ref": "#/components/parameters/A"},
    }
    paths = {"/x": {"get": {"parameters": [{"$ref": "#/components/parameters/A"}]}}}
    with pytest.raises(InvalidInput, match="circular \\$ref"):
        tools_from_openapi(doc31(paths, parameters=parameters))


def test_ref_expansion_bomb_is_refused() -> None:
    schemas: dict[str, Any] = {"S0": {"type": "string"}}
    for level in range(1, 25):
        ref = {"$ref": f"#/components/schemas/S{level - 1}"}
        schemas[f"S{level}"] = {"type": "object", "properties": {"a": ref, "b": ref}}
    paths = {
        "/x": {
            "get": {
                "parameters": [
                    {"name": "p", "in": "query", "schema": {"$ref": "#/components/schemas/S24"}}
                ]
            }
        }
    }
    with pytest.raises(InvalidInput, match="expand to more than 100000 nodes"):
        tools_from_openapi(doc31(paths, schemas=schemas))


def test_duplicate_tool_names_name_both_operations() -> None:
    paths = {
        "/a": {"get": {"operationId": "list items"}},
        "/b": {"get": {"operationId": "list_items"}},
    }
    with pytest.raises(InvalidInput) as caught:
        tools_from_openapi(doc31(paths))
    assert caught.value.detail == (
        "GET /a and GET /b both become the tool 'list_items'; give them distinct operationIds"
    )


def test_operation_ids_are_sanitized_and_shortened() -> None:
    long_id = "x" * 80
    paths = {
        "/a": {"get": {"operationId": "weather/get forecast!"}},
        "/b": {"get": {"operationId": long_id}},
        "/c": {"get": {"operationId": "日本"}},
        "/": {"get": {}},
    }
    assert list(tools(doc31(paths))) == [
        "weather_get_forecast",
        "x" * 64,
        "get_c",
        "get_root",
    ]


def test_undeclared_path_variables_still_become_required_properties() -> None:
    tool = tools(doc31({"/files/{fileId}": {"get": {"operationId": "file"}}}))["file"]
    assert tool.input_schema == {
        "type": "object",
        "properties": {"fileId": {"type": "string"}},
        "required": ["fileId"],
    }


@pytest.mark.parametrize(
    ("operation", "message"),
    [
        ({"parameters": [{"in": "query"}]}, "operation parameter 1 has no `name`"),
        ({"parameters": [{"name": "a", "in": "body"}]}, "has `in: body`"),
        ({"parameters": {"name": "a"}}, "`parameters` must be a list"),
        ({"parameters": [{"name": "a", "in": "query", "schema": [1]}]}, "schema must be an object"),
    ],
)
def test_malformed_parameters_are_refused(operation: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        tools_from_openapi(doc31({"/x": {"get": operation}}))


def test_drafts_do_not_share_data_with_the_document() -> None:
    document = parse_openapi(WEATHER_30)
    put = tools(document)["putCity"]
    put.input_schema["properties"]["units"]["enum"].append("changed")
    units = document["paths"]["/cities/{city}"]["put"]["parameters"][0]["schema"]
    assert units["enum"] == ["si"]
