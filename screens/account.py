"""Account: who you are, and your personal API tokens (make, see once, list, revoke)."""

import streamlit as st

from lib import ui
from lib.ui import account

me = ui.require_page("account")
eng = ui.engine()

st.title("Account")
account.identity(me)
st.header("API tokens")
account.tokens_section(eng, me)
