"""What a newcomer gets from `stoa up` (`make run`): an MCP client registers, the demo
developer signs in with the printed password, and the client calls a demo tool through
the gateway with the token, with no manual step besides typing the login."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from mcp import Client
from mcp.client.auth import OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.shared.auth import OAuthClientMetadata

from support.mcp_oauth import MemoryStorage, PersonAtTheBrowser
from support.servers import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.anyio]

STOA = str(Path(sys.executable).parent / "stoa")


@dataclass
class Demo:
    control_plane: str
    gateway: str
    logins: dict[str, str]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    data_dir = tmp_path_factory.mktemp("demo") / "data"
    port, gateway_port = free_port(), free_port()
    gateway = f"http://127.0.0.1:{gateway_port}"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("STOA_")},
        "STOA_DATA_DIR": str(data_dir),
        "STOA_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "STOA_GATEWAY_PUBLIC_URL": gateway,
    }
    command = [
        *(STOA, "up", "--port", str(port), "--gateway-port", str(gateway_port)),
        *("--weather-port", str(free_port()), "--toolbox-port", str(free_port())),
    ]
    lines: list[str] = []
    with subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as process:
        output = process.stdout
        assert output is not None
        reader = threading.Thread(target=lambda: lines.extend(output), daemon=True)
        reader.start()
        try:
            deadline = time.monotonic() + 90
            while not any("stop with Ctrl+C" in line for line in lines):
                assert process.poll() is None, "stoa up exited early:\n" + "".join(lines)
                assert time.monotonic() < deadline, "no banner in 90 s:\n" + "".join(lines)
                time.sleep(0.1)
            logins = dict(
                line.split("=", 1)
                for line in (data_dir / "demo.env").read_text().splitlines()
                if "=" in line and not line.startswith("#")
            )
            yield Demo(f"http://127.0.0.1:{port}", gateway, logins)
        finally:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
            reader.join(timeout=5)


async def test_an_mcp_client_gets_a_token_for_the_demo_developer_and_calls_a_tool(
    demo: Demo,
) -> None:
    person = PersonAtTheBrowser(
        demo.logins["STOA_DEMO_DEVELOPER_EMAIL"],
        demo.logins["STOA_DEMO_DEVELOPER_PASSWORD"],
        demo.logins["STOA_DEMO_APPLICATION_ID"],
    )
    provider = OAuthClientProvider(
        server_url=f"{demo.gateway}/mcp",
        client_metadata=OAuthClientMetadata(
            client_name="demo agent",
            redirect_uris=["http://127.0.0.1:33420/callback"],
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
        ),
        storage=MemoryStorage(),
        redirect_handler=person.redirect,
        callback_handler=person.callback,
    )
    async with (
        create_mcp_http_client(auth=provider) as http,
        Client(streamable_http_client(f"{demo.gateway}/mcp", http_client=http)) as mcp,
    ):
        names = [tool.name for tool in (await mcp.list_tools()).tools]
        assert "toolbox__echo" in names
        assert "weather__getForecast" in names
        echoed = await mcp.call_tool("toolbox__echo", {"text": "hello from the demo"})
        assert echoed.content[0].text == "hello from the demo"  # type: ignore[union-attr]
    assert person.authorization_urls[0].startswith(f"{demo.control_plane}/oauth/authorize?")
