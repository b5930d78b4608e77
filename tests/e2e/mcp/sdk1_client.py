"""Run by the 1.x MCP Python SDK in its own venv (not imported by pytest).

Usage: python sdk1_client.py URL KEY. Prints one JSON object with what the session saw.
"""

import asyncio
import json
import sys

from mcp import ClientSession
from mcp.client.streamable_http import streamablehttp_client


async def main(url: str, key: str) -> None:
    async with (
        streamablehttp_client(url, headers={"X-API-Key": key}) as (read, write, session_id),
        ClientSession(read, write) as session,
    ):
        init = await session.initialize()
        tools = await session.list_tools()
        echo = await session.call_tool("toolbox__echo", {"text": "from 1.x"})
        forecast = await session.call_tool("weather__getForecast", {"city": "Oslo"})
        failed = await session.call_tool("toolbox__fail", {})
        resources = await session.list_resources()
        prompt = await session.get_prompt("toolbox__greet", {"name": "Ada"})
        await session.send_ping()
        print(
            json.dumps(
                {
                    "version": init.protocolVersion,
                    "session": session_id() is not None,
                    "tools": [tool.name for tool in tools.tools],
                    "echo": echo.content[0].text,
                    "city": (forecast.structuredContent or {}).get("city"),
                    "failed": failed.isError,
                    "resources": [str(r.uri) for r in resources.resources],
                    "prompt": prompt.messages[0].content.text,
                }
            )
        )


asyncio.run(main(sys.argv[1], sys.argv[2]))
