"""The fields of one access-log line, in the order they are written.

Interpreted, never compiled (see `stoa.gateway.native`): msgspec encodes by the class's
annotations, and mypyc turns a union annotation such as `float | None` into `type`.
"""

from __future__ import annotations

import msgspec


class AccessLine(msgspec.Struct):
    ts: float  # Unix seconds
    request_id: str
    client_ip: str
    method: str
    path: str
    status: int
    duration_ms: float
    kind: str
    tenant: str
    api: str
    subject: str
    upstream_ms: float | None
    response_bytes: int
    level: str = "info"
    logger: str = "stoa.gateway.access"
