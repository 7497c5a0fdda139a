"""The HTTP API under ``/api/v1``: the route table, mounted on the dashboard's own server.

``serve.py`` adds :func:`routes` to its ``st.App``, so the API lives in the process that owns
the database, started by the README's first command. Each package of routes (jobs, images,
reports, catalog, account, admin) contributes its :class:`~lib.api.ops.Op` rows;
``/api/v1/openapi.json`` is written from the same rows. Unknown paths under ``/api/v1`` are a
JSON 404 (or 405 with ``Allow`` for a known path), never the dashboard's HTML.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from lib.api import (
    access,
    account,
    admin,
    audit,
    boards,
    catalog,
    images,
    jobs,
    openapi,
    reports,
    tags,
)
from lib.api.errors import ApiError
from lib.api.ops import PREFIX, Api, Op, endpoint
from lib.core.context import Services

VERSION = "1.0.0"


def all_ops() -> list[Op]:
    """Every operation, in the document's order."""
    return [*jobs.ops(), *images.ops(), *tags.ops(), *boards.ops(), *reports.ops(), *catalog.ops(),
            *account.ops(), *admin.ops(), *access.ops(), *audit.ops()]


def _pattern(path: str) -> re.Pattern[str]:
    return re.compile("^" + re.sub(r"{\w+}", "[^/]+", PREFIX + path) + "$")


def routes(services: Callable[[], Services], ops: list[Op] | None = None) -> list[BaseRoute]:
    """The API's Starlette routes; ``services`` returns the process's engine."""
    table = ops if ops is not None else all_ops()
    api = Api(services, table)
    doc = openapi.document(table, VERSION)
    known = [(_pattern(op.path), op.method) for op in table]

    def spec(request: Request) -> JSONResponse:
        return JSONResponse(doc, headers={"Cache-Control": "no-cache"})

    def fallback(request: Request) -> Response:
        allowed = sorted({m for pattern, m in known if pattern.match(request.url.path)})
        if allowed:
            return ApiError(405, "method_not_allowed", f"{request.method} is not allowed here; "
                            f"use {', '.join(allowed)}.",
                            headers={"Allow": ", ".join(allowed)}).response()
        return ApiError(404, "not_found", "No such endpoint. The list is at "
                        f"{PREFIX}/openapi.json.").response()

    mounted: list[BaseRoute] = [Route(PREFIX + "/openapi.json", spec, methods=["GET"])]
    mounted += [Route(PREFIX + op.path, endpoint(api, op), methods=[op.method]) for op in table]
    every = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
    mounted.append(Route(PREFIX + "/{rest:path}", fallback, methods=every))
    return mounted
