"""Another control plane on a port of the test's choosing, on the `world`'s database:
one a test may stop and start again while the session's control plane stays up."""

from __future__ import annotations

from stoa.controlplane.app import create_app
from support.databases import Backend
from support.servers import ServerThread


def control_plane_on(backend: Backend, port: int) -> ServerThread:
    """A control plane (uvicorn in a thread) on `port`, on `backend`'s database."""
    return ServerThread(create_app(backend.settings), port=port).start()
