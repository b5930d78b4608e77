"""Every error leaves the control plane as RFC 9457 `application/problem+json`."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException

from stoa.kit.errors import StoaError

PROBLEM_TYPE_BASE = "https://stoa.dev/problems/"
log = logging.getLogger(__name__)


def problem(status: int, title: str, detail: str, slug: str, **extra: Any) -> JSONResponse:
    body = {"type": PROBLEM_TYPE_BASE + slug, "title": title, "status": status, "detail": detail}
    body.update(extra)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(
        body, status_code=status, media_type="application/problem+json", headers=headers
    )


def _location(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body",)]
    return ".".join(parts) or "body"


async def _stoa_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StoaError)
    return problem(exc.status, exc.title, exc.detail, exc.slug, **exc.extra)


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"field": _location(tuple(err.get("loc", ()))), "message": err.get("msg", "invalid")}
        for err in exc.errors()
    ]
    summary = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
    return problem(422, "Invalid input", summary, "invalid-input", errors=errors)


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    slug = {404: "not-found", 405: "method-not-allowed"}.get(exc.status_code, "http-error")
    return problem(exc.status_code, str(exc.detail), str(exc.detail), slug)


async def _integrity_error(_request: Request, exc: Exception) -> JSONResponse:
    # Services check uniqueness first; this catches the race where two requests pass the
    # check together. The transaction was rolled back, so nothing was written.
    log.info("integrity error mapped to 409: %s", type(exc).__name__)
    return problem(
        409,
        "Conflict",
        "the change conflicts with a concurrent change; reload and retry",
        "conflict",
    )


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(StoaError, _stoa_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(IntegrityError, _integrity_error)
