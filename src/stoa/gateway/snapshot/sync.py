"""Keeping a gateway current with the control plane (the protocol: `stoa.contract.sync`).

`ConfigSync` runs in the supervisor process, in a thread of its own: it fetches the full
snapshot, then long-polls for the next hash and fetches again when it moves. A new
snapshot is decoded and compiled here first; one that fails is refused (reported to the
control plane, and the previous one keeps serving), one that compiles is written to the
disk copy and handed to `on_swap`, which tells the workers to load it.

While the control plane is unreachable the loop retries with exponential backoff and
full jitter, so a fleet coming back does not knock on the same second.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from stoa.contract import sync
from stoa.contract.snapshot import Snapshot, SnapshotError, decode_snapshot
from stoa.gateway.snapshot.compiled import compile_snapshot
from stoa.gateway.snapshot.disk_copy import CopyUnusable, read_copy, write_copy
from stoa.gateway.snapshot.sync_metrics import (
    CONNECTED,
    LAST_SUCCESS,
    REFUSED_SNAPSHOTS,
    SWAPS,
    SYNC_FAILURES,
)

_log = logging.getLogger("stoa.gateway.sync")

BACKOFF_START_SECONDS = 0.5


class ControlPlaneUnreachable(Exception):
    """No usable answer (network error, timeout, 5xx); worth retrying."""


class TokenRefused(Exception):
    """The control plane refused the gateway token (401/403): unknown or revoked."""


def _unreachable(message: str) -> ControlPlaneUnreachable:
    """The error to raise for an exchange that failed in a way worth retrying, counted."""
    SYNC_FAILURES.labels("unreachable").inc()
    CONNECTED.set(0)
    return ControlPlaneUnreachable(message)


@dataclass(frozen=True, slots=True)
class GatewayIdentity:
    """What the gateway tells the control plane about itself on every request."""

    instance_id: str
    name: str
    version: str
    address: str


def backoff_seconds(attempt: int, cap: float, rng: Callable[[], float] = random.random) -> float:
    """Full jitter: uniform in [0, min(cap, start * 2**attempt)]."""
    ceiling: float = min(cap, BACKOFF_START_SECONDS * 2.0 ** min(attempt, 30))
    return rng() * ceiling


class ConfigSync:
    """The sync state of one gateway: the hash it serves, the newest hash it has heard
    of, and the newest it refused. Thread-safe: the loop and SIGHUP's refresh share it."""

    def __init__(
        self,
        *,
        control_plane_url: str,
        token: str | None,
        identity: GatewayIdentity,
        copy_file: Path,
        wait_seconds: float,
        backoff_max_seconds: float,
        on_swap: Callable[[Snapshot, str], None] = lambda snapshot, digest: None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._base = control_plane_url.rstrip("/")
        self._token = token
        self._identity = identity
        self.copy_file = copy_file
        self._wait = wait_seconds
        self._backoff_max = backoff_max_seconds
        self.on_swap = on_swap
        self._client = httpx.Client(
            transport=transport, timeout=httpx.Timeout(10.0, read=wait_seconds + 10.0)
        )
        self._lock = threading.Lock()
        self.served_hash: str | None = None
        self.seen_hash: str | None = None
        self.refused_hash: str | None = None
        self.not_ready_reason: str | None = None

    # --- talking to the control plane ------------------------------------------------------

    def _headers(self) -> dict[str, str]:
        headers = {
            sync.INSTANCE_HEADER: self._identity.instance_id,
            sync.NAME_HEADER: self._identity.name,
            sync.VERSION_HEADER: self._identity.version,
            sync.ADDRESS_HEADER: self._identity.address,
        }
        if self._token:
            headers["authorization"] = f"Bearer {self._token}"
        if self.served_hash:
            headers[sync.SERVED_HEADER] = self.served_hash
        return headers

    def _get(
        self,
        path: str,
        params: dict[str, str] | None = None,
        extra_headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        url = self._base + path
        headers = self._headers()
        if extra_headers:
            headers.update(extra_headers)
        try:
            response = self._client.get(url, params=params, headers=headers)
        except httpx.HTTPError as exc:
            raise _unreachable(f"cannot reach {url}: {exc}") from exc
        if response.status_code in (401, 403):
            SYNC_FAILURES.labels("token_refused").inc()
            CONNECTED.set(0)
            raise TokenRefused(
                f"{url} answered {response.status_code} (is STOA_GATEWAY_TOKEN set and valid?)"
            )
        if response.status_code != 200:
            raise _unreachable(f"{url} answered {response.status_code}")
        CONNECTED.set(1)
        LAST_SUCCESS.set(time.time())
        return response

    def fetch(self, wanted: str | None = None) -> tuple[bytes, str]:
        """The full snapshot and its hash. `wanted` is the hash the long poll announced:
        the control plane may then serve what it built for that announcement; without it
        the snapshot is built afresh."""
        response = self._get(
            "/v1/snapshot", extra_headers={sync.WANTED_HEADER: wanted} if wanted else None
        )
        digest = response.headers.get(sync.HASH_HEADER, "")
        if len(digest) != 64:
            raise _unreachable(f"{self._base}/v1/snapshot answered without {sync.HASH_HEADER}")
        return response.content, digest

    def poll(self) -> str:
        """The next hash: at once if it differs from `seen_hash`, else after the wait."""
        params = {"wait": str(self._wait)}
        if self.seen_hash:
            params["after"] = self.seen_hash
        response = self._get("/v1/snapshot/hash", params)
        try:
            digest = response.json()["hash"]
        except (ValueError, KeyError, TypeError) as exc:
            raise _unreachable("the control plane's hash answer is unreadable") from exc
        if not isinstance(digest, str):
            raise _unreachable("the control plane's hash answer is unreadable")
        return digest

    def _report_refusal(self, digest: str, reason: str) -> None:
        url = f"{self._base}/v1/snapshot/refusals"
        try:
            self._client.post(
                url, json={"hash": digest, "reason": reason[:2000]}, headers=self._headers()
            )
        except httpx.HTTPError as exc:
            _log.warning("could not report the refused snapshot to %s: %s", url, exc)

    # --- installing ------------------------------------------------------------------------

    def _accept(self, body: bytes, digest: str) -> Snapshot | None:
        """Decode and compile; on success write the disk copy and return the snapshot, on
        failure report the refusal and return None (the current one keeps serving)."""
        try:
            snapshot = decode_snapshot(body)
            # Only a check (the workers compile their own): the hash is not needed.
            compile_snapshot(snapshot, digest)
        except SnapshotError as exc:
            self.refused_hash = digest
            REFUSED_SNAPSHOTS.inc()
            _log.error("refused snapshot %s, still serving %s: %s", digest, self.served_hash, exc)
            self._report_refusal(digest, str(exc))
            return None
        try:
            write_copy(self.copy_file, body, digest)
        except OSError as exc:
            # Serving the new config matters more than the copy: log, and go on.
            _log.error("could not write the snapshot copy %s: %s", self.copy_file, exc)
        self.served_hash = digest
        self.not_ready_reason = None
        SWAPS.inc()
        return snapshot

    def refresh(self, wanted: str | None = None) -> bool:
        """Fetch the full snapshot (see `fetch` for `wanted`) and swap it in if it is new;
        True if swapped. `ControlPlaneUnreachable` or `TokenRefused` when the fetch fails."""
        with self._lock:
            body, digest = self.fetch(wanted)
            self.seen_hash = digest
            if digest == self.served_hash:
                return False
            snapshot = self._accept(body, digest)
            if snapshot is None:
                return False
            self.on_swap(snapshot, digest)
            _log.info("serving snapshot %s", digest)
            return True

    def initial(self) -> Snapshot | None:
        """What to serve at start: the control plane's snapshot, else the disk copy, else
        nothing (`not_ready_reason` says why). `TokenRefused` stops the start: a gateway
        whose token was revoked must not come back serving."""
        try:
            body, digest = self.fetch()
        except ControlPlaneUnreachable as exc:
            return self._from_copy(str(exc))
        self.seen_hash = digest
        snapshot = self._accept(body, digest)
        if snapshot is None:
            return self._from_copy(f"the control plane's snapshot {digest} does not compile")
        return snapshot

    def _from_copy(self, why_not_live: str) -> Snapshot | None:
        try:
            copy = read_copy(self.copy_file)
        except CopyUnusable as exc:
            self.not_ready_reason = f"{why_not_live}; {exc}"
            _log.error("not ready, no snapshot to serve: %s", self.not_ready_reason)
            return None
        self.served_hash = copy.hash
        _log.warning(
            "serving the disk copy %s (snapshot %s) because %s",
            self.copy_file,
            copy.hash,
            why_not_live,
        )
        return copy.snapshot

    # --- the loop --------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        """Poll until `stop` is set: fetch when the hash moves, back off when the control
        plane is away or refuses the token."""
        failures = 0
        while not stop.is_set():
            try:
                wanted = self.seen_hash
                if wanted is None or wanted not in (self.served_hash, self.refused_hash):
                    self.refresh(wanted)
                self.seen_hash = self.poll()
                if failures:
                    _log.info("control plane reachable again")
                failures = 0
            except (ControlPlaneUnreachable, TokenRefused) as exc:
                if failures == 0:
                    _log.warning("config sync failed, still serving %s: %s", self.served_hash, exc)
                failures += 1
                stop.wait(backoff_seconds(failures, self._backoff_max))
            except Exception:
                _log.exception("config sync failed unexpectedly")
                SYNC_FAILURES.labels("error").inc()
                CONNECTED.set(0)
                failures += 1
                stop.wait(backoff_seconds(failures, self._backoff_max))

    def close(self) -> None:
        self._client.close()
