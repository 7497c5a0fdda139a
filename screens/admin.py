"""Admin: accounts and roles, providers, where images are stored, and the styles library."""


import streamlit as st

from lib import admin, ui
from lib.auth import accounts as auth
from lib.auth.access import ROLES
from lib.core import csvsafe
from lib.core.text import plain
from lib.styles import library as styles
from lib.ui.admin import (
    BADGES,
    attempt,
    budgets_section,
    prices_section,
    style_card,
    style_form,
)
from lib.ui.styles import preview_jobs

eng = ui.engine()
me = ui.require_page("admin")  # the menu leaves it out for other roles; checked again here
FORM = st.session_state.setdefault("admin_form", 0)  # bumped after each change: fresh inputs
def users_section() -> None:
    """The accounts table, a form to add one, and changes to an existing one."""
    st.dataframe(csvsafe.frame(admin.user_rows(eng.db, eng.clock.now())), hide_index=True)
    add, change = st.columns(2, gap="large")
    with add.form(f"admin_add_user_{FORM}"):
        st.markdown("**Add a user**")
        a, b = st.columns(2)  # one row per pair, so a phone shows them in reading order
        username = a.text_input("Username", placeholder="ann")
        name = b.text_input("Full name", placeholder="Ann Lee")
        a, b = st.columns(2)
        email = a.text_input("E-mail (optional)")
        role = b.selectbox("Role", ROLES, index=1)
        password = st.text_input("Initial password", type="password", help=(
            f"At least {auth.MIN_PASSWORD_LENGTH} characters. Share it privately."))
        if st.form_submit_button("Add user", icon=":material/person_add:"):
            attempt(lambda: auth.create_user(eng.db, username, name, email, role, password,
                                             now=eng.clock.now()),
                    f"Added {auth.normalize_username(username)}.")
    with change.container(border=True):
        st.markdown("**Change a user**")
        users = {u.username: u for u in auth.list_users(eng.db)}
        who = users[st.selectbox("User", list(users), key="admin_target",
                                 format_func=lambda n: admin.user_label(users[n]))]
        a, b = st.columns([3, 2], vertical_alignment="bottom")
        role = a.selectbox("Role", ROLES, ROLES.index(who.role), key=f"ar_{who.username}")
        if b.button("Change role", key="admin_set_role", width="stretch"):
            attempt(lambda: auth.set_role(eng.db, who.username, role, now=eng.clock.now()),
                    f"{who.username} is now {role}.")
        a, b = st.columns([3, 2], vertical_alignment="bottom")
        new_pw = a.text_input("New password", type="password", key=f"apw_{who.username}_{FORM}")
        if b.button("Reset password", key="admin_set_pw", width="stretch"):
            attempt(lambda: auth.set_password(eng.db, who.username, new_pw, now=eng.clock.now()),
                    f"New password set for {who.username}; their sessions were signed out.")
        verb, myself = ("Enable" if who.disabled else "Disable"), who.username == me.username
        if st.button(f"{verb} {plain(who.username)}", key="admin_toggle", disabled=myself,
                     icon=":material/block:", help="Not your own account." if myself else None):
            attempt(lambda: auth.set_disabled(eng.db, who.username, not who.disabled,
                                              now=eng.clock.now()), f"{verb}d {who.username}.")


def providers_section() -> None:
    """Each provider: configured, or how to configure it; and a connection test."""
    for row in admin.provider_rows(eng):
        with st.container(border=True):
            head, action = st.columns([4, 1], vertical_alignment="center")
            head.markdown(f"**{row.label}** {BADGES[row.configured]}")
            head.caption(f"{row.description}  \n:material/info: {row.detail}")
            if action.button("Test connection", key=f"admin_test_{row.id}", width="stretch",
                             disabled=not row.configured):
                with st.spinner(f"Testing {row.label}…"):
                    st.session_state[f"admin_tested_{row.id}"] = admin.test_provider(row.id)
            if result := st.session_state.get(f"admin_tested_{row.id}"):
                # the provider's own words (an account name, a checkpoint title): as text
                (st.success if result[0] else st.error)(plain(result[1]))


@st.cache_data(ttl=300, show_spinner="Counting stored objects…")
def storage_numbers(data_dir: str) -> admin.StorageSummary:
    """Listing a big bucket takes a while: count at most every five minutes per data dir."""
    return admin.storage_summary(eng)


def storage_section() -> None:
    """Where images go, and how much is there."""
    s = storage_numbers(str(eng.settings.data_dir))
    st.markdown(f"Images are stored on **{plain(s.where)}**.")
    if s.error:
        st.error(plain(s.error), icon=":material/error:")
    a, b, c, d = st.columns(4)
    a.metric("Objects stored", "—" if s.objects is None else f"{s.objects:,}", border=True)
    b.metric("Stored size", admin.human_size(s.bytes), border=True)
    c.metric("Image rows", f"{s.image_rows:,}", border=True)
    d.metric("Stored per image", admin.human_size(s.bytes_per_image), border=True)
    st.caption("Objects are originals, watermarked copies, thumbnails, reference images and "
               f"style previews; the originals alone take {admin.human_size(s.image_bytes)}.")
    if st.button("Count again", icon=":material/refresh:", key="admin_recount"):
        storage_numbers.clear()
        st.rerun()


def styles_section() -> None:
    """The styles library: proposals first, each with its preview and actions; add a style."""
    if st.button("Draw missing previews", icon=":material/imagesmode:", key="admin_previews",
                 help="Draws them all now with the free sandbox; a style's own button queues "
                      "one with its suggested provider."):
        attempt(lambda: styles.draw_missing_previews(eng, eng.clock.now()), "Previews drawn.")
    with st.expander("Add a style", icon=":material/add:"):
        style_form(eng, me, styles.Style("", "", "{prompt}"))
    library = styles.list_styles(eng.db, include_proposed=True, include_archived=True)
    drawing = preview_jobs(eng)
    for item in sorted(library, key=lambda s: s.status != "proposed"):  # proposals need a look
        style_card(eng, me, item, drawing.get(item.id))


SECTIONS = {"Users": users_section, "Budgets": lambda: budgets_section(eng, me),
            "Prices": lambda: prices_section(eng, me), "Providers": providers_section,
            "Storage": storage_section, "Styles": styles_section}

st.title("Admin")
if flash := st.session_state.pop("admin_flash", None):
    st.success(plain(flash), icon=":material/check_circle:")
# Every tab but Styles is drawn on each run, hidden or not, so a half-filled form survives a
# look at another tab (a tab not drawn loses its inputs); Styles, whose cards and previews grow
# with the library, runs only while open.
LAZY = {"Styles"}
tabs = st.tabs(list(SECTIONS), key="admin_tab", on_change="rerun")
for tab, (name, section) in zip(tabs, SECTIONS.items(), strict=True):
    if tab.open or name not in LAZY:
        with tab:
            section()
