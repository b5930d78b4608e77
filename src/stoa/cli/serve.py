"""Commands that run components: `stoa control-plane`, `stoa migrate`, `stoa up`."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Annotated

import anyio
import typer
import uvicorn

from stoa.kit.secret_file import private_dir
from stoa.kit.settings import Settings

Host = Annotated[str, typer.Option(help="Interface to listen on")]
Port = Annotated[int, typer.Option(help="Port to listen on")]


def control_plane(host: Host = "127.0.0.1", port: Port = 8000, workers: int = 1) -> None:
    """Run the control plane API (and the identity endpoints mounted in it)."""
    settings = Settings()
    from stoa.controlplane.app import create_app

    if workers > 1:
        uvicorn.run(
            "stoa.controlplane.asgi:app",
            host=host,
            port=port,
            workers=workers,
            proxy_headers=True,
            access_log=False,
        )
    else:
        uvicorn.run(
            create_app(settings), host=host, port=port, proxy_headers=True, access_log=False
        )


def identity(host: Host = "127.0.0.1", port: Port = 8000) -> None:
    """Run the OAuth 2.1 / OpenID Connect authorization server alone (issuer STOA_PUBLIC_URL)."""
    settings = Settings()
    from stoa.identity.app import create_identity_app

    uvicorn.run(
        create_identity_app(settings), host=host, port=port, proxy_headers=True, access_log=False
    )


def migrate() -> None:
    """Bring the database schema to the newest version."""
    from stoa.controlplane.migrate import upgrade_to_head

    settings = Settings()
    private_dir(settings.data_dir)
    asyncio.run(upgrade_to_head(settings.resolved_database_url))
    typer.echo("database is at the newest schema")


def up(
    host: Host = "127.0.0.1",
    port: Port = 8000,
    weather_port: Annotated[int, typer.Option(help="Port of the demo weather API")] = 8091,
    toolbox_port: Annotated[int, typer.Option(help="Port of the demo toolbox MCP server")] = 8092,
    gateway_port: Annotated[int, typer.Option(help="Port of the gateway")] = 8080,
) -> None:
    """Migrate, seed the demo tenant, and run the demo upstreams and the control plane."""
    from stoa.cli.up import UpOptions, run_up

    settings = Settings()
    if settings.fetch.allow_private_networks is None:
        # The demo APIs listen on loopback; `stoa up` is the demo, so it may reach them
        # whatever the database. STOA_FETCH__ALLOW_PRIVATE_NETWORKS=false still wins.
        fetch = settings.fetch.model_copy(update={"allow_private_networks": True})
        settings = settings.model_copy(update={"fetch": fetch})
    if "gateway_public_url" not in settings.model_fields_set:
        settings = settings.model_copy(
            update={"gateway_public_url": f"http://{host}:{gateway_port}"}
        )
    options = UpOptions(host, port, weather_port, toolbox_port, gateway_port)
    with contextlib.suppress(KeyboardInterrupt):
        anyio.run(run_up, settings, options)


def register(app: typer.Typer) -> None:
    app.command("up")(up)
    app.command("control-plane")(control_plane)
    app.command("identity")(identity)
    app.command("migrate")(migrate)
