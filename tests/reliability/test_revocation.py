"""Revocation (issue 12, security finding 1): a revoked session gets nothing from a fragment.

One real ``streamlit run`` server; every session is the websocket client of
``_wsclient.py``, so a click inside a dialog or a poll of the Queue is exactly the one
fragment rerun a browser sends. For every fragment and dialog of the app (the gallery image
dialog's share, favourite, rating and "More like this"; the Queue's live refresh; the
Generate job cards' cancel and retry; the Compare grid's winner, rating and retry; the
Styles library's "Draw preview") a victim opens it while signed in, the session is then
revoked (sign-out everywhere from a second tab, or an admin's password reset, disable or
role change; all four for the share toggle), and the victim's tab sends the action. It must
draw nothing of the fragment, land on the sign-in form, and, read from the database once the
server has stopped, have changed nothing.

Everything runs against one server (the module fixture) and each case is then its own test;
the summary prints a ``revocation`` table.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.browser import harness
from tests.reliability import report
from tests.reliability._wsclient import ProtocolError, Render, Session

PASSWORD = "revocation test password"
NEW_PASSWORD = "a fresh password 123"
WAYS = ("sign out everywhere", "password reset", "disable", "role change")
NEW_ROLE = {"admin": "member", "member": "analyst", "analyst": "member"}
SETTLE_TRIES = 40  # runs (0.25 s apart) for a cancelled job's card to show "Retry"


@dataclass
class Case:
    """One fragment action, the role it needs, and how its victim's session is revoked."""

    action: str
    way: str
    role: str
    victim: str = ""
    seeded: dict[str, str] = field(default_factory=dict)  # ids made before the server ran

    @property
    def id(self) -> str:
        return f"{self.action} after {self.way}"


CASES = [
    *(Case("share from the image dialog", way, "admin") for way in WAYS),
    Case("favourite from the image dialog", "disable", "member"),
    Case("rate from the image dialog", "sign out everywhere", "member"),
    Case("More like this from the image dialog", "password reset", "member"),
    Case("Queue live refresh", "role change", "analyst"),
    Case("cancel from a job card", "disable", "member"),
    Case("retry from a job card", "sign out everywhere", "member"),
    Case("pick a Compare winner", "password reset", "member"),
    Case("rate in the Compare grid", "role change", "member"),
    Case("retry a Compare cell", "disable", "member"),
    Case("draw a style preview", "sign out everywhere", "member"),
]
for _n, _case in enumerate(CASES):
    _case.victim = f"victim{_n:02d}"


# --------------------------------------------------------------------------- seeding


def _seed(data_dir: Path) -> dict[str, str]:
    """Accounts, alice's images, the victims' comparisons and jobs; before the server opens
    the file. Returns ids every case shares."""
    from lib import jobs
    from lib.auth import accounts as auth
    from lib.compare import grid as cmp
    from lib.compare import store
    from lib.core.clock import utcnow
    from lib.engine import Engine
    from lib.gallery import queries as gallery
    from tests.helpers import run_next

    rounds, auth.BCRYPT_ROUNDS = auth.BCRYPT_ROUNDS, 4
    eng = Engine()
    try:
        def finish() -> None:
            while run_next(eng) is not None:
                pass

        for name, role in (("root", "admin"), ("alice", "member"),
                           *((c.victim, c.role) for c in CASES)):
            auth.create_user(eng.db, name, name.title(), None, role, PASSWORD, now=utcnow())
        alice = gallery.Viewer("alice", "member")
        for case in CASES:  # one private image per share victim: each case is judged alone
            if case.action.startswith("share"):
                case.seeded["private job"] = jobs.submit(eng, "alice", jobs.JobSpec(
                    f"ALICE PRIVATE fox for {case.victim}", width=512, height=512))
        shared = jobs.submit(eng, "alice", jobs.JobSpec("alice shared owl", width=512,
                                                        height=512))
        for case in CASES:
            if "Compare" in case.action:
                viewer = gallery.Viewer(case.victim, case.role)
                cid = store.start(eng, viewer, cmp.Grid(rows=("a lighthouse",), columns=(
                    cmp.Column(seed=11), cmp.Column(seed=12))), f"{case.victim}'s grid")
                case.seeded["comparison"] = cid
                if "retry" in case.action:  # a cancelled cell, so "Retry" is offered
                    first = eng.db.scalar("SELECT job_id FROM comparison_cells WHERE "
                                          "comparison_id = ? AND col_idx = 0", [cid])
                    jobs.cancel(eng, first, case.victim)
                    case.seeded["cell_job"] = first
        finish()
        ids = {"shared": _image(eng, shared)}
        for case in CASES:
            if "private job" in case.seeded:
                case.seeded["image"] = _image(eng, case.seeded["private job"])
        gallery.set_shared(eng.db, alice, [ids["shared"]], True)
        for case in CASES:
            if "Compare" in case.action:
                case.seeded["image"] = str(eng.db.scalar(
                    "SELECT i.id FROM images i JOIN comparison_cells c ON c.job_id = i.job_id "
                    "WHERE c.comparison_id = ? AND c.col_idx = 1", [case.seeded["comparison"]]))
        # Queued last, never run here: on the server one worker takes one of them and the
        # sandbox's long latency keeps it running, so the Queue and the job cards stay live.
        jobs.submit(eng, "alice", jobs.JobSpec("alice slow job", width=512, height=512))
        for case in CASES:
            if "job card" in case.action:
                case.seeded["job"] = jobs.submit(eng, case.victim, jobs.JobSpec(
                    f"{case.victim}'s job", width=512, height=512))
        return ids
    finally:
        auth.BCRYPT_ROUNDS = rounds
        eng.close()


def _image(eng: Any, job_id: str) -> str:
    return str(eng.db.scalar("SELECT id FROM images WHERE job_id = ?", [job_id]))


# --------------------------------------------------------------------------- sessions


def _sign_in(base_url: str, username: str) -> Session:
    sess = Session(base_url, username)
    sess.open(action="sign-in form")
    sess.set("auth_login_username", string_value=username)
    sess.set("auth_login_password", string_value=PASSWORD)
    render = sess.click("Sign in", action="sign in")
    if "auth_sign_out" not in sess.widgets:
        raise ProtocolError(f"{username} is not signed in: {render.errors or render.texts[:3]}")
    return sess


def _want(sess: Session, render: Render, *keys: str) -> Render:
    missing = [k for k in keys if k not in sess.widgets]
    if render.exceptions or missing:
        raise ProtocolError(f"{sess.name} on {sess.page}: missing {missing}, exceptions "
                            f"{render.exceptions}, errors {render.errors}")
    return render


def _key(sess: Session, prefix: str) -> str:
    found = sorted(k for k in sess.widgets if k.startswith(prefix))
    if not found:
        raise ProtocolError(f"{sess.name}: no widget {prefix}…; have {sorted(sess.widgets)}")
    return found[0]


def _open_image(sess: Session, image_id: str, *keys: str) -> Render:
    _want(sess, sess.open("gallery"), "gal_grid")
    return _want(sess, sess.click_tile("gal_grid", "open", image_id, action="open image"),
                 *keys)


def _open_comparison(sess: Session) -> Render:
    _want(sess, sess.open("compare"), "cmp_open")
    return _want(sess, sess.click("cmp_open", action="open comparison"), "cmp_back")


def _retry_offered(sess: Session, job_id: str) -> Render:
    """Cancel my job from its card while still signed in, until its card offers Retry."""
    render = _want(sess, sess.open("generate"), f"jl-cancel-{job_id}")
    render = sess.click(f"jl-cancel-{job_id}", action="cancel (signed in)")
    for _ in range(SETTLE_TRIES):
        if f"retry-{job_id}" in sess.widgets:
            return render
        time.sleep(0.25)
        render = sess.poll() or sess.rerun()
    raise ProtocolError(f"{sess.name}: job {job_id} never offered Retry")


# What each case does with its victim's tab: (set up while signed in, the attack afterwards).
Setup = Callable[[Session, Case, dict[str, str]], Render]
Attack = Callable[[Session, Case, dict[str, str]], Render]
ACTIONS: dict[str, tuple[Setup, Attack, str]] = {
    # action: (open it, do it, a text the fragment shows while signed in)
    "share from the image dialog": (
        lambda s, c, ids: _open_image(s, c.seeded["image"], "dlg-share"),
        lambda s, c, ids: s.change("dlg-share", bool_value=True, action="share"),
        "ALICE PRIVATE fox"),
    "favourite from the image dialog": (
        lambda s, c, ids: _open_image(s, ids["shared"], "dlg-fav"),
        lambda s, c, ids: s.change("dlg-fav", bool_value=True, action="favourite"),
        "alice shared owl"),
    "rate from the image dialog": (
        lambda s, c, ids: _open_image(s, ids["shared"], "dlg-rating"),
        lambda s, c, ids: s.change("dlg-rating", string_value="4", action="rate"),
        "alice shared owl"),
    "More like this from the image dialog": (
        lambda s, c, ids: _open_image(s, ids["shared"], "dlg-more"),
        lambda s, c, ids: s.click("dlg-more", action="more like this"),
        "alice shared owl"),
    "Queue live refresh": (
        lambda s, c, ids: _want(s, s.open("queue")),
        lambda s, c, ids: s.poll() or s.rerun(),
        "alice slow job"),
    "cancel from a job card": (
        lambda s, c, ids: _want(s, s.open("generate"), f"jl-cancel-{c.seeded['job']}"),
        lambda s, c, ids: s.click(f"jl-cancel-{c.seeded['job']}", action="cancel"),
        ""),  # the victim's own job: see _marker
    "retry from a job card": (
        lambda s, c, ids: _retry_offered(s, c.seeded["job"]),
        lambda s, c, ids: s.click(f"retry-{c.seeded['job']}", action="retry"),
        ""),
    "pick a Compare winner": (
        lambda s, c, ids: _open_comparison(s),
        lambda s, c, ids: s.click(_key(s, "cmp_pick_"), action="winner"),
        "a lighthouse"),
    "rate in the Compare grid": (
        lambda s, c, ids: _open_comparison(s),
        lambda s, c, ids: s.change(f"cmp_rate_{c.seeded['image']}", string_value="4",
                                   action="rate cell"),
        "a lighthouse"),
    "retry a Compare cell": (
        lambda s, c, ids: _open_comparison(s),
        lambda s, c, ids: s.click(_key(s, "cmp_retry_"), action="retry cell"),
        "a lighthouse"),
    "draw a style preview": (
        lambda s, c, ids: _want(s, s.open("styles")),
        lambda s, c, ids: s.click(_key(s, "lib_pv_"), action="draw preview"),
        "Realistic"),
}


def _marker(case: Case) -> str:
    if "job card" in case.action:
        return f"{case.victim}'s job"
    return ACTIONS[case.action][2]


# --------------------------------------------------------------------------- revoking


class Admin:
    """root's tab on Admin → Users."""

    def __init__(self, base_url: str) -> None:
        self.sess = _sign_in(base_url, "root")
        _want(self.sess, self.sess.open("admin"), "admin_target")

    def revoke(self, case: Case) -> None:
        s = self.sess
        s.set("admin_target", string_value=f"{case.victim} · {case.victim.title()} · "
                                           f"{case.role}")
        _want(s, s.rerun(action="pick user"), f"ar_{case.victim}")
        if case.way == "password reset":
            s.set(_key(s, f"apw_{case.victim}_"), string_value=NEW_PASSWORD)
            render, said = s.click("admin_set_pw"), f"New password set for {case.victim}"
        elif case.way == "disable":
            render, said = s.click("admin_toggle"), f"Disabled {case.victim}."
        else:
            s.set(f"ar_{case.victim}", string_value=NEW_ROLE[case.role])
            render, said = s.click("admin_set_role"), f"{case.victim} is now"
        if not any(said in t for t in render.texts):
            raise ProtocolError(f"{case.way} of {case.victim} not confirmed: "
                                f"{render.errors or render.texts[:5]}")


def _sign_out_everywhere(base_url: str, case: Case) -> None:
    """The victim signs out in another tab: every session of theirs ends."""
    other = _sign_in(base_url, case.victim)
    try:
        other.click("auth_sign_out", action="sign out")
        if "auth_login_username" not in other.widgets:
            raise ProtocolError(f"{case.victim}'s sign-out did not show the sign-in form")
    finally:
        other.close()


# --------------------------------------------------------------------------- the run


@dataclass
class Outcome:
    """What a case's revoked tab got, and what the database says afterwards."""

    seen_before: bool  # the fragment showed its marker while signed in
    render: Render
    widgets: set[str]
    problems: list[str] = field(default_factory=list)  # database changes


def _db_problems(db: Any, case: Case) -> list[str]:
    """Anything the victim's attack changed; [] when nothing did."""
    v = case.victim
    mine = int(db.scalar("SELECT count(*) FROM jobs WHERE user_id = ?", [v]))
    checks = {
        "alice's private image is shared": case.action.startswith("share") and bool(db.scalar(
            "SELECT shared FROM images WHERE id = ?", [case.seeded["image"]])),
        "a favourite was stored": bool(db.scalar(
            "SELECT count(*) FROM favourites WHERE user_id = ?", [v])),
        "a rating was stored": bool(db.scalar(
            "SELECT count(*) FROM image_ratings WHERE user_id = ?", [v])),
        "a winner was stored": bool(db.scalar(
            "SELECT count(*) FROM comparison_winners w JOIN comparisons c "
            "ON c.id = w.comparison_id WHERE c.owner = ?", [v])),
        "jobs were queued": mine != {"cancel from a job card": 1, "retry from a job card": 1,
                                     "pick a Compare winner": 2, "rate in the Compare grid": 2,
                                     "retry a Compare cell": 2}.get(case.action, 0),
    }
    if "job" in case.seeded and case.action.startswith("cancel"):
        status, asked = db.fetchone("SELECT status, cancel_requested FROM jobs WHERE id = ?",
                                    [case.seeded["job"]]) or ("missing", True)
        checks["the job was cancelled"] = status == "cancelled" or bool(asked)
    if "cell_job" in case.seeded:
        checks["the cell points at a new job"] = db.scalar(
            "SELECT job_id FROM comparison_cells WHERE comparison_id = ? AND col_idx = 0",
            [case.seeded["comparison"]]) != case.seeded["cell_job"]
    return [what for what, happened in checks.items() if happened]


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Outcome]]:
    work = tmp_path_factory.mktemp("revocation")
    data = work / "data"
    data.mkdir()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PROMPTBOARD_DATA_DIR", str(data))
        mp.setenv("PROMPTBOARD_STORAGE", "local")
        mp.setenv("PROMPTBOARD_SANDBOX_LATENCY", "0")
        ids = _seed(data)
    env = harness.clean_env(data, PROMPTBOARD_SANDBOX_LATENCY="600", PROMPTBOARD_WORKERS="1")
    server = harness.AppServer("revocation", data, work / "server.log", env=env).start()
    tabs: dict[str, Session] = {}
    seen: dict[str, bool] = {}
    found: dict[str, Outcome] = {}
    try:
        for case in CASES:  # every victim opens their fragment while signed in
            tabs[case.id] = _sign_in(server.base_url, case.victim)
            opened = ACTIONS[case.action][0](tabs[case.id], case, ids)
            seen[case.id] = _marker(case) in opened.text() or not _marker(case)
        admin = Admin(server.base_url)
        for case in CASES:  # then every session is ended
            if case.way == "sign out everywhere":
                _sign_out_everywhere(server.base_url, case)
            else:
                admin.revoke(case)
        for case in CASES:  # and each stale tab tries its action
            tab = tabs[case.id]
            render = ACTIONS[case.action][1](tab, case, ids)
            found[case.id] = Outcome(seen[case.id], render, set(tab.widgets))
    finally:
        for tab in tabs.values():
            tab.close()
        server.stop()
    from lib.db.database import Database

    db = Database(data / "promptboard.duckdb", migrate=False)
    try:
        for case in CASES:
            if case.id in found:
                found[case.id].problems = _db_problems(db, case)
    finally:
        db.close()
    yield found


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_a_revoked_session_can_do_nothing_from_a_fragment_or_dialog(
        outcomes: dict[str, Outcome], case: Case) -> None:
    got = outcomes[case.id]
    shown = _marker(case) and _marker(case) in got.render.text()
    signed_out = "auth_login_username" in got.widgets and "auth_sign_out" not in got.widgets
    report.row("revocation", action=case.action, way=case.way, role=case.role,
               sent_to_sign_in=signed_out, fragment_drawn=bool(shown),
               db_changes=", ".join(got.problems) or "none")
    assert got.seen_before, f"{case.victim} never saw the fragment while signed in"
    assert not got.render.exceptions, got.render.exceptions
    assert not got.problems, f"the revoked session changed the database: {got.problems}"
    assert not shown, f"the revoked session was shown the fragment: {got.render.texts[:8]}"
    assert signed_out, f"the revoked session was not sent to sign in: {sorted(got.widgets)}"
