"""Production entry point: ``streamlit run serve.py`` serves app.py, its routes and headers.

``st.App`` is Streamlit's ASGI app: the unchanged dashboard (app.py) plus Starlette routes and
middleware, in the one process that owns the database. Here: ``/healthz`` and ``/readyz``
(``lib.web.health``), the HTTP API under ``/api/v1`` (``lib.api``), and the security headers
on every response (``lib.web.headers``). Every ``streamlit run`` flag and
``.streamlit/config.toml`` option applies as with app.py. app.py stays a plain page script:
an ``st.App`` defined in it would be rebuilt on every rerun.
"""

import streamlit as st
from starlette.middleware import Middleware

from lib import api
from lib.ui.shared import engine
from lib.web import health
from lib.web.headers import SecurityHeaders

app = st.App("app.py", routes=[*health.routes(engine), *api.routes(engine)],
             middleware=[Middleware(SecurityHeaders)])
