"""Production entry point: ``streamlit run serve.py`` serves app.py with security headers.

Streamlit's server has no setting for extra response headers; ``st.App`` accepts Starlette
middleware, so this file wraps the unchanged dashboard (app.py) in ``lib.web.headers``. Every
``streamlit run`` flag and ``.streamlit/config.toml`` option applies as with app.py. When app.py
becomes an ``st.App`` itself (planned), give it ``middleware=[Middleware(SecurityHeaders)]`` and
delete this file; tests/browser/test_security_headers.py then runs against app.py.
"""

import streamlit as st
from starlette.middleware import Middleware

from lib.web.headers import SecurityHeaders

app = st.App("app.py", middleware=[Middleware(SecurityHeaders)])
