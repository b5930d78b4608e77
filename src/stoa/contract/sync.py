"""The config-sync protocol between a gateway and the control plane.

1. `GET /v1/snapshot` with `Authorization: Bearer stoa_gw_...`: the whole snapshot, its
   content hash in `HASH_HEADER` (and `ETag`); gzip-compressed when `Accept-Encoding`
   allows it. With `WANTED_HEADER` naming the hash the long poll announced, the control
   plane may serve the snapshot it built for that announcement instead of building anew
   (the answer's `HASH_HEADER` says which one came).
2. `GET /v1/snapshot/hash?after=<hash>&wait=<seconds>`: answers `{"hash": ...}` as soon
   as the current hash differs from `after`, or after `wait` seconds with the same hash.
   The gateway then fetches the snapshot again if the hash changed, and polls again.
3. `POST /v1/snapshot/refusals` with `{"hash": ..., "reason": ...}` when a snapshot
   does not compile: the control plane shows it in `/v1/gateways`.

Every request carries the gateway's identity and the hash it serves in the headers
below, so the control plane knows each gateway and whether it is behind.
"""

from __future__ import annotations

HASH_HEADER = "X-Stoa-Snapshot-Hash"
SERVED_HEADER = "X-Stoa-Snapshot-Served"
WANTED_HEADER = "X-Stoa-Snapshot-Wanted"  # on GET /v1/snapshot: the hash the long poll gave
INSTANCE_HEADER = "X-Stoa-Gateway-Id"  # stable per gateway (kept in its data dir)
NAME_HEADER = "X-Stoa-Gateway-Name"
VERSION_HEADER = "X-Stoa-Gateway-Version"
ADDRESS_HEADER = "X-Stoa-Gateway-Address"

MAX_WAIT_SECONDS = 30  # the longest long poll the control plane holds
