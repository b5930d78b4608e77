"""What the control plane counted, and what still waits in a gateway's usage spool."""

from __future__ import annotations

import struct
from pathlib import Path

from stoa.contract.usage import decode_usage_batch
from support.world import Caller


def counted(admin: Caller, **params: str) -> dict[str, int]:
    """Calls the control plane counted today and yesterday, by API id."""
    response = admin.get("/v1/usage", params={"granularity": "day", **params})
    assert response.status_code == 200, response.text
    by_api: dict[str, int] = {}
    for row in response.json()["items"]:
        by_api[row["api_id"]] = by_api.get(row["api_id"], 0) + row["count"]
    return by_api


def spooled_events(data_dir: Path) -> int:
    """Events in the spool files under `data_dir`, read without taking the spool's lock."""
    total = 0
    for segment in sorted((data_dir / "usage-spool").glob("worker-*/*.seg")):
        try:
            data = segment.read_bytes()
        except FileNotFoundError:
            continue  # delivered and removed since the listing
        offset = 0
        while offset + 8 <= len(data):
            length, _ = struct.unpack(">II", data[offset : offset + 8])
            payload = data[offset + 8 : offset + 8 + length]
            if len(payload) < length:
                break
            total += len(decode_usage_batch(payload).events)
            offset += 8 + length
    return total
