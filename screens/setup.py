"""First run: create the first admin account, then sign in as them."""

import streamlit as st

from lib import ui
from lib.auth import accounts as auth
from lib.core.text import plain
from lib.ui import signin as auth_ui

eng = ui.engine()

_, middle, _ = st.columns([1, 2, 1])  # centred, like the sign-in screen
with middle:
    st.title("Create the first admin account")
    if not auth.needs_first_admin(eng.db):
        st.info("Promptboard is already set up: sign in with your account.",
                icon=":material/check:")
        st.stop()

    st.write("Welcome to Promptboard. This account can add the rest of your team, set budgets and "
             "manage prices; you will be signed in as soon as it exists.")

    with st.form("setup_first_admin", border=True):
        username = st.text_input("Username", key="setup_username", autocomplete="username",
                                 help="3–32 characters: letters a–z, digits, '.', '_' or '-'.")
        name = st.text_input("Your name", key="setup_name", placeholder="Defaults to the username")
        email = st.text_input("E-mail (optional)", key="setup_email", autocomplete="email")
        left, right = st.columns(2)
        password = left.text_input("Password", type="password", key="setup_password",
                                   autocomplete="new-password",
                                   help=f"At least {auth.MIN_PASSWORD_LENGTH} characters, "
                                        "and not the username.")
        confirm = right.text_input("Confirm password", type="password", key="setup_confirm",
                                   autocomplete="new-password")
        submitted = st.form_submit_button("Create admin and sign in", type="primary",
                                          icon=":material/admin_panel_settings:")

    if submitted:
        if password != confirm:
            st.error("The two passwords are different: type the same one twice.")
            st.stop()
        try:
            user = auth.create_user(eng.db, username, name, email, "admin", password,
                                    now=eng.clock.now(), only_if_empty=True)
        except auth.AuthError as exc:
            st.error(plain(exc))
            st.stop()
        auth_ui.start_session(eng, user, record=True)  # "last sign-in": now
        st.rerun()
