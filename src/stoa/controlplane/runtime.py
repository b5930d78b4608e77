"""What the control plane builds once at start and hands to requests."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from stoa.controlplane.snapshot.watch import SnapshotWatch
from stoa.kit.crypto import SecretBox
from stoa.kit.housekeeping import Housekeeper
from stoa.kit.settings import Settings
from stoa.kit.ssrf import FetchPolicy
from stoa.kit.token_verify import TokenVerifier


@dataclass(frozen=True, slots=True)
class Runtime:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    verifier: TokenVerifier
    secret_box: SecretBox
    key_hash_secret: bytes
    fetch_policy: FetchPolicy
    # The published snapshot, shared by every request of this process (config sync).
    snapshot_watch: SnapshotWatch
    # Deletes usage past its retention, after usage intake (`usage.retention`).
    usage_housekeeper: Housekeeper
