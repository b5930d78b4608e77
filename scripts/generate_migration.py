"""Autogenerate an Alembic revision from the models against a scratch database at head.

Usage: python scripts/generate_migration.py "message"
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import tempfile
from pathlib import Path

from alembic import command

from stoa.controlplane.db import create_engine
from stoa.controlplane.migrate import MIGRATIONS_DIR, alembic_config, upgrade_to_head


async def main(message: str) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        url = f"sqlite+aiosqlite:///{Path(scratch) / 'scratch.db'}"
        await upgrade_to_head(url)
        config = alembic_config(url)
        engine = create_engine(url)

        def run(connection: object) -> None:
            config.attributes["connection"] = connection
            # Sequential ids (0001, 0002, ...) read better in a listing than random hashes.
            existing = list((MIGRATIONS_DIR / "versions").glob("[0-9][0-9][0-9][0-9]_*.py"))
            command.revision(
                config, message=message, autogenerate=True, rev_id=f"{len(existing) + 1:04d}"
            )

        async with engine.begin() as connection:
            await connection.run_sync(run)
        await engine.dispose()


def tidy(path: Path) -> None:
    """Fix what autogenerate renders wrongly (JSONB's `Text` unqualified) and drop its
    boilerplate comments."""
    lines = [
        line.replace("astext_type=Text()", "astext_type=sa.Text()").rstrip()
        for line in path.read_text().splitlines()
        if "### " not in line
    ]
    path.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "schema change"))
    versions = MIGRATIONS_DIR / "versions"
    for path in versions.glob("*.py"):
        tidy(path)
    ruff = [sys.executable, "-m", "ruff"]
    subprocess.run([*ruff, "check", "--fix", "--quiet", str(versions)], check=True)  # noqa: S603
    subprocess.run([*ruff, "format", "--quiet", str(versions)], check=True)  # noqa: S603
