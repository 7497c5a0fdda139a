"""Admin: accounts and roles, budgets, prices, providers and their models, who may use which
models (and how many images a day), where images are stored, the styles library, every
user's API tokens, integrations (outgoing webhooks) and the audit log."""

from collections.abc import Callable

import streamlit as st

from lib import ui
from lib.core.text import plain
from lib.ui import access_admin, account, admin, audit_admin, integrations, models_admin

eng = ui.engine()
me = ui.require_page("admin")  # the menu leaves it out for other roles; checked again here
SECTIONS: dict[str, Callable[[], None]] = {"Users": lambda: admin.users_section(eng, me),
            "Budgets": lambda: admin.budgets_section(eng, me),
            "Prices": lambda: admin.prices_section(eng, me),
            "Providers": lambda: admin.providers_section(eng),
            "Models": lambda: models_admin.models_section(eng, me),
            "Access": lambda: access_admin.access_section(eng, me),
            "Storage": lambda: admin.storage_section(eng),
            "Styles": lambda: admin.styles_section(eng, me),
            "Tokens": lambda: account.admin_tokens_section(eng, me),
            "Integrations": lambda: integrations.integrations_section(eng, me),
            "Audit": lambda: audit_admin.audit_section(eng, me)}

st.title("Admin")
if flash := st.session_state.pop("admin_flash", None):
    st.success(plain(flash), icon=":material/check_circle:")
# Every tab but Styles is drawn on each run, hidden or not, so a half-filled form survives a
# look at another tab (a tab not drawn loses its inputs); Styles, whose cards and previews grow
# with the library, and Audit, whose log does, run only while open.
LAZY = {"Styles", "Audit"}
tabs = st.tabs(list(SECTIONS), key="admin_tab", on_change="rerun")
for tab, (name, section) in zip(tabs, SECTIONS.items(), strict=True):
    if tab.open or name not in LAZY:
        with tab:
            section()
