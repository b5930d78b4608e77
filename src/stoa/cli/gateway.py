"""`stoa gateway`: run the data plane."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Annotated

import typer

from stoa.kit.settings import Settings


def gateway(
    host: Annotated[str, typer.Option(help="Interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 8080,
    workers: Annotated[
        int | None,
        typer.Option(
            help="Worker processes sharing the port; default STOA_GATEWAY__WORKERS or CPUs"
        ),
    ] = None,
    snapshot: Annotated[
        Path | None,
        typer.Option(
            help="Serve this snapshot file instead of fetching "
            "$STOA_CONTROL_PLANE_URL/v1/snapshot with $STOA_GATEWAY_TOKEN"
        ),
    ] = None,
) -> None:
    """Run the gateway: /mcp, /proxy, metrics. SIGHUP reloads the snapshot."""
    settings = Settings()
    count = workers or settings.gateway.workers or os.cpu_count() or 1
    multiprocess_dir: str | None = None
    if count > 1 or snapshot is None:
        # Metrics from every worker, and from the supervisor's config sync (a synced
        # gateway forks even one worker): prometheus-client reads this when it is first
        # imported, which is why the gateway modules are imported only below.
        multiprocess_dir = tempfile.mkdtemp(prefix="stoa-gateway-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = multiprocess_dir
    logging.basicConfig(
        level=settings.log_level.upper(),
        format='{"level":"%(levelname)s","logger":"%(name)s","message":"%(message)s"}',
    )
    from stoa.gateway.snapshot.load import SnapshotSource
    from stoa.gateway.supervisor import serve

    token = settings.gateway_token.get_secret_value() if settings.gateway_token else None
    source = SnapshotSource(
        file=snapshot,
        control_plane_url=None if snapshot else settings.control_plane_url,
        token=token,
    )
    try:
        status = serve(
            settings,
            source,
            host=host,
            port=port,
            workers=count,
            multiprocess_dir=multiprocess_dir,
            announce=lambda text: typer.echo(text, err=True),
        )
    finally:
        if multiprocess_dir is not None:
            shutil.rmtree(multiprocess_dir, ignore_errors=True)
    raise typer.Exit(status)


def register(app: typer.Typer) -> None:
    app.command("gateway")(gateway)
