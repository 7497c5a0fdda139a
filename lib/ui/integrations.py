"""Admin → Integrations: outgoing webhooks (lib.webhooks). Register an endpoint (its signing
secret is shown once), see how each one's deliveries go, send it a test event, disable or
delete it, and the latest deliveries."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import streamlit as st

from lib import webhooks
from lib.auth.accounts import User
from lib.core import csvsafe
from lib.core.text import plain
from lib.engine import Engine
from lib.ui.admin import attempt

KIND_LABELS = {"standard": "Signed JSON (Standard Webhooks)",
               "slack": "Slack-compatible (a message in a channel)"}
STATUS_BADGES = {"pending": ":orange-badge[pending]", "delivered": ":green-badge[delivered]",
                 "failed": ":red-badge[failed]", "gave_up": ":red-badge[gave up]"}
SECRET_KEY = "admin_webhook_secret"  # the new endpoint's secret, shown on the next run only

HELP = (
    "Promptboard can tell other tools when something happens: a signed JSON POST (Standard "
    "Webhooks: verify it with the secret, see README \"Webhooks\") or a message in a Slack "
    "channel (a Slack incoming-webhook URL; Mattermost and Discord's `/slack` URLs take the "
    "same). Deliveries that fail are tried again for about seven hours. Example: *tell "
    "#design-costs when the team passes 80 % of its month*: add the channel's incoming-webhook "
    "URL as a Slack endpoint with `budget.threshold`, at the budget's own warning level (80 % "
    "by default) or at a level of its own.")


def _when(at: datetime | None) -> str:
    return at.strftime("%Y-%m-%d %H:%M:%S UTC") if at else "never"


def _wake(eng: Engine) -> None:
    if eng.webhooks is not None:
        eng.webhooks.wake()


def integrations_section(eng: Engine, me: User) -> None:
    """The Integrations tab."""
    st.caption(HELP)
    if secret := st.session_state.pop(SECRET_KEY, None):
        st.warning("This is the endpoint's signing secret. Copy it now into the receiver: "
                   "it is not shown again.", icon=":material/key:")
        st.code(secret, language=None)
    endpoint_form(eng, me)
    found = webhooks.list_endpoints(eng.db)
    if not found:
        st.info("No endpoints yet: nothing is sent anywhere.", icon=":material/webhook:")
    for ep in found:
        endpoint_card(eng, me, ep)
    deliveries_table(eng, {ep.id: ep.shown_url for ep in found})


def endpoint_form(eng: Engine, me: User) -> None:
    """Add an endpoint: URL, kind, events and the budget threshold."""
    form_no = st.session_state.get("admin_form", 0)
    with st.form(f"admin_webhook_{form_no}"):
        st.markdown("**Add an endpoint**")
        url = st.text_input("Endpoint URL", placeholder="https://example.com/promptboard-hook",
                            help="https only, to a public address (see "
                                 "PROMPTBOARD_WEBHOOK_ALLOW_PRIVATE in README).")
        kind = st.radio("Kind", webhooks.KINDS, format_func=KIND_LABELS.__getitem__,
                        horizontal=True)
        st.markdown("Events")
        boxes = st.columns(3)
        chosen = [name for i, (name, what) in enumerate(webhooks.EVENTS.items())
                  if boxes[i % 3].checkbox(name, help=what, key=f"admin_wh_{name}_{form_no}")]
        own, level = st.columns(2, vertical_alignment="bottom")
        follow = own.checkbox("Budget alerts at each budget's own warning level", value=True)
        pct = level.slider("…or at this share of a budget", 5, 100, 80, 5, format="%d%%")
        if st.form_submit_button("Add endpoint", type="primary", icon=":material/add_link:"):
            def add() -> None:
                _, new_secret = webhooks.create(
                    eng.db, me, url, kind, chosen, threshold=None if follow else pct / 100,
                    now=eng.clock.now())
                if new_secret:
                    st.session_state[SECRET_KEY] = new_secret

            attempt(add, "Added the endpoint." if kind == "slack" else
                    "Added the endpoint; its signing secret is below.")


def _action(eng: Engine, fn: Callable[[], object], message: str) -> None:
    def run() -> None:
        fn()
        _wake(eng)

    attempt(run, message)


def endpoint_card(eng: Engine, me: User, ep: webhooks.Endpoint) -> None:
    """One endpoint: where, what, how its last delivery went; test, enable/disable, delete."""
    with st.container(border=True):
        head, side = st.columns([3, 2])
        state = ":gray-badge[disabled]" if ep.disabled else ":green-badge[enabled]"
        head.markdown(f"**{plain(ep.shown_url)}** :blue-badge[{ep.kind}] {state}")
        level = ("each budget's own level" if ep.threshold is None
                 else f"{ep.threshold:.0%} of a budget")
        alerts = any(e.startswith("budget.") for e in ep.events)
        head.caption(plain(", ".join(ep.events)) + (f" (alerts at {level})" if alerts else ""))
        last = (f"Last delivery: {_when(ep.last_delivery_at)}"
                + (f" · {plain(ep.last_status)}" if ep.last_status else "")
                + (f" · {plain(ep.last_error)}" if ep.last_error else ""))
        head.caption(last)
        row = side.container(horizontal=True)
        if row.button("Send test event", key=f"admin_wh_test_{ep.id}", icon=":material/send:",
                      disabled=ep.disabled, help="A `ping` event, sent within seconds."):
            _action(eng, lambda: webhooks.send_test(eng.db, me, ep.id, now=eng.clock.now()),
                    "Test event queued; its delivery is listed below.")
        verb = "Enable" if ep.disabled else "Disable"
        if row.button(verb, key=f"admin_wh_toggle_{ep.id}", icon=":material/block:"):
            _action(eng, lambda: webhooks.set_disabled(eng.db, me, ep.id, not ep.disabled,
                                                       now=eng.clock.now()),
                    f"{verb}d the endpoint.")
        if row.button("Delete", key=f"admin_wh_delete_{ep.id}", icon=":material/delete:"):
            _action(eng, lambda: webhooks.delete(eng.db, me, ep.id),
                    "Deleted the endpoint and its deliveries.")


def deliveries_table(eng: Engine, urls: dict[str, str]) -> None:
    """The latest deliveries, newest first."""
    head, refresh = st.columns([5, 1], vertical_alignment="bottom")
    head.markdown("**Recent deliveries**")
    if refresh.button("Refresh", key="admin_wh_refresh", icon=":material/refresh:"):
        st.rerun()
    rows = webhooks.recent(eng.db)
    if not rows:
        st.caption("None yet.")
        return
    st.dataframe(csvsafe.rows([
        {"Created": d.created_at, "Endpoint": urls.get(d.endpoint_id, d.endpoint_id),
         "Event": d.event_type, "Status": d.status.replace("_", " "), "Attempts": d.attempts,
         "HTTP": d.last_status_code, "Error": d.last_error or "",
         "Next try": d.next_attempt_at if d.status == "pending" else None,
         "Delivered": d.delivered_at, "webhook-id": d.webhook_id}
        for d in rows]), hide_index=True, width="stretch")
