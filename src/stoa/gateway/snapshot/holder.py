"""The snapshot being served, swapped atomically on reload."""

from __future__ import annotations

import time

from stoa.contract.snapshot import Snapshot
from stoa.gateway.snapshot.compiled import CompiledSnapshot, compile_snapshot
from stoa.gateway.telemetry import metrics


class SnapshotHolder:
    """Holds the current `CompiledSnapshot`. Readers take `current` once per request and
    use that object throughout, so a swap mid-request never mixes two snapshots."""

    def __init__(self) -> None:
        self.current: CompiledSnapshot | None = None
        self.loaded_at: float | None = None
        # Why there is no snapshot yet, for /readyz (the gateway's start says).
        self.waiting_reason = "no snapshot has been loaded yet"

    def install(self, snapshot: Snapshot, digest: str | None = None) -> CompiledSnapshot:
        """Compile `snapshot` and make it current; on `SnapshotError` the old one stays.
        `digest`: its content hash, if already verified (see `compile_snapshot`)."""
        compiled = compile_snapshot(snapshot, digest)
        previous = self.current
        self.current = compiled
        self.loaded_at = time.time()
        metrics.SNAPSHOT_GENERATED.set(compiled.generated_at)
        metrics.SNAPSHOT_LOADED.set(self.loaded_at)
        if previous is not None:
            metrics.SNAPSHOT_INFO.remove(previous.hash, str(previous.schema_version))
        metrics.SNAPSHOT_INFO.labels(compiled.hash, str(compiled.schema_version)).set(1)
        return compiled
