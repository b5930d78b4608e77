"""Where a gateway gets its snapshot: a file, or the control plane's `/v1/snapshot`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import httpx

from stoa.contract.snapshot import Snapshot, SnapshotError, decode_snapshot


class SnapshotUnavailable(Exception):
    """No snapshot could be read; the message says from where and why."""


@dataclass(frozen=True, slots=True)
class SnapshotSource:
    """A file path, or the control plane URL and the gateway token."""

    file: Path | None = None
    control_plane_url: str | None = None
    token: str | None = None

    def describe(self) -> str:
        if self.file is not None:
            return str(self.file)
        return f"{self.control_plane_url}/v1/snapshot"


def read_snapshot_bytes(source: SnapshotSource, *, timeout: float = 10.0) -> bytes:
    """The raw snapshot, or `SnapshotUnavailable`. Blocking: called at start and on SIGHUP,
    never while serving a request."""
    if source.file is not None:
        try:
            return source.file.read_bytes()
        except OSError as exc:
            raise SnapshotUnavailable(f"cannot read {source.file}: {exc.strerror}") from exc
    if not source.control_plane_url:
        raise SnapshotUnavailable("no snapshot file and no control plane URL")
    url = source.control_plane_url.rstrip("/") + "/v1/snapshot"
    headers = {"authorization": f"Bearer {source.token}"} if source.token else {}
    try:
        response = httpx.get(url, headers=headers, timeout=timeout)
    except httpx.HTTPError as exc:
        raise SnapshotUnavailable(f"cannot reach {url}: {exc}") from exc
    if response.status_code != 200:
        raise SnapshotUnavailable(
            f"{url} answered {response.status_code}"
            + (
                " (is STOA_GATEWAY_TOKEN set and valid?)"
                if response.status_code in (401, 403)
                else ""
            )
        )
    return response.content


def load_snapshot(source: SnapshotSource) -> Snapshot:
    """Read and decode; `SnapshotUnavailable` or `SnapshotError`."""
    data = read_snapshot_bytes(source)
    try:
        return decode_snapshot(data)
    except SnapshotError as exc:
        raise SnapshotError(f"{source.describe()}: {exc}") from exc
