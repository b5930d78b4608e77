"""Real servers on loopback for tests: uvicorn in a background thread."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import httpx
import uvicorn


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class ServerThread:
    """Runs an ASGI app with uvicorn on 127.0.0.1 in a daemon thread."""

    def __init__(self, app: Any, *, port: int | None = None, ready_path: str = "/healthz") -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._ready_path = ready_path
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            access_log=False,
            lifespan="on",
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    def start(self, timeout: float = 20.0) -> ServerThread:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self._thread.is_alive():
                raise RuntimeError("the server thread exited during start-up")
            try:
                if httpx.get(self.url + self._ready_path, timeout=1.0).status_code < 500:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"server on {self.url} did not become ready")

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
