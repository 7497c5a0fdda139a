"""Admin: accounts and roles, providers, where images are stored, and the styles library."""

from collections.abc import Callable
from dataclasses import replace

import streamlit as st

from lib import admin, auth, styles, ui
from lib import providers as registry

eng = ui.engine()
ui.require_page("admin")  # the menu leaves this page out for other roles; check again here
me = ui.signed_in()
FORM = st.session_state.setdefault("admin_form", 0)  # bumped after each change: fresh inputs
BADGES = {"active": ":green-badge[active]", "proposed": ":orange-badge[proposed]",
          "archived": ":gray-badge[archived]", True: ":green-badge[:material/check: configured]",
          False: ":orange-badge[not configured]"}
ICONS = {"Approve": ":material/check:", "Archive": ":material/archive:", "Edit": ":material/edit:",
         "Restore": ":material/unarchive:", "Delete": ":material/delete:"}


def attempt(action: Callable[[], object], message: str) -> None:
    """Run an action; on success rerun (tables show the change) with fresh forms and a message."""
    try:
        action()
    except (auth.AuthError, styles.StyleError) as exc:
        st.error(str(exc), icon=":material/error:")
    else:
        st.session_state["admin_flash"] = message
        st.session_state["admin_form"] = FORM + 1
        st.session_state.pop("admin_editing", None)
        st.rerun()


def users_section() -> None:
    """The accounts table, a form to add one, and changes to an existing one."""
    st.dataframe(admin.user_rows(eng.db, eng.clock.now()), hide_index=True)
    add, change = st.columns(2, gap="large")
    with add.form(f"admin_add_user_{FORM}"):
        st.markdown("**Add a user**")
        a, b = st.columns(2)  # one row per pair, so a phone shows them in reading order
        username = a.text_input("Username", placeholder="ann")
        name = b.text_input("Full name", placeholder="Ann Lee")
        a, b = st.columns(2)
        email = a.text_input("E-mail (optional)")
        role = b.selectbox("Role", auth.ROLES, index=1)
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
        role = a.selectbox("Role", auth.ROLES, auth.ROLES.index(who.role), key=f"ar_{who.username}")
        if b.button("Change role", key="admin_set_role", width="stretch"):
            attempt(lambda: auth.set_role(eng.db, who.username, role),
                    f"{who.username} is now {role}.")
        a, b = st.columns([3, 2], vertical_alignment="bottom")
        new_pw = a.text_input("New password", type="password", key=f"apw_{who.username}_{FORM}")
        if b.button("Reset password", key="admin_set_pw", width="stretch"):
            attempt(lambda: auth.set_password(eng.db, who.username, new_pw, now=eng.clock.now()),
                    f"New password set for {who.username}; their sessions were signed out.")
        verb, myself = ("Enable" if who.disabled else "Disable"), who.username == me.username
        if st.button(f"{verb} {who.username}", key="admin_toggle", disabled=myself,
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
                (st.success if result[0] else st.error)(result[1])


@st.cache_data(ttl=300, show_spinner="Counting stored objects…")
def storage_numbers(data_dir: str) -> admin.StorageSummary:
    """Listing a big bucket takes a while: count at most every five minutes per data dir."""
    return admin.storage_summary(eng)


def storage_section() -> None:
    """Where images go, and how much is there."""
    s = storage_numbers(str(eng.settings.data_dir))
    st.markdown(f"Images are stored on **{s.where}**.")
    if s.error:
        st.error(s.error, icon=":material/error:")
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


def style_card(s: styles.Style) -> None:
    """One style: preview, template, status and actions; or its edit form."""
    with st.container(border=True):
        pic, body = st.columns([1, 5])
        if s.preview_key and eng.storage.exists(s.preview_key):
            pic.image(ui.thumbnail(eng, s.preview_key), width=200)
        if s.preview_key != s.preview_key_for() and pic.button(
                "Redraw preview" if s.preview_key else "Draw preview", key=f"admin_pv_{s.id}",
                icon=":material/image:", width="stretch"):
            attempt(lambda: styles.preview(eng, s.id, eng.clock.now()),
                    f"Drew a preview of “{s.label}”.")
        body.markdown(f"**{s.label}** `{s.id}` {BADGES[s.status]}"
                      + (" :gray-badge[built in]" if s.builtin else ""))
        if st.session_state.get("admin_editing") == s.id:
            with body:
                style_form(s)
            return
        body.code(s.template, language=None, wrap_lines=True)
        body.caption(s.summary())
        row = body.container(horizontal=True)
        for verb, status in s.moves():
            if row.button(verb, key=f"admin_{verb}_{s.id}", icon=ICONS[verb]):
                attempt(lambda to=status: styles.set_status(eng.db, me, s.id, to, eng.clock.now()),
                        f"{verb}d “{s.label}”.")
        if s.id != "none":
            row.button("Edit", key=f"admin_edit_{s.id}", icon=ICONS["Edit"],
                       on_click=st.session_state.update, kwargs={"admin_editing": s.id})
        if not s.builtin and s.status != "active" and row.button(
                "Delete", key=f"admin_del_{s.id}", icon=ICONS["Delete"]):
            attempt(lambda: styles.delete(eng, me, s.id), f"Deleted “{s.label}”.")


def style_form(s: styles.Style) -> None:
    """Add a style (empty id) or edit one: name, template, negative and suggested settings."""
    with st.form(f"admin_style_{s.id or 'new'}_{FORM}"):
        label = st.text_input("Name", s.label, max_chars=styles.MAX_LABEL)
        template = st.text_area("Template", s.template, max_chars=styles.MAX_TEMPLATE,
                                help="{prompt} is replaced by the user's prompt.")
        negative = st.text_input("Negative prompt", s.negative, max_chars=styles.MAX_NEGATIVE)
        a, b, c, d = st.columns(4)
        ids, got = ["", *registry.PROVIDERS], s.settings.get
        settings = {
            "provider": a.selectbox("Suggested provider", ids, ids.index(got("provider", ""))
                                    if got("provider", "") in ids else 0),
            "model": b.text_input("Suggested model", got("model", "")),
            "quality": c.text_input("Suggested quality", got("quality", "")),
            "size": d.text_input("Suggested size", got("size", ""), placeholder="1024x1024")}
        save, cancel = st.columns([1, 4])
        if save.form_submit_button("Save style", type="primary", icon=":material/save:"):
            new = replace(s, label=label, template=template, negative=negative, settings=settings)
            attempt(lambda: styles.save(eng.db, me, new, eng.clock.now()), f"Saved “{label}”.")
        if s.id and cancel.form_submit_button("Cancel"):
            st.session_state.pop("admin_editing", None)
            st.rerun()


st.title("Admin")
if flash := st.session_state.pop("admin_flash", None):
    st.success(flash, icon=":material/check_circle:")
users_tab, providers_tab, storage_tab, styles_tab = st.tabs(
    ["Users", "Providers", "Storage", "Styles"], key="admin_tab")
with users_tab:
    users_section()
with providers_tab:
    providers_section()
with storage_tab:
    storage_section()
with styles_tab:
    if st.button("Draw missing previews", icon=":material/imagesmode:", key="admin_previews"):
        attempt(lambda: styles.draw_missing_previews(eng, eng.clock.now()), "Previews drawn.")
    with st.expander("Add a style", icon=":material/add:"):
        style_form(styles.Style("", "", "{prompt}"))
    library = styles.list_styles(eng.db, include_proposed=True, include_archived=True)
    for item in sorted(library, key=lambda s: s.status != "proposed"):  # proposals need a look
        style_card(item)
