"""`stoa up`: the whole platform in one process on the embedded defaults.

Order matters: migrate, start the demo upstreams (the toolbox must answer before its
tools can be discovered), seed the demo, serve the control plane, then start the gateway
(it fetches its config from the control plane), until interrupted.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass

import anyio
import uvicorn

from stoa.cli.embedded_gateway import (
    EmbeddedGateway,
    GatewayUnavailable,
    embedded_gateway_token,
    start_embedded_gateway,
)
from stoa.controlplane.app import create_app
from stoa.controlplane.demo_seed import DemoLogins, seed_demo
from stoa.controlplane.migrate import upgrade_to_head
from stoa.demo.serve import DemoUrls, serve_demo_upstreams
from stoa.kit.secret_file import private_dir
from stoa.kit.settings import Settings


@dataclass(frozen=True, slots=True)
class UpOptions:
    host: str = "127.0.0.1"
    port: int = 8000
    weather_port: int = 8091
    toolbox_port: int = 8092
    gateway_port: int = 8080


def banner(settings: Settings, options: UpOptions, urls: DemoUrls, logins: DemoLogins) -> str:
    base = f"http://{options.host}:{options.port}"
    gateway = settings.gateway_public_url.rstrip("/")
    return "\n".join(
        [
            "",
            "STOA is up",
            f"  control plane   {base}        API docs: {base}/docs",
            f"  gateway         {gateway}        MCP: {gateway}/mcp"
            f"   REST: {gateway}/proxy/demo/weather/forecast?city=Paris",
            f"  demo upstreams  weather {urls.weather_base_url}  toolbox {urls.toolbox_mcp_url}",
            f"  admin           {logins.admin_email} / {logins.admin_password}"
            "   (tenant-admin of tenant demo)",
            f"  developer       {logins.developer_email} / {logins.developer_password}",
            f"  demo API key    {logins.api_key}",
            f"  (also written to {logins.env_file}, mode 0600)",
            "",
            "  token for the API:  .venv/bin/stoa admin token --user admin@demo.local",
            "  stop with Ctrl+C",
            "",
        ]
    )


async def run_up(settings: Settings, options: UpOptions) -> None:
    private_dir(settings.data_dir)
    await upgrade_to_head(settings.resolved_database_url)
    async with anyio.create_task_group() as group:
        urls: DemoUrls = await group.start(
            serve_demo_upstreams, "127.0.0.1", options.weather_port, options.toolbox_port
        )
        logins = await seed_demo(settings, urls)
        token = await embedded_gateway_token(settings)
        config = uvicorn.Config(
            create_app(settings),
            host=options.host,
            port=options.port,
            access_log=False,
            log_level=settings.log_level.lower(),
        )
        server = _ControlPlaneServer(config)
        group.start_soon(
            _gateway_then_banner,
            server,
            settings,
            options,
            token,
            banner(settings, options, urls, logins),
        )
        try:
            await server.serve()
        finally:
            if server.gateway is not None:
                await server.gateway.stop()
        # The control plane stopped (Ctrl+C or a failed start): stop the demo upstreams too.
        group.cancel_scope.cancel()


class _ControlPlaneServer(uvicorn.Server):
    """uvicorn's server that stops the embedded gateway before itself, so the gateway's
    last usage reaches a control plane that still answers."""

    gateway: EmbeddedGateway | None = None

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        if self.gateway is not None:
            await self.gateway.stop()
        await super().shutdown(sockets)


async def _gateway_then_banner(
    server: _ControlPlaneServer, settings: Settings, options: UpOptions, token: str, text: str
) -> None:
    # uvicorn exposes only a `started` flag, no event to wait on.
    while not server.started:
        if server.should_exit:
            return
        await anyio.sleep(0.05)
    # The gateway fetches its first snapshot from the control plane, so it starts now.
    # Listening on every interface (a comparison, not a bind): reach it on loopback.
    host = "127.0.0.1" if options.host in ("0.0.0.0", "::") else options.host  # noqa: S104
    try:
        server.gateway = await start_embedded_gateway(
            settings,
            token,
            control_plane_url=f"http://{host}:{options.port}",
            host=options.host,
            port=options.gateway_port,
        )
    except GatewayUnavailable as exc:
        # The control plane and the portal still work; say so loudly.
        print(f"stoa up: {exc}", flush=True)
    print(text, flush=True)
