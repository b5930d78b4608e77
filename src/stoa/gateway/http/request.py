"""A parsed HTTP request as the gateway's handlers see it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class Request:
    """One request, after the server parsed it.

    `headers` has lower-case names; repeated headers are joined with ", ". `body` is the
    whole body, already bounded by the body-size limit.
    """

    method: str  # "POST"
    path: str  # percent-decoded path without the query, e.g. "/mcp/demo/toolbox"
    query: str  # raw query string without "?"
    headers: dict[str, str]
    body: bytes
    client_ip: str
    request_id: str  # X-Request-Id received, or generated
