"""The demo REST upstream "weather": an offline implementation of `weather_openapi.yaml`.

`stoa up` serves it on loopback so the demo works without network access. Every answer is
computed from the request alone (no clock, no randomness), so tests and screenshots can
rely on exact values; only the alert ids depend on how many alerts this app has accepted.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Final

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

WEATHER_OPENAPI_PATH: Final = Path(__file__).with_name("weather_openapi.yaml")
"""The OpenAPI 3.1 document this app implements; shipped inside the `stoa.demo` package."""

FORECAST_START: Final = date(2025, 6, 1)
"""First day of every forecast. Fixed rather than today, so answers never change."""

FORECAST_DAYS: Final = 3
SEVERITIES: Final = ("low", "high")

_CONDITIONS: Final = ("sunny", "partly cloudy", "cloudy", "rain", "thunderstorms")


def forecast_for(city: str) -> dict[str, Any]:
    """Return the forecast document for `city`, as `GET /forecast` sends it.

    The days depend only on the city name with case and surrounding spaces ignored, so
    "Paris" and " paris " get the same weather; the `city` field echoes the stripped name.
    Each day has a high of 5 to 30 degrees and a low 3 to 12 degrees below it.
    """
    name = city.strip()
    # SHA-256 spreads similar names apart; 3 bytes per day drive condition and temperatures.
    digest = hashlib.sha256(name.casefold().encode()).digest()
    days = []
    for index in range(FORECAST_DAYS):
        condition_byte, high_byte, spread_byte = digest[3 * index : 3 * index + 3]
        high = 5 + high_byte % 26
        days.append(
            {
                "date": (FORECAST_START + timedelta(days=index)).isoformat(),
                "condition": _CONDITIONS[condition_byte % len(_CONDITIONS)],
                "high": high,
                "low": high - 3 - spread_byte % 10,
            }
        )
    return {"city": name, "unit": "celsius", "days": days}


def _error(message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=400)


async def _get_forecast(request: Request) -> Response:
    city = request.query_params.get("city", "")
    if not city.strip():
        return _error("query parameter 'city' is required and must not be empty")
    return JSONResponse(forecast_for(city))


def create_weather_app() -> Starlette:
    """Build the weather ASGI app.

    Routes (see `weather_openapi.yaml` for the schemas):

    - `GET /forecast?city=` returns `forecast_for(city)`; 400 `{"error": ...}` when the
      city is missing or blank.
    - `POST /alerts/{region}` answers 201 with the alert and an id numbered per app
      instance (`alert-1`, `alert-2`, ...); nothing is kept. 400 `{"error": ...}` when the
      body is not a JSON object with a non-empty string `message` and an optional `severity` of
      `low` or `high` (default `low`). The optional `X-Priority` header is echoed as
      `priority` (null when absent).
    - `GET /openapi.yaml` returns the document itself, so it can be imported by URL.

    Raises:
        OSError: the packaged OpenAPI document cannot be read.
    """
    document = WEATHER_OPENAPI_PATH.read_bytes()
    alert_numbers = itertools.count(1)

    async def create_alert(request: Request) -> Response:
        try:
            body = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            return _error("the body must be a JSON object")
        if not isinstance(body, dict):
            return _error("the body must be a JSON object")
        message = body.get("message")
        if not isinstance(message, str) or not message:
            return _error("'message' is required and must be a non-empty string")
        severity = body.get("severity", "low")
        if severity not in SEVERITIES:
            return _error("'severity' must be 'low' or 'high'")
        alert = {
            "id": f"alert-{next(alert_numbers)}",
            "region": request.path_params["region"],
            "message": message,
            "severity": severity,
            "priority": request.headers.get("x-priority"),
        }
        return JSONResponse(alert, status_code=201)

    async def openapi_document(request: Request) -> Response:
        # application/yaml is the registered media type (RFC 9512).
        return Response(document, media_type="application/yaml")

    return Starlette(
        routes=[
            Route("/forecast", _get_forecast, methods=["GET"]),
            Route("/alerts/{region}", create_alert, methods=["POST"]),
            Route("/openapi.yaml", openapi_document, methods=["GET"]),
        ]
    )
