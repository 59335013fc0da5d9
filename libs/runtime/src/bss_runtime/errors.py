"""Domain errors and how they map to HTTP: clear 4xx answers, never a blanket 500."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse


class DomainError(Exception):
    status_code = 422

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class NotFound(DomainError):
    status_code = 404


class Conflict(DomainError):
    status_code = 409


class RuleViolation(DomainError):
    """A request that is well-formed but breaks a business rule (e.g. paying a void invoice)."""

    status_code = 422


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain_error(_: Request, exc: DomainError) -> JSONResponse:
        detail: dict[str, object] = {"msg": exc.message, "type": type(exc).__name__}
        if exc.field:
            detail["loc"] = ["body", exc.field]
        return JSONResponse({"detail": [detail]}, status_code=exc.status_code)
