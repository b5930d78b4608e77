"""A session-based (2025-06-18) MCP upstream over real HTTP, for gateway tests.

It speaks only the legacy generation: `server/discover` is refused as the 1.x SDK refuses
a request without a session, `initialize` opens a session, every other request needs
`Mcp-Session-Id` (404 otherwise), and answers come as event streams. `POST /forget`
drops every session (a restarted server), `GET /stats` says how many `initialize`s it saw.
Tools: `whoami` (returns "legacy"), `slow` (sleeps `seconds`, then answers), `headers`
(returns the request's headers as JSON text), `linger` (answers, then keeps its event
stream open for 30 s).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

VERSION = "2025-06-18"


def create_legacy_app() -> Starlette:
    sessions: set[str] = set()
    stats = {"initialize": 0, "calls": 0}

    def sse(message: dict[str, Any], session_id: str | None = None) -> Response:
        body = f"event: message\r\ndata: {json.dumps(message)}\r\n\r\n"
        headers = {"mcp-session-id": session_id} if session_id else {}
        return Response(body, media_type="text/event-stream", headers=headers)

    async def mcp(request: Request) -> Response:
        message = json.loads(await request.body())
        method = message.get("method")
        session_id = request.headers.get("mcp-session-id")
        if method == "initialize":
            stats["initialize"] += 1
            new_id = uuid.uuid4().hex
            sessions.add(new_id)
            result = {
                "protocolVersion": VERSION,
                "capabilities": {"tools": {}},
                "serverInfo": {"name": "legacy", "version": "1"},
            }
            return sse({"jsonrpc": "2.0", "id": message["id"], "result": result}, new_id)
        if session_id is None:
            error = {"code": -32600, "message": "Bad Request: No valid session ID provided"}
            return JSONResponse({"jsonrpc": "2.0", "id": "server-error", "error": error}, 400)
        if session_id not in sessions:
            return JSONResponse(
                {"jsonrpc": "2.0", "id": None, "error": {"code": -32001, "message": "gone"}}, 404
            )
        if "id" not in message:
            return Response(status_code=202)
        if request.headers.get("mcp-protocol-version") != VERSION:
            return JSONResponse({"error": "wrong protocol version header"}, 400)
        if method == "tools/call" and message["params"]["name"] == "linger":
            # Answers at once, then keeps the stream open, as servers may.
            answer = {"content": [{"type": "text", "text": "lingering"}], "isError": False}
            reply = {"jsonrpc": "2.0", "id": message["id"], "result": answer}
            event = f"event: message\r\ndata: {json.dumps(reply)}\r\n\r\n"

            async def linger() -> Any:
                yield b": prime\r\n\r\n"
                yield event.encode()
                await asyncio.sleep(30)

            return StreamingResponse(linger(), media_type="text/event-stream")
        if method == "tools/call":
            stats["calls"] += 1
            name = message["params"]["name"]
            if name == "slow":
                await asyncio.sleep(float(message["params"]["arguments"].get("seconds", 5)))
            text = "legacy" if name == "whoami" else f"{name} done"
            if name == "headers":
                text = json.dumps(dict(request.headers))
            result = {"content": [{"type": "text", "text": text}], "isError": False}
            return sse({"jsonrpc": "2.0", "id": message["id"], "result": result})
        error = {"code": -32601, "message": f"Method not found: {method}"}
        return sse({"jsonrpc": "2.0", "id": message["id"], "error": error})

    async def forget(request: Request) -> Response:
        sessions.clear()
        return Response(status_code=204)

    async def read_stats(request: Request) -> Response:
        return JSONResponse(stats)

    return Starlette(
        routes=[
            Route("/mcp", mcp, methods=["POST"]),
            Route("/forget", forget, methods=["POST"]),
            Route("/stats", read_stats, methods=["GET"]),
        ]
    )
