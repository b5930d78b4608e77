"""The MCP Inspector CLI (Node 22, fetched by npx) against a running `stoa gateway`.

Skipped when `npx` is missing; the Inspector version is pinned so the test reads the
output format it was written for.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import Any

import pytest

from support.gateway_mcp import Stack

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(shutil.which("npx") is None, reason="needs npx (Node.js)"),
    pytest.mark.timeout(600),
]

INSPECTOR = "@modelcontextprotocol/inspector@2.12.0"


def inspector(stack: Stack, *args: str, key: bool = True) -> tuple[int, Any]:
    command = ["npx", "-y", "-p", "node@22", "-p", INSPECTOR, "mcp-inspector", "--cli"]
    command += [stack.url, "--transport", "http", "--stored-auth-only", *args]
    if key:
        command += ["--header", f"X-API-Key: {stack.key}"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    start = done.stdout.find("{")
    end = done.stdout.rfind("}")
    body = json.loads(done.stdout[start : end + 1]) if start >= 0 else None
    return done.returncode, body


@pytest.mark.parametrize("era", ["modern", "legacy"])
def test_the_inspector_lists_and_calls_tools_through_the_gateway(stack: Stack, era: str) -> None:
    code, listed = inspector(stack, "--protocol-era", era, "--method", "tools/list")
    assert code == 0
    assert [tool["name"] for tool in listed["tools"]] == [
        "toolbox__add",
        "toolbox__echo",
        "toolbox__fail",
        "weather__createAlert",
        "weather__getForecast",
    ]
    code, called = inspector(
        stack,
        *("--protocol-era", era, "--method", "tools/call"),
        *("--tool-name", "weather__getForecast", "--tool-arg", "city=Paris"),
    )
    assert code == 0
    assert called["structuredContent"]["city"] == "Paris"
    code, echoed = inspector(
        stack,
        *("--protocol-era", era, "--method", "tools/call"),
        *("--tool-name", "toolbox__echo", "--tool-arg", "text=bonjour"),
    )
    assert code == 0
    assert echoed["content"][0]["text"] == "bonjour"


def test_the_inspector_without_a_key_is_refused(stack: Stack) -> None:
    code, _ = inspector(stack, "--method", "tools/list", key=False)
    assert code != 0
