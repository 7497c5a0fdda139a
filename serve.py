"""Production entry point: ``streamlit run serve.py`` serves app.py, its routes and headers.

``st.App`` is Streamlit's ASGI app: the unchanged dashboard (app.py) plus Starlette routes and
middleware, in the one process that owns the database. Here: ``/healthz`` and ``/readyz``
(``lib.web.health``), the HTTP API under ``/api/v1`` (``lib.api``), the dashboard's own
fingerprinted script and style files under ``/assets/`` (``lib.web.assets``), and the security
headers on every response (``lib.web.headers``). Every ``streamlit run`` flag and
``.streamlit/config.toml`` option applies as with app.py. app.py stays a plain page script:
an ``st.App`` defined in it would be rebuilt on every rerun.
"""

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import streamlit as st
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware

from lib import api
from lib.replica import ReplicaRefused
from lib.ui.shared import engine
from lib.web import assets, health, nodelay
from lib.web.headers import SecurityHeaders


@contextlib.asynccontextmanager
async def warm(_app: Any) -> AsyncIterator[None]:
    """Open the database and start the workers as the server starts, not on the first request:
    the queue runs from the start, and a CLI run meanwhile finds the database held (and goes
    through the API) instead of taking it. A failure is logged; /readyz reports it."""
    nodelay.on_listening_sockets()  # Streamlit leaves Nagle on: 40 ms per keep-alive answer
    try:
        await run_in_threadpool(engine)
    except ReplicaRefused as exc:  # PROMPTBOARD_REPLICA=1 on parts it cannot share: stop
        logging.getLogger("promptboard.serve").error("%s", exc)
        raise
    except Exception:  # noqa: BLE001 - the server still serves /healthz and says why on /readyz
        logging.getLogger("promptboard.serve").exception("the engine could not be built")
    yield


app = st.App("app.py", routes=[*health.routes(engine), *api.routes(engine), *assets.routes()],
             middleware=[Middleware(SecurityHeaders)], lifespan=warm)
