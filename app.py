"""Promptboard: generate AI images, keep them in one gallery, know what they cost.

This file is the frame: page config, first-run set-up, sign-in, and the pages
the signed-in user's role may use (others are left out of the navigation, and
every page checks the role again itself).
"""

import streamlit as st

from lib import ui
from lib.auth import accounts as auth
from lib.ui import account as account_ui
from lib.ui import signin as auth_ui

st.set_page_config(page_title="Promptboard", page_icon=":material/palette:", layout="wide")
eng = ui.engine()  # open the database and start the workers once per process

# st.navigation is called on every run, signed in or not: it is the only router. The screens
# live in screens/, not pages/, so Streamlit never starts in its legacy pages-directory mode
# (which listed every file and ran /admin without app.py until someone loaded /).
if auth_ui.needs_setup(eng):
    st.navigation([st.Page("screens/setup.py", title="Set up", icon=":material/key:")],
                  position="hidden").run()
    st.stop()

user = auth_ui.current_user(eng, frame=True)
if user is None:
    account_ui.forget_secret()  # a new token's secret is never shown to a later sign-in
    # Every page's URL shows the sign-in form too (a bookmark, a shared /gallery?image=… link,
    # an expired cookie): no "Page not found", and once signed in the visitor is on that page.
    def sign_in_page() -> None:  # a page function returns nothing; sign_in returns the user
        auth_ui.sign_in(eng)

    st.navigation(
        [st.Page(sign_in_page, title="Sign in", url_path=slug,
                 icon=":material/login:", default=slug == "signin")
         for slug in ("signin", *auth.PAGES)],
        position="hidden",
    ).run()
    st.stop()

PAGES = {
    "home": st.Page("screens/home.py", title="Home", icon=":material/home:", default=True),
    "generate": st.Page("screens/generate.py", title="Generate", icon=":material/brush:"),
    "history": st.Page("screens/history.py", title="History", icon=":material/history:"),
    "queue": st.Page("screens/queue.py", title="Queue", icon=":material/queue:"),
    "gallery": st.Page("screens/gallery.py", title="Gallery", icon=":material/photo_library:"),
    "boards": st.Page("screens/boards.py", title="Boards", icon=":material/dashboard:"),
    "compare": st.Page("screens/compare.py", title="Compare", icon=":material/grid_view:"),
    "styles": st.Page("screens/styles.py", title="Styles", icon=":material/style:"),
    "analytics": st.Page("screens/analytics.py", title="Analytics", icon=":material/monitoring:"),
    "admin": st.Page("screens/admin.py", title="Admin", icon=":material/admin_panel_settings:"),
    "account": st.Page("screens/account.py", title="Account", icon=":material/person:"),
}
allowed = [PAGES[p] for p in auth.allowed_pages(user.role) if p in PAGES]
with st.sidebar:
    auth_ui.account_menu(eng, user)
if not allowed:
    st.info("Your role has no pages yet.")
    st.stop()
page = st.navigation(allowed)
if page.url_path != "account":
    account_ui.forget_secret()  # shown once: leaving the Account page drops a new secret
page.run()
