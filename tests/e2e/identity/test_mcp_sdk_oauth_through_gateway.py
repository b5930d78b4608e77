"""The whole chain with nothing stubbed: the MCP Python SDK (2.x) connects to a running
`stoa gateway`, is challenged, discovers the gateway's protected-resource metadata and our
authorization server, registers, signs the user in with PKCE (the test answers the pages
by HTTP), gets a token for the gateway's MCP resource, and lists and calls the tools of
the application the user chose on the consent page."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from mcp import Client
from mcp.client.auth import OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.shared.auth import OAuthClientMetadata

from stoa.cli import local_admin
from stoa.controlplane.app import create_app
from stoa.controlplane.models import Application
from stoa.demo.toolbox import create_toolbox_app
from stoa.kit.settings import Settings
from support.databases import create_database
from support.gateway_mcp import APP, GatewayRun, api, snapshot, toolbox_tools
from support.mcp_oauth import MemoryStorage, PersonAtTheBrowser
from support.servers import ServerThread, free_port

pytestmark = [pytest.mark.e2e, pytest.mark.anyio]

PASSWORD = "k7mq2-xvh9p-4rtzw-ncd8e-u3jas"


@dataclass
class Chain:
    gateway_url: str
    issuer: str


async def _seed(settings: Settings) -> None:
    """The developer and their application `APP`, which the gateway's snapshot subscribes
    to the toolbox API."""
    user = await local_admin.create_user(
        settings,
        email="dev@demo.test",
        roles=["developer"],
        tenant="demo",
        password=PASSWORD,
        create_tenant=True,
    )
    async with local_admin.transaction(settings) as session:
        session.add(Application(id=APP, owner_id=user.id, tenant_id=user.tenant_id, name="agent"))


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chain]:
    scratch: Path = tmp_path_factory.mktemp("oauth-chain")
    toolbox = ServerThread(create_toolbox_app(), ready_path="/").start()
    cp_port = free_port()
    issuer = f"http://127.0.0.1:{cp_port}"
    built = snapshot([api("a-toolbox", "toolbox", "mcp", toolbox.url + "/mcp", toolbox_tools())])
    gateway = GatewayRun(built, scratch, workers=1, env={"STOA_PUBLIC_URL": issuer})
    settings = Settings(
        data_dir=scratch / "data",
        database_url=create_database("sqlite", scratch),
        public_url=issuer,
        gateway_public_url=gateway.url,
    )
    asyncio.run(_seed(settings))
    control_plane = ServerThread(create_app(settings), port=cp_port).start()
    try:
        yield Chain(gateway.url, issuer)
    finally:
        control_plane.stop()
        gateway.stop()
        toolbox.stop()


async def test_sdk_signs_in_through_the_gateway_challenge_and_calls_a_tool(chain: Chain) -> None:
    person = PersonAtTheBrowser("dev@demo.test", PASSWORD, APP)
    storage = MemoryStorage()
    provider = OAuthClientProvider(
        server_url=f"{chain.gateway_url}/mcp",
        client_metadata=OAuthClientMetadata(
            client_name="MCP SDK through the gateway",
            redirect_uris=["http://127.0.0.1:33419/callback"],
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
        ),
        storage=storage,
        redirect_handler=person.redirect,
        callback_handler=person.callback,
    )
    async with (
        create_mcp_http_client(auth=provider) as http,
        Client(streamable_http_client(f"{chain.gateway_url}/mcp", http_client=http)) as mcp,
    ):
        tools = await mcp.list_tools()
        assert "toolbox__echo" in [tool.name for tool in tools.tools]
        echoed = await mcp.call_tool("toolbox__echo", {"text": "signed in"})
        assert echoed.content[0].text == "signed in"  # type: ignore[union-attr]

    assert person.pages_seen == ["login", "consent"]
    assert person.authorization_urls[0].startswith(f"{chain.issuer}/oauth/authorize?")
    assert storage.tokens is not None
    assert storage.tokens.refresh_token is not None
