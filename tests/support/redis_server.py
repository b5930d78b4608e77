"""A private `redis-server` that a test may stop and start again (never the shared one
other tests use)."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError


def redis_server(port: int, directory: Path) -> subprocess.Popen[bytes]:
    """An empty Redis on 127.0.0.1:`port`, answering PING when this returns."""
    server = subprocess.Popen(
        [
            *("redis-server", "--port", str(port), "--bind", "127.0.0.1"),
            *("--save", "", "--appendonly", "no", "--dir", str(directory)),
        ],
        stdout=subprocess.DEVNULL,
    )
    client = Redis(port=port)
    deadline = time.monotonic() + 10
    try:
        while True:
            try:
                client.ping()
                return server
            except RedisConnectionError:
                if time.monotonic() > deadline:
                    server.kill()
                    raise
                time.sleep(0.05)
    finally:
        client.close()


def stop(server: subprocess.Popen[bytes]) -> None:
    server.terminate()
    server.wait(timeout=10)
