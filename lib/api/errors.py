"""What the API answers when it refuses: a status and a JSON body that says what to fix.

Every refusal has the same shape, ``{"error": {"code", "message", "fields"?}}``. The message
is the one the pages show for the same mistake (the domain errors' own text), so a script and a
person read the same words. :func:`from_exception` maps the library's errors to statuses; an
error it does not know is a 500 whose body says nothing of the exception (the log has it).
"""

from __future__ import annotations

import logging
from typing import Any

from pydantic import ValidationError
from starlette.responses import JSONResponse

from lib.auth.accounts import AuthError, PermissionDenied
from lib.boards.rules import BoardDenied, BoardMissing
from lib.core.errors import PromptboardError
from lib.gallery.queries import GalleryError
from lib.jobs.model import NotAllowed, OverBudget, SubmitError

log = logging.getLogger(__name__)

UNAUTHORIZED = ("Missing or invalid credentials. Send `Authorization: Bearer <token>` with a "
                "token from your Account page.")


class ApiError(PromptboardError):
    """A refusal with its HTTP status, a stable code and a message for people."""

    def __init__(self, status: int, code: str, message: str, *,
                 fields: list[dict[str, Any]] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.fields, self.headers = fields, headers or {}

    def response(self) -> JSONResponse:
        """The JSON body and status (no-store: an error is never cached)."""
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.fields:
            body["fields"] = self.fields
        return JSONResponse({"error": body}, status_code=self.status,
                            headers={"Cache-Control": "no-store", **self.headers})


def not_found(what: str = "No such item, or it is not visible to you.") -> ApiError:
    """404, as the pages answer for what the viewer may not see (it is not said to exist)."""
    return ApiError(404, "not_found", what)


def forbidden(message: str) -> ApiError:
    """403: the caller is known but their role or token scope does not allow it."""
    return ApiError(403, "forbidden", message)


def invalid(exc: ValidationError, where: str) -> ApiError:
    """422 from a schema failure, each field named with what was wrong."""
    fields = [{"field": ".".join(str(p) for p in e["loc"]) or where, "problem": e["msg"]}
              for e in exc.errors(include_url=False, include_context=False, include_input=False)]
    first = fields[0] if fields else {"field": where, "problem": "invalid"}
    return ApiError(422, "invalid", f"The {where} is not valid: {first['field']}: "
                    f"{first['problem']}.", fields=fields)


def from_exception(exc: BaseException) -> ApiError:
    """The library's refusals as statuses; anything else is an internal error, logged."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, ValidationError):
        return invalid(exc, "request")
    if isinstance(exc, OverBudget):
        return ApiError(402, "over_budget", str(exc))
    if isinstance(exc, BoardMissing):
        return not_found(str(exc))
    if isinstance(exc, PermissionDenied | GalleryError | NotAllowed | BoardDenied):
        return forbidden(str(exc))
    if isinstance(exc, SubmitError | AuthError):
        return ApiError(422, "invalid", str(exc))
    if isinstance(exc, PromptboardError) and isinstance(exc, ValueError | LookupError):
        return ApiError(422, "invalid", str(exc))
    log.error("API internal error", exc_info=(type(exc), exc, exc.__traceback__))
    return ApiError(500, "internal", "The server failed to answer this request; the server "
                    "log has the details. Try again, and tell an admin if it persists.")
