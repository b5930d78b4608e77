"""`stoa up` as a user starts it: the demo developer's key reaches both demo APIs through
`/mcp` with the official SDK, from the snapshot the real control plane builds."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from support.servers import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.anyio, pytest.mark.timeout(300)]

STOA = str(Path(sys.executable).parent / "stoa")


async def test_the_demo_key_lists_and_calls_the_demo_tools_over_mcp(tmp_path: Path) -> None:
    port, gateway_port, weather, toolbox = free_port(), free_port(), free_port(), free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("STOA_")},
        "STOA_DATA_DIR": str(tmp_path / "data"),
        "STOA_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "STOA_GATEWAY__ACCESS_LOG": "false",
    }
    command = [STOA, "up", "--port", str(port), "--gateway-port", str(gateway_port)]
    command += ["--weather-port", str(weather), "--toolbox-port", str(toolbox)]
    lines: list[str] = []
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    output = process.stdout
    assert output is not None
    threading.Thread(target=lambda: lines.extend(output), daemon=True).start()
    try:
        deadline = time.monotonic() + 120
        while not any("stop with Ctrl+C" in line for line in lines):
            assert process.poll() is None, "stoa up exited early:\n" + "".join(lines)
            assert time.monotonic() < deadline, "no banner:\n" + "".join(lines)
            time.sleep(0.1)
        demo_env = dict(
            line.split("=", 1)
            for line in (tmp_path / "data" / "demo.env").read_text().splitlines()
            if "=" in line
        )
        key = demo_env["STOA_DEMO_API_KEY"]
        url = f"http://127.0.0.1:{gateway_port}/mcp"
        for mode in ("auto", "legacy"):
            async with (
                create_mcp_http_client(headers={"Authorization": f"Bearer {key}"}) as http,
                Client(streamable_http_client(url, http_client=http), mode=mode) as mcp,
            ):
                names = [tool.name for tool in (await mcp.list_tools()).tools]
                assert "toolbox__echo" in names
                assert "weather__getForecast" in names
                echoed = await mcp.call_tool("toolbox__echo", {"text": "demo"})
                assert echoed.content[0].text == "demo"  # type: ignore[union-attr]
                forecast = await mcp.call_tool("weather__getForecast", {"city": "Lisbon"})
                assert forecast.structured_content is not None
                assert forecast.structured_content["city"] == "Lisbon"
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        output.close()
