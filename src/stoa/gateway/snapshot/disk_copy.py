"""The gateway's copy of its last good snapshot, in `$STOA_DATA_DIR/synced-snapshot`.

Written after every successful swap, read at start when the control plane cannot be
reached, so a gateway restarts and serves through a control-plane outage.

Format: one JSON header line `{"sha256": ..., "hash": ..., "saved_at": ...}`, then the
snapshot exactly as the control plane sent it. `sha256` covers those bytes, so a torn or
altered file is detected and never served; `hash` is the snapshot's content hash. The
file is written to a temporary name, fsynced and renamed over the old one (then the
directory is fsynced), so a crash leaves either the old copy or the new one. It holds
upstream credentials: mode 0600.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from stoa.contract.snapshot import Snapshot, SnapshotError, content_hash, decode_snapshot

COPY_FILE = "synced-snapshot"


class CopyUnusable(Exception):
    """There is no disk copy, or it is damaged; the message says which."""


@dataclass(frozen=True, slots=True)
class DiskCopy:
    snapshot: Snapshot
    hash: str
    saved_at: float


def copy_path(data_dir: Path) -> Path:
    return data_dir / COPY_FILE


def write_copy(path: Path, body: bytes, snapshot_hash: str) -> None:
    """Replace the copy at `path` with `body` atomically (temp file, fsync, rename)."""
    header = {
        "sha256": hashlib.sha256(body).hexdigest(),
        "hash": snapshot_hash,
        "saved_at": time.time(),
    }
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(json.dumps(header).encode() + b"\n")
            handle.write(body)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def copy_hash(path: Path) -> str | None:
    """The snapshot hash the copy's header records, read without the body; None when
    there is no readable header. Not verified: `read_copy` does that."""
    try:
        with path.open("rb") as handle:
            header = json.loads(handle.readline())
        return str(header["hash"])
    except (OSError, ValueError, TypeError, KeyError):
        return None


def read_copy(path: Path) -> DiskCopy:
    """The verified copy at `path`, or `CopyUnusable` saying why it cannot be served."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise CopyUnusable(f"no snapshot copy at {path}") from None
    except OSError as exc:
        raise CopyUnusable(f"cannot read {path}: {exc.strerror}") from exc
    header_line, newline, body = raw.partition(b"\n")
    try:
        header = json.loads(header_line) if newline else {}
        expected, recorded_hash = str(header["sha256"]), str(header["hash"])
        saved_at = float(header["saved_at"])
    except (ValueError, TypeError, KeyError):
        raise CopyUnusable(f"{path} is not a snapshot copy (bad header)") from None
    if hashlib.sha256(body).hexdigest() != expected:
        raise CopyUnusable(f"{path} is corrupted: its checksum does not match its content")
    try:
        snapshot = decode_snapshot(body)
    except SnapshotError as exc:
        raise CopyUnusable(f"{path}: {exc}") from exc
    if content_hash(snapshot) != recorded_hash:
        raise CopyUnusable(f"{path} is corrupted: the snapshot does not match its hash")
    return DiskCopy(snapshot=snapshot, hash=recorded_hash, saved_at=saved_at)
