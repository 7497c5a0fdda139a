"""The Account page's parts: who you are, and your personal API tokens (make one, see its
secret once, list them, revoke one); and Admin → Tokens, every user's tokens.

The rules live in ``lib/auth/tokens.py``; this module only draws them. A new token's secret
is kept in ``st.session_state`` (never logged, never in a repr) until its owner dismisses it
or leaves the page: ``app.py`` calls :func:`forget_secret` on every run of another page and
whenever nobody is signed in. Revoking goes through a confirmation whose button runs an
:func:`~lib.ui.guard.authed_callback`, so a session that has ended cannot revoke anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import streamlit as st

from lib.auth import tokens
from lib.auth.accounts import AuthError, PermissionDenied, User
from lib.core import csvsafe
from lib.core.text import plain, shorten
from lib.engine import Engine
from lib.ui.guard import authed_callback, still_signed_in_as

SECRET = "acct_new_token"  # the secret just made: until dismissed, or the page is left
FORM_NO = "acct_form"  # bumped after each token made, so the form starts empty
MINE, ALL = "acct", "admtok"  # key prefixes: the Account page's list, Admin → Tokens
SCOPE_CHOICES = {"full": "Full (your role)", "read": "Read-only"}
SCOPE_SHOWN = {"full": "Full", "read": "Read-only"}
ROLE_TEXT = {
    "admin": "everything: generating, every image and cost, users, budgets, prices, "
             "providers, storage, styles and every user's API tokens",
    "member": "generating, your own images and those shared with the team, Compare and "
              "the styles library",
    "analyst": "cost reporting across users and the Gallery; no generation",
}


@dataclass(frozen=True)
class NewToken:
    """A token just made, as its owner sees it once."""

    username: str
    token_id: str
    name: str
    secret: str = field(repr=False)  # never in a log line or an error report


def forget_secret() -> None:
    """Drop a new token's secret from this session (leaving the page, signing out)."""
    st.session_state.pop(SECRET, None)


def identity(me: User) -> None:
    """Who is signed in: name, username and role, and what the role may do."""
    with st.container(border=True):
        st.markdown(f"**{plain(me.name)}**  \n"
                    f"Username: {plain(me.username)}  \n"
                    f"Role: **{plain(me.role)}** ({ROLE_TEXT.get(me.role, '')})")
        st.caption("Your name, role and password are changed by an admin (Admin → Users).")


def tokens_section(eng: Engine, me: User) -> None:
    """Your tokens: what they are for, the form that makes one, its secret once, the list."""
    st.markdown(
        "A token lets a script or another program use Promptboard as you, without your "
        "password. Use it as `Authorization: Bearer <token>` with the HTTP API at `/api/v1` "
        "(see the README's API section). A *Full* token may do what your role may do now; a "
        "*Read-only* one may only read.")
    st.caption(
        "A token stops working when you revoke it, when your password or your role changes, "
        "or when your account is disabled; then make a new one. Signing out does not stop "
        "it: a script keeps working. "
        f"You may keep up to {tokens.MAX_TOKENS_PER_USER} tokens that are not revoked.")
    _create_form(eng, me)
    _secret_box(me)
    st.subheader("Your tokens")
    _flash(MINE)
    mine = tokens.list_for(eng.db, me.username)
    if not mine:
        st.info("You have no API tokens yet.", icon=":material/key:")
        return
    _token_table(eng, mine, with_user=False)
    _revoke_row(eng, me, mine, MINE, with_user=False)


def admin_tokens_section(eng: Engine, me: User) -> None:
    """Admin → Tokens: every user's tokens, newest first, each open one revocable."""
    st.caption("Every user's personal API tokens (each user makes and revokes their own on "
               "the Account page). Revoking one here stops it at once; its owner sees it as "
               "revoked. Secrets are never stored, so nobody can show one again.")
    _flash(ALL)
    every = tokens.list_all(eng.db)
    if not every:
        st.info("Nobody has made an API token yet.", icon=":material/key:")
        return
    _token_table(eng, every, with_user=True)
    _revoke_row(eng, me, every, ALL, with_user=True)


def _create_form(eng: Engine, me: User) -> None:
    """Name and scope; a refused name stays in the field to fix, a made token empties it."""
    form_no = st.session_state.get(FORM_NO, 0)  # a new number: fresh, empty fields
    with st.form(f"acct_create_{form_no}"):
        st.markdown("**New token**")
        name = st.text_input("Name", key=f"acct_name_{form_no}", max_chars=tokens.MAX_NAME,
                             placeholder="e.g. laptop script, CI pipeline",
                             help="So you can tell your tokens apart later.")
        scope = st.radio("Scope", list(SCOPE_CHOICES), key=f"acct_scope_{form_no}",
                         horizontal=True, format_func=SCOPE_CHOICES.__getitem__,
                         help="Full: whatever your role may do. Read-only: look, never "
                              "queue or change anything.")
        if not st.form_submit_button("Create token", type="primary", icon=":material/key:"):
            return
        try:
            token, secret = tokens.create(eng.db, me.username, name, scope=scope,
                                          now=eng.clock.now())
        except AuthError as exc:  # a bad name, too many tokens: the message as is
            st.error(plain(exc), icon=":material/error:")
            return
    st.session_state[SECRET] = NewToken(me.username, token.id, token.name, secret)
    st.session_state[FORM_NO] = form_no + 1
    st.rerun()  # the empty form, the secret under it and the list with the new token


def _secret_box(me: User) -> None:
    """The secret just made, once: copy it now, then dismiss it."""
    new = st.session_state.get(SECRET)
    if not isinstance(new, NewToken) or new.username != me.username:
        return
    with st.container(border=True, key="acct_secret"):
        st.markdown(f":material/key: **New token “{plain(new.name)}”**")
        st.warning("Copy it now: it will not be shown again. Promptboard keeps only a hash "
                   "of it; lost, it can only be revoked and replaced.",
                   icon=":material/warning:")
        st.code(new.secret, language=None, wrap_lines=True)
        st.button("I have copied it", key="acct_dismiss", icon=":material/check:",
                  on_click=_dismiss)


@authed_callback
def _dismiss() -> None:
    forget_secret()


def _when(at: datetime | None) -> str:
    return "never" if at is None else f"{at:%Y-%m-%d %H:%M}"


def _token_table(eng: Engine, listed: list[tokens.Token], *, with_user: bool) -> None:
    rows: list[dict[str, Any]] = []
    for t in listed:
        row = {"User": t.username} if with_user else {}
        rows.append(row | {  # name and status first: what a phone shows without scrolling
            "Name": t.name, "Status": tokens.status(eng.db, t),
            "Scope": SCOPE_SHOWN.get(t.scope, t.scope), "Token": f"{t.hint}…",
            "Created (UTC)": _when(t.created_at), "Last used (UTC)": _when(t.last_used_at)})
    st.dataframe(csvsafe.rows(rows), hide_index=True, width="stretch")
    if any(r["Status"] == "ended" for r in rows):
        st.caption("*Ended*: it stopped working because its owner's password or role changed "
                   "after it was made, or the account was disabled. Revoke it to free its "
                   "place.")


def _label(t: tokens.Token, *, with_user: bool) -> str:
    name = f"Revoke “{shorten(t.name, 40)}”"
    return plain(f"{name} ({t.username})" if with_user else name)


def _revoke_row(eng: Engine, me: User, listed: list[tokens.Token], prefix: str, *,
                with_user: bool) -> None:
    """A Revoke button per token not yet revoked, and the confirmation of the one asked."""
    open_ = [t for t in listed if t.revoked_at is None]
    if not open_:
        return
    row = st.container(horizontal=True, gap="small")
    for t in open_:
        row.button(_label(t, with_user=with_user), key=f"{prefix}_revoke_{t.id}",
                   icon=":material/key_off:", on_click=_ask, args=(prefix, t.id),
                   help=f"Asks first. The token {t.hint}… stops working at once.")
    asked = next((t for t in open_ if t.id == st.session_state.get(f"{prefix}_confirm")), None)
    if asked is not None:
        _confirm(eng, me, asked, prefix, with_user=with_user)


def _confirm(eng: Engine, me: User, t: tokens.Token, prefix: str, *, with_user: bool) -> None:
    with st.container(border=True, key=f"{prefix}_confirm_box"):
        whose = f"{plain(t.username)}'s token" if with_user else "the token"
        st.warning(f"Revoke {whose} “{plain(t.name)}” ({plain(t.hint)}…)? Anything that uses "
                   "it is refused from now on. This cannot be undone.",
                   icon=":material/warning:")
        buttons = st.container(horizontal=True, gap="small")
        buttons.button(":red[Revoke token]", key=f"{prefix}_confirm_yes",
                       icon=":material/key_off:", on_click=_revoke,
                       args=(eng, me, t.id, t.name, prefix))
        buttons.button("Keep it", key=f"{prefix}_confirm_no", on_click=_keep, args=(prefix,))


@authed_callback
def _ask(prefix: str, token_id: str) -> None:
    st.session_state[f"{prefix}_confirm"] = token_id


@authed_callback
def _keep(prefix: str) -> None:
    st.session_state.pop(f"{prefix}_confirm", None)


@authed_callback
def _revoke(eng: Engine, me: User, token_id: str, name: str, prefix: str) -> None:
    """Revoke, as the user who drew the button if this session is still theirs."""
    st.session_state.pop(f"{prefix}_confirm", None)
    if not still_signed_in_as((me.username, me.role)):
        return  # another user or role now: the full run that follows shows what is right
    try:
        tokens.revoke(eng.db, me, token_id, now=eng.clock.now())
    except (AuthError, PermissionDenied) as exc:
        st.session_state[f"{prefix}_flash"] = ("error", str(exc))
        return
    new = st.session_state.get(SECRET)
    if isinstance(new, NewToken) and new.token_id == token_id:
        forget_secret()  # its secret is worthless now
    st.session_state[f"{prefix}_flash"] = ("success", f"Revoked “{name}”: it no longer works.")


def _flash(prefix: str) -> None:
    """The outcome of the last revoke, once."""
    found = st.session_state.pop(f"{prefix}_flash", None)
    if found is None:
        return
    kind, text = found
    if kind == "success":
        st.success(plain(text), icon=":material/check_circle:")
    else:
        st.error(plain(text), icon=":material/error:")
