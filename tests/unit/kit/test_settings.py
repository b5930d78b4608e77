from __future__ import annotations

from pathlib import Path

import pytest

from stoa.kit.settings import Settings


def test_environment_variables_use_the_public_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STOA_DATA_DIR", "/srv/stoa")
    monkeypatch.setenv("STOA_DATABASE_URL", "postgresql://u@db/stoa")
    monkeypatch.setenv("STOA_AUTH__ROLES_CLAIM", "realm_access.roles")
    settings = Settings()
    assert settings.data_dir == Path("/srv/stoa")
    assert settings.resolved_database_url == "postgresql+asyncpg://u@db/stoa"
    assert settings.auth.roles_claim == "realm_access.roles"


def test_embedded_default_is_sqlite_in_the_data_dir_and_allows_loopback_fetches(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("STOA_DATABASE_URL", raising=False)
    settings = Settings(data_dir=tmp_path)
    assert settings.resolved_database_url == f"sqlite+aiosqlite:///{tmp_path / 'stoa.db'}"
    assert settings.allow_private_networks is True


def test_production_database_refuses_private_fetches_unless_allowed() -> None:
    production = Settings(database_url="postgresql://db/stoa")
    assert production.allow_private_networks is False
    allowed = Settings(database_url="postgresql://db/stoa", fetch={"allow_private_networks": True})
    assert allowed.allow_private_networks is True
