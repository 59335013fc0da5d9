"""Domain errors and how they map to HTTP: clear 4xx answers, never a blanket 500.

- `NotFound`, `Conflict`, `RuleViolation` answer 404 / 409 / 422 in FastAPI's `{"detail": [{"loc", "msg",
  "type"}]}` shape.
- A request that fails validation answers 422 in the same shape. The answer never fails to render (a lone
  surrogate in the input is escaped) and never echoes more than a short excerpt of the input: `input`, `msg`,
  `loc` parts and `ctx` values are cut to `EXCERPT_CHARS`, containers shown only to `EXCERPT_DEPTH` levels.
- A value the database refuses that validation did not catch (SQLSTATE class 22, "data exception": out of
  range, too long, untranslatable character; or the driver refusing to encode it) answers 422; a constraint it
  breaks (class 23) answers 409. Both with a message, never a 500.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import asyncpg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError

EXCERPT_CHARS = 100
EXCERPT_DEPTH = 3
EXCERPT_ITEMS = 10
MESSAGE_CHARS = 300


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


class SafeJSONResponse(JSONResponse):
    """JSON with every non-ASCII character escaped: a lone surrogate renders as `\\ud800` instead of failing."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=True, allow_nan=False, separators=(",", ":")).encode("ascii")


def _cut(text: str) -> str:
    return text if len(text) <= EXCERPT_CHARS else f"{text[:EXCERPT_CHARS]}…"


def excerpt(value: Any, depth: int = 0) -> Any:
    """A short, JSON-ready excerpt of `value`: long strings cut, containers cut in length and depth."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, int):  # a huge one as hex: Python refuses decimal text of more than 4300 digits
        return value if abs(value) < 10**EXCERPT_CHARS else _cut(f"{value:x}")
    if isinstance(value, str):
        return _cut(value)
    if isinstance(value, bytes):
        return _cut(value.decode("utf-8", errors="replace"))
    if depth >= EXCERPT_DEPTH and isinstance(value, Mapping | Sequence):
        return "…"
    if isinstance(value, Mapping):
        items = list(value.items())
        shown = {_cut(str(k)): excerpt(v, depth + 1) for k, v in items[:EXCERPT_ITEMS]}
        return shown | ({"…": f"{len(items) - EXCERPT_ITEMS} more"} if len(items) > EXCERPT_ITEMS else {})
    if isinstance(value, Sequence):
        shown_items = [excerpt(v, depth + 1) for v in value[:EXCERPT_ITEMS]]
        return shown_items + ([f"… {len(value) - EXCERPT_ITEMS} more"] if len(value) > EXCERPT_ITEMS else [])
    return _cut(str(value))


def _context_value(value: Any) -> Any:
    """A constraint (`{"le": 100}`) as it is; anything else, such as the ValueError a validator raised, as text."""
    return excerpt(value) if isinstance(value, int | float | str) else _cut(str(value))


def validation_detail(error: Mapping[str, Any]) -> dict[str, Any]:
    """One validation error as answered: its location, message and type, and excerpts of input and context."""
    detail: dict[str, Any] = {
        "type": str(error.get("type", "value_error")),
        "loc": [part if isinstance(part, int) else _cut(str(part)) for part in error.get("loc", ())],
        "msg": _message_text(str(error.get("msg", ""))),
    }
    if "input" in error:
        detail["input"] = excerpt(error["input"])
    if error.get("ctx"):
        detail["ctx"] = {_cut(str(k)): _context_value(v) for k, v in error["ctx"].items()}
    return detail


def _message_text(text: str) -> str:
    return text if len(text) <= MESSAGE_CHARS else f"{text[:MESSAGE_CHARS]}…"


def _message(exc: BaseException) -> str:
    return _message_text(str(exc) or type(exc).__name__)


def _driver_error(exc: Exception) -> BaseException:
    """The asyncpg exception behind `exc` (SQLAlchemy wraps it in its own, around an adapter's)."""
    if isinstance(exc, DBAPIError) and exc.orig is not None:
        return exc.orig.__cause__ or exc.orig
    return exc


def _database_refusal(exc: Exception) -> tuple[int, str] | None:
    """(status, message) when `exc` is the database or its driver refusing a value; None for anything else."""
    cause = _driver_error(exc)
    if isinstance(cause, asyncpg.exceptions.DataError):  # refused by PostgreSQL: SQLSTATE class 22
        return 422, f"a value is out of range or malformed: {_message(cause)}"
    if isinstance(cause, asyncpg.exceptions.IntegrityConstraintViolationError):  # class 23
        return 409, f"conflicts with the data stored: {_message(cause)}"
    if isinstance(cause, asyncpg.exceptions._base.DataError):  # refused by the driver before sending it
        return 422, f"a value is out of range or malformed: {_message(cause)}"
    return None


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain_error(_: Request, exc: DomainError) -> JSONResponse:
        # loc is always there (empty when no field is to blame): a 422 keeps the documented shape.
        loc = ["body", exc.field] if exc.field else []
        detail: dict[str, object] = {"loc": loc, "msg": exc.message, "type": type(exc).__name__}
        return SafeJSONResponse({"detail": [detail]}, status_code=exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        return SafeJSONResponse({"detail": [validation_detail(e) for e in exc.errors()]}, status_code=422)

    async def _refused_by_database(_: Request, exc: Exception) -> JSONResponse:
        refusal = _database_refusal(exc)
        if refusal is None:
            raise exc
        status, message = refusal
        detail: dict[str, object] = {
            "type": "database_refused" if status == 422 else "conflict",
            "loc": [],
            "msg": message,
        }
        return SafeJSONResponse({"detail": [detail]}, status_code=status)

    app.add_exception_handler(DBAPIError, _refused_by_database)
    app.add_exception_handler(asyncpg.PostgresError, _refused_by_database)
    app.add_exception_handler(asyncpg.InterfaceError, _refused_by_database)
