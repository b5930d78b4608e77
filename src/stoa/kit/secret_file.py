"""Secrets generated on first use and kept in the data dir, readable by the owner only."""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def private_dir(path: Path) -> Path:
    """Create the directory `path` (and parents) readable by the owner only.

    The data dir holds the platform's keys and, on the embedded default, the database;
    a directory that already exists keeps its mode, since an operator may have chosen it.
    """
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def read_or_create(path: Path, size: int = 32) -> bytes:
    """Read the random secret at `path`, creating it (mode 0600) if absent.

    Creation is race-safe: `O_EXCL` makes exactly one process write the file; the others
    read what it wrote.
    """
    try:
        data = path.read_bytes()
        if len(data) == size:
            return data
        raise ValueError(f"{path} holds {len(data)} bytes, not {size}; restore it or remove it")
    except FileNotFoundError:
        pass
    private_dir(path.parent)
    value = secrets.token_bytes(size)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return read_or_create(path, size)
    with os.fdopen(fd, "wb") as handle:
        handle.write(value)
    return value
