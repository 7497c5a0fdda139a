"""Liveness and readiness over HTTP, for a load balancer, a container or a cron check.

- ``GET /healthz``: the process answers (``200 ok``). It builds nothing and reads nothing.
- ``GET /readyz``: the dashboard can serve: its engine is built (or can be), the database
  answers a query and the image store answers a lookup. ``200`` with each check's result, or
  ``503`` with the one that failed. Both carry ``Cache-Control: no-store``.

Nobody signs in to these, so a failure says only *which* part failed and what to do, never the
exception's text (a DuckDB or boto3 message can name paths, hosts or buckets); the detail goes
to the server log. ``serve.py`` mounts :func:`routes` on the ``st.App``, so they are served by
the README's command beside the dashboard.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

from lib.core.context import Services

log = logging.getLogger(__name__)
NO_STORE = {"Cache-Control": "no-store"}
PROBE_KEY = "health/readyz-probe"  # looked up, never written: a miss is a healthy answer

FAILED = {
    "engine": "The server could not open its database (another process may hold it, or the "
              "data directory is not writable). See the server log.",
    "database": "The database did not answer a query. See the server log.",
    "storage": "The image store did not answer (for S3: endpoint, credentials, bucket). "
               "See the server log.",
}


def readiness(services: Callable[[], Services]) -> tuple[bool, dict[str, str]]:
    """Run the checks in order, stopping at the first failure; ``(ready, check → result)``."""
    checks: dict[str, str] = {}
    try:
        svc = services()
    except Exception:  # noqa: BLE001 - any failure to build is "not ready", logged in full
        log.exception("readyz: the engine could not be built")
        return False, {"engine": FAILED["engine"]}
    checks["engine"] = "ok"
    probes: tuple[tuple[str, Callable[[], Any]], ...] = (
        ("database", lambda: svc.db.scalar("SELECT 1")),
        ("storage", lambda: svc.storage.exists(PROBE_KEY)),
    )
    for name, probe in probes:
        try:
            probe()
        except Exception:  # noqa: BLE001 - every failure of a dependency is "not ready"
            log.exception("readyz: the %s check failed", name)
            checks[name] = FAILED[name]
            return False, checks
        checks[name] = "ok"
    return True, checks


def routes(services: Callable[[], Services]) -> list[Route]:
    """``/healthz`` and ``/readyz``; ``services`` returns the process's engine (built once)."""

    def healthz(request: Request) -> PlainTextResponse:
        return PlainTextResponse("ok", headers=NO_STORE)

    def readyz(request: Request) -> JSONResponse:
        ready, checks = readiness(services)
        return JSONResponse({"ready": ready, "checks": checks},
                            status_code=200 if ready else 503, headers=NO_STORE)

    # Plain (sync) endpoints: Starlette runs them on its thread pool, off the event loop,
    # since a database query or an S3 lookup blocks.
    return [Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"])]
