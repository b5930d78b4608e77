"""`stoa up`: the whole platform in one process on the embedded defaults.

Order matters: migrate, start the demo upstreams (the toolbox must answer before its
tools can be discovered), seed the demo, then serve the control plane until interrupted.
"""

from __future__ import annotations

from dataclasses import dataclass

import anyio
import uvicorn

from stoa.cli.embedded_gateway import start_embedded_gateway
from stoa.controlplane.app import create_app
from stoa.controlplane.demo_seed import DemoLogins, seed_demo
from stoa.controlplane.migrate import upgrade_to_head
from stoa.demo.serve import DemoUrls, serve_demo_upstreams
from stoa.gateway.worker import Worker
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
        # Reloading the gateway after config changes comes with continuous sync; until
        # then it serves the config as it was at start.
        try:
            gateway: Worker | None = await start_embedded_gateway(
                settings, options.host, options.gateway_port
            )
        except OSError as exc:
            # Port taken: the control plane and portal still work; say so loudly.
            gateway = None
            print(f"stoa up: the gateway cannot listen on port {options.gateway_port}: {exc}")
        config = uvicorn.Config(
            create_app(settings),
            host=options.host,
            port=options.port,
            access_log=False,
            log_level=settings.log_level.lower(),
        )
        server = uvicorn.Server(config)
        group.start_soon(_announce_when_started, server, banner(settings, options, urls, logins))
        try:
            await server.serve()
        finally:
            if gateway is not None:
                await gateway.close()
        # The control plane stopped (Ctrl+C or a failed start): stop the demo upstreams too.
        group.cancel_scope.cancel()


async def _announce_when_started(server: uvicorn.Server, text: str) -> None:
    # uvicorn exposes only a `started` flag, no event to wait on.
    while not server.started:
        if server.should_exit:
            return
        await anyio.sleep(0.05)
    print(text, flush=True)
