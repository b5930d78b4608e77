"""RFC 9457 problem documents for the gateway's own error answers."""

from __future__ import annotations

from http import HTTPStatus

import msgspec

from stoa.gateway.http.response import Response

PROBLEM_BASE = "https://stoa.dev/problems/"


def problem(
    status: int,
    slug: str,
    detail: str,
    *,
    headers: list[tuple[str, str]] | None = None,
    request_id: str | None = None,
) -> Response:
    """A problem+json response. `detail` says what happened and what to do about it."""
    document: dict[str, object] = {
        "type": PROBLEM_BASE + slug,
        "title": HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else slug,
        "status": status,
        "detail": detail,
    }
    if request_id:
        document["request_id"] = request_id
    return Response(
        status=status,
        headers=[("content-type", "application/problem+json"), *(headers or [])],
        body=msgspec.json.encode(document),
    )
