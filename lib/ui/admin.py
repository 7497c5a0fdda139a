"""The Admin screen's sections: users, budgets, prices, providers, storage and the styles library
(a style's card and its edit form). The screen only lays them out in tabs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal

import streamlit as st

from lib import admin
from lib.auth import accounts as auth
from lib.auth.access import ROLES
from lib.auth.accounts import User
from lib.catalog import lifecycle
from lib.core import csvsafe
from lib.core.fmt import money, plural
from lib.core.text import plain
from lib.db import backup
from lib.engine import Engine
from lib.jobs import repricing as pricing
from lib.jobs import style_previews
from lib.money import budgets, reported
from lib.providers import registry
from lib.styles import library as styles
from lib.styles import lifecycle as style_lifecycle
from lib.ui.style_cards import preview_box, preview_jobs, shutdown_flag, style_fields

BADGES = {"active": ":green-badge[active]", "proposed": ":orange-badge[proposed]",
          "archived": ":gray-badge[archived]", True: ":green-badge[:material/check: configured]",
          False: ":orange-badge[not configured]"}
ICONS = {"Approve": ":material/check:", "Archive": ":material/archive:", "Edit": ":material/edit:",
         "Restore": ":material/unarchive:", "Delete": ":material/delete:"}


def attempt(action: Callable[[], object], message: str) -> None:
    """Run an action; on success rerun (tables show the change) with fresh forms and a message."""
    try:
        action()
    except (auth.AuthError, styles.StyleError, ValueError) as exc:
        st.error(plain(str(exc)), icon=":material/error:")
    else:
        st.session_state["admin_flash"] = message
        st.session_state["admin_form"] = st.session_state.get("admin_form", 0) + 1
        st.session_state.pop("admin_editing", None)
        st.rerun()


def style_card(eng: Engine, me: User, s: styles.Style,
               job: style_previews.PreviewJob | None = None) -> None:
    """One style: preview (drawn through the job queue), template, status and actions; or
    its edit form."""
    with st.container(border=True):
        pic, body = st.columns([1, 5])
        with pic:
            preview_box(eng, me, s, job, "admin")
        body.markdown(f"**{plain(s.label)}** `{s.id}` {BADGES[s.status]}"
                      + (" :gray-badge[built in]" if s.builtin else ""))
        if st.session_state.get("admin_editing") == s.id:
            with body:
                style_form(eng, me, s)
            return
        body.code(s.template, language=None, wrap_lines=True)
        body.caption(plain(s.summary()))
        with body:
            shutdown_flag(eng, me, s, "admin", flash="admin_flash")
        row = body.container(horizontal=True)
        for verb, status in s.moves():
            if row.button(verb, key=f"admin_{verb}_{s.id}", icon=ICONS[verb]):
                def move(to: str = status) -> styles.Style:
                    return styles.set_status(eng.db, me, s.id, to, eng.clock.now())

                attempt(move, f"{verb}d “{s.label}”.")
        if s.id != "none":
            row.button("Edit", key=f"admin_edit_{s.id}", icon=ICONS["Edit"],
                       on_click=st.session_state.update, kwargs={"admin_editing": s.id})
        if not s.builtin and s.status != "active" and row.button(
                "Delete", key=f"admin_del_{s.id}", icon=ICONS["Delete"]):
            attempt(lambda: styles.delete(eng, me, s.id), f"Deleted “{s.label}”.")


def style_form(eng: Engine, me: User, s: styles.Style) -> None:
    """Add a style (empty id) or edit one: name, template, negative and suggested settings."""
    form_no = st.session_state.get("admin_form", 0)
    with st.form(f"admin_style_{s.id or 'new'}_{form_no}"):
        label, template, negative, settings = style_fields(s)
        save, cancel = st.columns([1, 4])
        if save.form_submit_button("Save style", type="primary", icon=":material/save:"):
            new = replace(s, label=label, template=template, negative=negative, settings=settings)
            attempt(lambda: styles.save(eng.db, me, new, eng.clock.now()), f"Saved “{label}”.")
        if s.id and cancel.form_submit_button("Cancel"):
            st.session_state.pop("admin_editing", None)
            st.rerun()


def budgets_section(eng: Engine, me: User) -> None:
    """Monthly budgets: the team's and each user's, with what this month has used."""
    st.caption("Checked before every job is queued: a warning at the threshold, a hard stop at "
               "the limit (admins may override a single job). Queued and running jobs reserve "
               "their estimate; finished ones count what they cost.")
    rows = budgets.all_budgets(eng.db, eng.clock.now())
    if rows:
        st.dataframe(csvsafe.rows(
            [{"Budget": "Team" if b.scope == "team" else b.subject,
              "Limit": money(b.limit_usd), "Used this month": money(b.used_usd),
              "Used": round(b.fraction * 100),  # past 100 the bar stays full, the % says
              "Left": (f"over by {money(b.over_usd)}" if b.used_usd > b.limit_usd
                       else money(b.left_usd)),
              "Warn at": f"{b.warn_fraction:.0%}"}
             for b in rows]), hide_index=True, width="stretch",
            column_config={"Used": st.column_config.ProgressColumn(
                "Used", min_value=0, max_value=100, format="%.0f%%")})
        over = [b for b in rows if b.used_usd > b.limit_usd]
        for lim in over:
            who = "The team's budget" if lim.scope == "team" else f"{plain(lim.subject)}'s budget"
            figures = plain(f"{money(lim.over_usd)} this month ({money(lim.used_usd)} of "
                            f"{money(lim.limit_usd)})")
            st.markdown(f":red[:material/warning: {who} is over by {figures}.]")
    else:
        st.info("No budgets yet: nothing limits spending.", icon=":material/savings:")
    users = ["Team", *(u.username for u in auth.list_users(eng.db) if not u.disabled)]
    form_no = st.session_state.get("admin_form", 0)
    with st.form(f"admin_budget_{form_no}"):
        a, b, c = st.columns(3)
        who = a.selectbox("For", users)
        limit = b.number_input("Monthly limit (USD)", min_value=0.0, value=100.0, step=10.0)
        warn = c.slider("Warn at", 0.5, 1.0, 0.8, 0.05, format="%.2f")
        save, drop = st.columns([1, 4])
        scope, subject = ("team", "team") if who == "Team" else ("user", who)
        if save.form_submit_button("Save budget", type="primary", icon=":material/save:"):
            attempt(lambda: budgets.set_budget(eng.db, scope, subject,
                                               Decimal(str(limit)), me.username,
                                               eng.clock.now(), warn),
                    f"Budget for {who}: {money(limit)} a month.")
        if drop.form_submit_button("Remove budget"):
            attempt(lambda: budgets.remove_budget(eng.db, scope, subject),
                    f"Removed the budget for {who}.")


def prices_section(eng: Engine, me: User) -> None:
    """The dated price table, corrections, recomputing a range, and the audit trail."""
    st.caption("Costs are stored with each image when it is made. Adding a price never changes "
               "history: recompute a date range on purpose after a correction.")
    rows = pricing.list_prices(eng.db)
    st.dataframe(csvsafe.rows(
        [{"Provider": r.provider, "Model": r.model, "Variant": r.variant, "Unit": r.unit,
          "USD per unit": float(r.usd_per_unit), "From": r.effective_from.date(),
          "Jobs priced": r.jobs, "Images priced": r.images, "Source": r.source,
          "Added by": r.created_by} for r in rows]),
        hide_index=True, width="stretch", height=320)
    form_no = st.session_state.get("admin_form", 0)
    add, redo = st.columns(2, gap="large")
    with add.form(f"admin_price_{form_no}"):
        st.markdown("**Add a price**")
        a, b = st.columns(2)
        provider = a.selectbox("Provider", list(registry.PROVIDERS))
        model = b.text_input("Model", "*", help="* means any model of this provider")
        unit = a.text_input("Unit", "images",
                            help="A usage key: images, output_image_tokens, credits, ...")
        variant = b.text_input("Variant", "*", help="WxH/quality, WxH, quality or *")
        usd = a.number_input("USD per unit", min_value=0.0, value=0.0, step=0.001,
                             format="%.8f")
        since = b.date_input("Effective from")
        source = st.text_input("Source", placeholder="e.g. the provider's pricing page, date")
        if st.form_submit_button("Add price", type="primary", icon=":material/add:"):
            attempt(lambda: pricing.add_price(eng.db, me.username, provider, model, variant,
                                              unit, Decimal(str(usd)), since, source,
                                              eng.clock.now()),
                    f"Added a {provider} price from {since}.")
    with redo.form(f"admin_recompute_{form_no}"):
        st.markdown("**Recompute costs**")
        span = st.date_input("Jobs created between", value=[])  # [] is an empty range
        if st.form_submit_button("Recompute", icon=":material/calculate:") and len(span) == 2:
            result = pricing.recompute(eng.db, me.username, span[0], span[1], eng.clock.now())
            st.success(f"{result.changed} of {plural(result.jobs, 'job')} changed: "
                       f"{money(result.old_total)} → {money(result.new_total)}"
                       + (f"; {result.unpriced} now have no price" if result.unpriced else ""))
    with st.expander("Audit trail", icon=":material/history:"):
        st.dataframe(csvsafe.rows(pricing.audit(eng.db)), hide_index=True, width="stretch")
    cost_checks(eng)


def cost_checks(eng: Engine) -> None:
    """Jobs whose provider's own cost differs from the computed one (not chosen silently)."""
    found = reported.mismatches(eng.db)
    if not found:
        if n := reported.compared(eng.db):
            st.caption(f":material/check: The providers' own costs of {plural(n, 'job')} agree "
                       "with the computed ones.")
        return
    st.warning(f"{plural(len(found), 'job')} cost something else by the provider's own "
               "figure than by the price table: check the price rows (or ask the provider).",
               icon=":material/price_check:")
    st.dataframe(csvsafe.rows(
        [{"Job": m.job_id, "Provider": m.provider, "Model": m.model, "Created": m.created_at,
          "Computed": float(m.computed), "Provider says": float(m.reported),
          "Difference": float(m.difference)} for m in found]),
        hide_index=True, width="stretch")


def users_section(eng: Engine, me: User) -> None:
    """The accounts table, a form to add one, and changes to an existing one."""
    form_no = st.session_state.get("admin_form", 0)
    st.dataframe(csvsafe.frame(admin.user_rows(eng.db, eng.clock.now())), hide_index=True)
    add, change = st.columns(2, gap="large")
    with add.form(f"admin_add_user_{form_no}"):
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
        new_pw = a.text_input("New password", type="password",
                              key=f"apw_{who.username}_{form_no}")
        if b.button("Reset password", key="admin_set_pw", width="stretch"):
            attempt(lambda: auth.set_password(eng.db, who.username, new_pw, now=eng.clock.now()),
                    f"New password set for {who.username}; their sessions were signed out.")
        verb, myself = ("Enable" if who.disabled else "Disable"), who.username == me.username
        if st.button(f"{verb} {plain(who.username)}", key="admin_toggle", disabled=myself,
                     icon=":material/block:", help="Not your own account." if myself else None):
            attempt(lambda: auth.set_disabled(eng.db, who.username, not who.disabled,
                                              now=eng.clock.now()), f"{verb}d {who.username}.")


def providers_section(eng: Engine) -> None:
    """Models shutting down within 30 days (and the styles that suggest them); then each
    provider: configured, or how to configure it; and a connection test."""
    today = eng.clock.now().date()
    suggested = [(s, w) for s, w in style_lifecycle.flagged(eng.db, today)
                 if s.status != styles.ARCHIVED]
    for found in lifecycle.coming(today, book=eng.models()):
        users = [s.label for s, w in suggested if (w.provider, w.model) == (found.provider,
                                                                           found.model)]
        more = (f" Styles that suggest it: {', '.join(users)} (move them on the Styles tab)."
                if users else "")
        st.warning(plain(found.text(today) + more), icon=":material/schedule:")
    for problem in registry.endpoint_problems():  # a bad entry was skipped; the rest loaded
        st.error(plain(f"OpenAI-compatible endpoints: {problem}"), icon=":material/error:")
    for row in admin.provider_rows(eng):
        with st.container(border=True):
            head, action = st.columns([4, 1], vertical_alignment="center")
            head.markdown(f"**{row.label}** {BADGES[row.configured]}")
            head.caption(f"{row.description}  \n:material/info: {row.detail}")
            if action.button("Test connection", key=f"admin_test_{row.id}", width="stretch",
                             disabled=not row.configured):
                with st.spinner(f"Testing {row.label}…"):
                    st.session_state[f"admin_tested_{row.id}"] = admin.test_provider(
                        row.id, line=eng.models().line(row.id))
            if result := st.session_state.get(f"admin_tested_{row.id}"):
                # the provider's own words (an account name, a checkpoint title): as text
                (st.success if result[0] else st.error)(plain(result[1]))


@st.cache_data(ttl=300, show_spinner="Counting stored objects…")
def storage_numbers(_eng: Engine, data_dir: str) -> admin.StorageSummary:
    """Listing a big bucket takes a while: count at most every five minutes per data dir."""
    return admin.storage_summary(_eng)


def storage_section(eng: Engine) -> None:
    """Where images go, and how much is there."""
    s = storage_numbers(eng, str(eng.settings.data_dir))
    st.markdown(f"Images are stored on **{plain(s.where)}**.")
    if s.error:
        st.error(plain(s.error), icon=":material/error:")
    a, b, c, d = st.columns(4)
    a.metric("Objects stored", "—" if s.objects is None else f"{s.objects:,}", border=True)
    b.metric("Stored size", admin.human_size(s.bytes), border=True)
    c.metric("Image rows", f"{s.image_rows:,}", border=True)
    d.metric("Stored per image", admin.human_size(s.bytes_per_image), border=True)
    demo = (f" The {s.demo_rows:,} demo images share a few sample files and are left out of "
            "the per-image figure." if s.demo_rows else "")
    st.caption("Objects are originals, watermarked copies, thumbnails, reference images and "
               "style previews; the originals of generated images alone take "
               f"{admin.human_size(s.image_bytes)}.{demo}")
    if st.button("Count again", icon=":material/refresh:", key="admin_recount"):
        storage_numbers.clear()
        st.rerun()
    backup_section(eng)


def backup_section(eng: Engine) -> None:
    """Back up the embedded database while it runs, and the backups made so far."""
    st.markdown("**Database backups**")
    if eng.db.kind != "duckdb":
        st.info("The database is PostgreSQL: back it up with `pg_dump` while Promptboard "
                "runs (README, Scaling out → Backups).", icon=":material/info:")
        return
    into = backup.folder(eng.settings.data_dir)
    st.caption(f"A checked copy of the database file in {plain(str(into))}; writes wait "
               "while it is made (seconds). Images are not in it: back up the image store "
               "after it. To restore, stop Promptboard and put the copy in place of "
               "promptboard.duckdb.")
    if st.button("Back up now", icon=":material/backup:", key="admin_backup"):
        try:
            made = backup.backup(eng.db, into, eng.clock.now())
        except backup.BackupError as exc:
            st.error(plain(str(exc)), icon=":material/error:")
        else:
            st.success(f"Backed up to {plain(made.path.name)}: {admin.human_size(made.bytes)}, "
                       f"{sum(made.rows.values()):,} rows in {len(made.rows)} tables, "
                       f"checked, in {made.took_s:.1f} s.", icon=":material/check_circle:")
    made_so_far = backup.list_backups(into)
    if made_so_far:
        st.dataframe([{"Backup": p.name, "Size": admin.human_size(n)} for p, n in made_so_far],
                     hide_index=True, width="content")


def styles_section(eng: Engine, me: User) -> None:
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
