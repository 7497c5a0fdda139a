"""Fragments and dialogs that check the session on every run, as app.py does on a full run.

A rerun of a ``st.fragment`` or ``st.dialog`` runs only that function: not app.py, not the
page. Without a check it would act with the user and role captured when the page last ran
in full, so a session ended by a sign-out, a new password, a disable or a role change could
still share, rate, cancel, retry, pick winners and queue paid jobs from an open dialog, and
a Queue tab would keep polling the team's prompts for as long as it stayed open.

So every fragment and dialog in the app is declared with :func:`authed_fragment` or
:func:`authed_dialog` (``tests/screens/test_guard.py`` fails on a bare ``st.fragment``/``st.dialog``
under ``lib/`` or ``screens/``). When the page calls the function, the guard notes who is
signed in (username and role); at the start of every run of its body, the first and each
rerun, it asks :func:`lib.ui.signin.current_user` again (``auth.session_valid``: disabled,
deleted or revoked ends the session) and compares. A mismatch draws nothing and reruns the
whole app, whose full run shows the sign-in form. Widget callbacks run before the body,
so those drawn inside one take :func:`authed_callback`. The library's writes refuse disabled
accounts as well (``auth.require_active``), whatever the page does.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import timedelta
from typing import Any, Literal, ParamSpec, overload

import streamlit as st

from lib.auth.accounts import User
from lib.ui import signin as auth_ui
from lib.ui.shared import engine

P = ParamSpec("P")
Who = tuple[str, str] | None  # (username, role) when the page called the function
_WHO = "_guard_who"  # the keyword the captured identity travels under (never a user's)


def signed_in_as() -> Who:
    """Who this run is signed in as, (username, role), or None."""
    user = _current()
    return None if user is None else (user.username, user.role)


def still_signed_in_as(who: Who) -> bool:
    """Is this session still valid, and its user still ``who`` with the same role?"""
    return who is not None and signed_in_as() == who


def _current() -> User | None:
    return auth_ui.current_user(engine())


def _guarded(fn: Callable[P, Any]) -> Callable[..., None]:
    """``fn`` behind the session check; the captured identity comes in as ``_guard_who``."""
    @functools.wraps(fn)  # the same module and name: Streamlit's fragment ids stay the same
    def body(*args: Any, **kwargs: Any) -> None:
        who: Who = kwargs.pop(_WHO)
        if who is None:  # the page itself had nobody signed in: nothing to draw
            return
        if not still_signed_in_as(who):
            # Nothing of this body is drawn; the full run that follows re-checks the session
            # (signing it out) and shows the sign-in form, or the pages of a changed role.
            st.rerun(scope="app")
        fn(*args, **kwargs)

    return body


def _capturing(fn: Callable[P, Any], streamlit_fn: Callable[..., Any]) -> Callable[P, None]:
    @functools.wraps(fn)
    def call(*args: P.args, **kwargs: P.kwargs) -> None:
        streamlit_fn(*args, **kwargs, **{_WHO: signed_in_as()})

    return call


@overload
def authed_fragment(
    fn: Callable[P, Any], *, run_every: float | timedelta | str | None = None,
) -> Callable[P, None]: ...
@overload
def authed_fragment(
    fn: None = None, *, run_every: float | timedelta | str | None = None,
) -> Callable[[Callable[P, Any]], Callable[P, None]]: ...
def authed_fragment(
    fn: Callable[P, Any] | None = None, *,
    run_every: float | timedelta | str | None = None,
) -> Any:
    """``st.fragment`` (bare or with ``run_every``) whose every run checks the session."""
    def decorate(f: Callable[P, Any]) -> Callable[P, None]:
        return _capturing(f, st.fragment(_guarded(f), run_every=run_every))

    return decorate if fn is None else decorate(fn)


def authed_callback(fn: Callable[P, Any]) -> Callable[P, None]:
    """A widget callback (``on_change``/``on_click``) drawn in a fragment or dialog.

    Streamlit runs callbacks before the fragment's body, so before its guard: this one does
    nothing unless the session is still signed in (a role change ends sessions too)."""
    @functools.wraps(fn)
    def call(*args: P.args, **kwargs: P.kwargs) -> None:
        if signed_in_as() is not None:
            fn(*args, **kwargs)

    return call


def authed_dialog(
    title: str, *, width: Literal["small", "medium", "large"] = "small", **options: Any,
) -> Callable[[Callable[P, Any]], Callable[P, None]]:
    """``st.dialog(title, ...)`` whose every run checks the session."""
    def decorate(f: Callable[P, Any]) -> Callable[P, None]:
        return _capturing(f, st.dialog(title, width=width, **options)(_guarded(f)))

    return decorate
