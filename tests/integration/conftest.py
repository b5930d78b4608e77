"""A running control plane per database backend (SQLite and PostgreSQL), shared by the
session, with every table emptied before each test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from stoa.controlplane.app import create_app
from stoa.kit.settings import Settings
from support.databases import Backend, create_database, drop_database, truncate_all
from support.servers import ServerThread, free_port
from support.world import World


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def backend(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Backend]:
    kind: str = request.param
    scratch: Path = tmp_path_factory.mktemp(f"cp-{kind}")
    database_url = create_database(kind, scratch)
    port = free_port()
    settings = Settings(
        data_dir=scratch / "data",
        database_url=database_url,
        public_url=f"http://127.0.0.1:{port}",
        fetch={"allow_private_networks": True},
        # Every test registers OAuth clients from 127.0.0.1 against this one server.
        identity={"registrations_per_ip_per_hour": 100_000},
    )
    server = ServerThread(create_app(settings), port=port).start()
    try:
        yield Backend(kind, settings, server.url)
    finally:
        server.stop()
        drop_database(kind, database_url)


@pytest.fixture
def world(backend: Backend) -> Iterator[World]:
    truncate_all(backend.settings.resolved_database_url)
    built = World(backend.settings, backend.url)
    try:
        yield built
    finally:
        built.close()
