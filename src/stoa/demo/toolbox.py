"""The demo MCP upstream "toolbox", built with the official MCP Python SDK.

`stoa up` serves it on loopback at `/mcp` (Streamable HTTP) so the gateway's MCP side can
be tried and tested offline. It exposes:

- tool `echo` `{"text": string}`: returns the text unchanged as one text content block;
- tool `add` `{"a": number, "b": number}`: returns the sum as text (`"3.0"`) and as
  structured content `{"result": 3.0}` (annotated read-only and idempotent);
- tool `fail` `{}`: always answers a tool error (`isError: true`, text ending in
  `FAIL_MESSAGE`), for error-path tests;
- resource `toolbox://readme` (text/markdown);
- prompt `greet` with required argument `name`.
"""

from __future__ import annotations

from typing import Any, Final

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.transport_security import TransportSecuritySettings
from mcp.types import ToolAnnotations
from starlette.applications import Starlette

TOOLBOX_MCP_PATH: Final = "/mcp"
README_URI: Final = "toolbox://readme"
FAIL_MESSAGE: Final = "this tool always fails"

_README: Final = """\
# toolbox

The STOA demo MCP server. Tools: `echo` returns its text, `add` sums two numbers, and
`fail` always returns a tool error. The prompt `greet` asks for a greeting.
"""

# DNS-rebinding protection stays on, but with an explicit loopback list: the SDK only
# derives one from its `host` argument, and its `host:*` patterns would refuse a Host
# header without a port (plain `localhost`, as sent for port 80).
_LOOPBACK_SECURITY: Final = TransportSecuritySettings(
    enable_dns_rebinding_protection=True,
    allowed_hosts=["127.0.0.1", "127.0.0.1:*", "localhost", "localhost:*", "[::1]", "[::1]:*"],
    allowed_origins=[
        "http://127.0.0.1",
        "http://127.0.0.1:*",
        "http://localhost",
        "http://localhost:*",
        "http://[::1]",
        "http://[::1]:*",
    ],
)


def build_toolbox_server() -> MCPServer[Any]:
    """Return a fresh toolbox `MCPServer` with the tools, resource and prompt listed above.

    Useful on its own for in-process tests (`mcp.Client(build_toolbox_server())`).
    """
    # log_level WARNING: MCPServer calls logging.basicConfig with it, which only takes
    # effect when nothing configured logging yet; WARNING matches Python's default there.
    server: MCPServer[Any] = MCPServer(
        "toolbox",
        version="1.0.0",
        instructions="Demo tools for trying the STOA gateway: echo, add and fail.",
        log_level="WARNING",
    )

    # structured_output=False: a plain text result, with no outputSchema wrapping it in
    # {"result": ...}, is the simplest thing for a gateway to pass through.
    @server.tool(description="Return the text unchanged", structured_output=False)
    def echo(text: str) -> str:
        return text

    @server.tool(
        description="Add two numbers and return the sum",
        annotations=ToolAnnotations(read_only_hint=True, idempotent_hint=True),
    )
    def add(a: float, b: float) -> float:
        return a + b

    @server.tool(
        description="Always fail with a tool error (for testing error handling)",
        structured_output=False,
    )
    def fail() -> str:
        raise ToolError(FAIL_MESSAGE)

    @server.resource(
        README_URI,
        name="readme",
        description="What the toolbox demo server offers",
        mime_type="text/markdown",
    )
    def readme() -> str:
        return _README

    @server.prompt(description="Ask the assistant to greet someone by name")
    def greet(name: str) -> str:
        return f"Please greet {name} warmly, in one short sentence."

    return server


def create_toolbox_app(*, json_response: bool = False) -> Starlette:
    """Build the toolbox ASGI app, serving MCP Streamable HTTP at `/mcp`.

    The server is stateless: every POST is self-contained and no `Mcp-Session-Id` is
    issued, so a gateway (or any plain HTTP client) may send `tools/list` or `tools/call`
    without an `initialize` first, and any replica may answer. With the SDK's default
    `json_response=False`, a POST must accept both `application/json` and
    `text/event-stream` and the answer comes as an SSE stream; with `json_response=True`,
    accepting `application/json` suffices and the answer is one JSON body.

    Host headers must name loopback (127.0.0.1, localhost or [::1], any port); others get
    421 from the SDK's DNS-rebinding protection. The returned app's lifespan runs the
    SDK's session manager, so serve it with lifespan enabled (uvicorn's default) and use
    each app for one server run only.
    """
    return build_toolbox_server().streamable_http_app(
        streamable_http_path=TOOLBOX_MCP_PATH,
        json_response=json_response,
        stateless_http=True,
        transport_security=_LOOPBACK_SECURITY,
    )
