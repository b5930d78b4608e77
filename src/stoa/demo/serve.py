"""Run the two demo upstreams, weather (REST) and toolbox (MCP), inside the caller's loop.

`stoa up` starts them next to the control plane and gateway so the demo tenant has
something to proxy without network access.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator
from dataclasses import dataclass

import anyio
import uvicorn
from anyio.abc import TaskStatus
from starlette.types import ASGIApp

from stoa.demo.toolbox import TOOLBOX_MCP_PATH, create_toolbox_app
from stoa.demo.weather import WEATHER_OPENAPI_PATH, create_weather_app

__all__ = ["WEATHER_OPENAPI_PATH", "DemoUrls", "demo_urls", "serve_demo_upstreams"]

# Bounds shutdown when a client keeps a response stream open, so cancelling
# serve_demo_upstreams cannot hang on it.
_GRACEFUL_SHUTDOWN_SECONDS = 3


@dataclass(frozen=True)
class DemoUrls:
    """Where the demo upstreams answer; none of the URLs ends with a slash."""

    weather_base_url: str
    """Base URL of the weather REST API, e.g. `http://127.0.0.1:8091`."""
    weather_openapi_url: str
    """The weather OpenAPI document, e.g. `http://127.0.0.1:8091/openapi.yaml`."""
    toolbox_mcp_url: str
    """The toolbox Streamable HTTP endpoint, e.g. `http://127.0.0.1:8092/mcp`."""


def demo_urls(
    host: str = "127.0.0.1", weather_port: int = 8091, toolbox_port: int = 8092
) -> DemoUrls:
    """Return the URLs of demo upstreams served on `host` at the given ports.

    An IPv6 literal host is bracketed (`::1` becomes `[::1]`).
    """
    authority_host = f"[{host}]" if ":" in host else host
    weather = f"http://{authority_host}:{weather_port}"
    return DemoUrls(
        weather_base_url=weather,
        weather_openapi_url=f"{weather}/openapi.yaml",
        toolbox_mcp_url=f"http://{authority_host}:{toolbox_port}{TOOLBOX_MCP_PATH}",
    )


class _EmbeddedServer(uvicorn.Server):
    """A uvicorn server that reports readiness and leaves signals to the loop's owner.

    uvicorn installs SIGINT/SIGTERM handlers while serving and re-raises the signal
    afterwards; two of them plus the host application would fight over the handlers.
    Here the owner stops the servers by cancelling `serve_demo_upstreams`. uvicorn only
    offers a `started` flag, so `accepting` is the event to wait on instead of polling.
    Create it inside the event loop (anyio events need one).
    """

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.accepting = anyio.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        self.accepting.set()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _listening_socket(host: str, port: int) -> socket.socket:
    """Bind and listen on `host`:`port` (0 picks a free port); raises OSError if taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    return socket.create_server((host, port), family=family)


def _embedded_server(app: ASGIApp) -> _EmbeddedServer:
    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=_GRACEFUL_SHUTDOWN_SECONDS,
    )
    return _EmbeddedServer(config)


async def _serve_until_told(server: _EmbeddedServer, listener: socket.socket) -> None:
    """Serve until `server.should_exit` is set, then finish uvicorn's graceful shutdown.

    Shielded so a cancelled caller still gets closed sockets and a completed app lifespan
    (the toolbox's session manager) instead of tasks torn down mid-flight.
    """
    with anyio.CancelScope(shield=True):
        try:
            await server.serve(sockets=[listener])
        except SystemExit as exc:
            # uvicorn exits the process when the app's lifespan startup fails.
            raise RuntimeError("a demo upstream failed to start; see the log above") from exc


async def serve_demo_upstreams(
    host: str = "127.0.0.1",
    weather_port: int = 8091,
    toolbox_port: int = 8092,
    *,
    task_status: TaskStatus[DemoUrls] = anyio.TASK_STATUS_IGNORED,
) -> None:
    """Serve weather and toolbox on `host` until cancelled, then shut both down cleanly.

    Runs in the current (asyncio) event loop: `await` it inside a task, or use
    `await task_group.start(serve_demo_upstreams, ...)`, which returns the `DemoUrls`
    once both servers accept requests. A port of 0 picks a free one; the `DemoUrls`
    reported that way carry the real ports. Both ports are bound before anything is
    served, so a port in use fails fast with `OSError` and leaves nothing running.

    The servers install no signal handlers and are configured with log level warning and
    no access log. uvicorn applies both to the process-wide `uvicorn.*` loggers, so other
    uvicorn servers in the same process are affected too (the project runs all of them
    without access log anyway).

    Raises:
        OSError: a port cannot be bound.
        ExceptionGroup: wrapping a RuntimeError, when an app's startup failed (anyio task
            groups report their children's errors that way).
    """
    with contextlib.ExitStack() as sockets:
        weather_listener = sockets.enter_context(_listening_socket(host, weather_port))
        toolbox_listener = sockets.enter_context(_listening_socket(host, toolbox_port))
        urls = demo_urls(host, weather_listener.getsockname()[1], toolbox_listener.getsockname()[1])
        servers = [
            (_embedded_server(create_weather_app()), weather_listener),
            (_embedded_server(create_toolbox_app()), toolbox_listener),
        ]
        async with anyio.create_task_group() as task_group:
            for server, listener in servers:
                task_group.start_soon(_serve_until_told, server, listener)
            try:
                for server, _ in servers:
                    await server.accepting.wait()
                task_status.started(urls)
                await anyio.sleep_forever()
            finally:
                for server, _ in servers:
                    server.should_exit = True
