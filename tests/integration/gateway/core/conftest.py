"""Upstreams and gateway processes for the gateway-core integration tests."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from stoa.contract.snapshot import encode_snapshot
from stoa.demo.weather import create_weather_app
from support.servers import ServerThread, free_port

sys.path.insert(0, str(Path(__file__).parent))

from gateway_world import GatewayProcess, SnapshotSpec, create_echo_app
from synced_gateways import Gateways

from support.world import World


class Upstreams:
    def __init__(self, weather: ServerThread, echo: ServerThread) -> None:
        self.weather = weather
        self.echo = echo

    def spec(self) -> SnapshotSpec:
        return SnapshotSpec(self.weather.url, self.echo.url)


@pytest.fixture(scope="session")
def upstreams() -> Iterator[Upstreams]:
    weather = ServerThread(create_weather_app(), ready_path="/openapi.yaml").start()
    echo = ServerThread(create_echo_app()).start()
    try:
        yield Upstreams(weather, echo)
    finally:
        weather.stop()
        echo.stop()


class Issuer:
    """A minimal OIDC issuer: discovery and JWKS over HTTP, tokens minted in-process."""

    def __init__(self) -> None:
        self.key = ECKey.generate_key(
            "P-256", parameters={"kid": "k1", "alg": "ES256", "use": "sig"}
        )
        self.server = ServerThread(self._app(), ready_path="/.well-known/openid-configuration")
        self.url = self.server.url

    def _app(self) -> Starlette:
        async def discovery(request: Request) -> Response:
            return JSONResponse({"issuer": self.url, "jwks_uri": f"{self.url}/jwks"})

        async def jwks(request: Request) -> Response:
            return JSONResponse({"keys": [self.key.as_dict(private=False)]})

        return Starlette(
            routes=[
                Route("/.well-known/openid-configuration", discovery),
                Route("/jwks", jwks),
            ]
        )

    def token(self, audience: str, scope: str = "stoa:read stoa:write", **claims: Any) -> str:
        now = int(time.time())
        body = {
            "iss": self.url,
            "sub": "usr_dev",
            "aud": audience,
            "iat": now,
            "exp": now + 300,
            "scope": scope,
            **claims,
        }
        return jwt.encode({"alg": "ES256", "kid": "k1"}, body, self.key)


@pytest.fixture(scope="session")
def issuer() -> Iterator[Issuer]:
    built = Issuer()
    built.server.start()
    try:
        yield built
    finally:
        built.server.stop()


StartGateway = Callable[..., GatewayProcess]


@pytest.fixture
def start_gateway(tmp_path: Path, issuer: Issuer) -> Iterator[StartGateway]:
    """Starts `stoa gateway` on a snapshot built from a spec; stops it after the test."""
    started: list[GatewayProcess] = []

    def start(
        spec: SnapshotSpec, *, workers: int = 1, env: dict[str, str] | None = None
    ) -> GatewayProcess:
        snapshot_file = tmp_path / f"snapshot-{len(started)}.json"
        snapshot_file.write_bytes(encode_snapshot(spec.build()))
        gateway = GatewayProcess(
            snapshot_file,
            free_port(),
            workers=workers,
            env={"STOA_OIDC_ISSUER": issuer.url, **(env or {})},
        )
        started.append(gateway)
        return gateway.wait_ready()

    yield start
    for gateway in started:
        gateway.stop()


@pytest.fixture
def gateways(world: World, tmp_path: Path) -> Iterator[Gateways]:
    """Synced `stoa gateway` processes against the in-test control plane."""
    built = Gateways(world, tmp_path)
    yield built
    built.stop_all()
