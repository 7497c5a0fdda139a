"""A burst of guesses sent at once gets no more tries than guesses sent one by one.

The security review (finding 3) signed in with forty wrong passwords and the right one sent
together: each attempt read the account before bcrypt and decided from that stale row. Now the
attempt is counted (and the fifth sets the lock) before bcrypt. Threads against ``lib.auth``
hold every wrong guess inside bcrypt until the right one has been answered: the worst case,
made deterministic; a second burst is released all at once. The last test repeats the review's
attack on a real ``streamlit run`` server through the websocket protocol.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import pytest

from lib.auth import accounts as auth
from lib.auth import lockout
from lib.core.clock import FakeClock
from lib.engine import Engine
from tests.browser import harness as h
from tests.helpers import TEST_PASSWORD
from tests.reliability import report
from tests.reliability._wsclient import RUN_TIMEOUT, Render, Session

GUESSES = 40
WAIT_S = 60.0  # a bound for a stuck thread, never reached when the code is right


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 11, 2, 9, 0))


@pytest.fixture
def engine(clock: FakeClock, fast_bcrypt: None) -> Iterator[Engine]:
    eng = Engine(clock=clock)
    auth.create_user(eng.db, "bob", "Bob", None, "member", TEST_PASSWORD, now=clock.now())
    yield eng
    eng.close()


class Judge:
    """Wraps ``auth._check``: counts checks against a real hash and can hold wrong guesses."""

    def __init__(self, real: Callable[[str, bytes], bool]) -> None:
        self._real = real
        self.entered = 0
        self.judged = 0  # checks against bob's real hash: the guesses that were tried
        self.wrong_judged = 0
        self.release = threading.Event()
        self.hold_wrong = False
        self._lock = threading.Lock()

    def __call__(self, password: str, hashed: bytes) -> bool:
        with self._lock:
            self.entered += 1
            if hashed != auth._DUMMY_HASH:
                self.judged += 1
                self.wrong_judged += password != TEST_PASSWORD
        if self.hold_wrong and password != TEST_PASSWORD:
            assert self.release.wait(WAIT_S), "the held guesses were never released"
        return self._real(password, hashed)


@pytest.fixture
def judge(monkeypatch: pytest.MonkeyPatch) -> Judge:
    wrapped = Judge(auth._check)
    monkeypatch.setattr(auth, "_check", wrapped)
    return wrapped


def _burst(engine: Engine, clock: FakeClock, passwords: list[str],
           results: dict[int, auth.User | None],
           gate: threading.Barrier | None = None) -> list[threading.Thread]:
    def attempt(i: int, password: str) -> None:
        if gate is not None:
            gate.wait(WAIT_S)
        results[i] = auth.authenticate(engine.db, "bob", password, clock.now())

    return [threading.Thread(target=attempt, args=(i, p), daemon=True)
            for i, p in enumerate(passwords)]


def test_forty_wrong_guesses_in_bcrypt_at_once_lock_out_the_right_password(
    engine: Engine, clock: FakeClock, judge: Judge
) -> None:
    judge.hold_wrong = True
    results: dict[int, auth.User | None] = {}
    wrong = _burst(engine, clock, [f"wrong-guess-{i:04d}" for i in range(GUESSES)], results)
    for t in wrong:
        t.start()
    for _ in range(int(WAIT_S * 100)):  # every guess has been read and is inside bcrypt
        if judge.entered == GUESSES:
            break
        threading.Event().wait(0.01)
    assert judge.entered == GUESSES
    right = auth.authenticate(engine.db, "bob", TEST_PASSWORD, clock.now())
    judge.release.set()
    for t in wrong:
        t.join(WAIT_S)
    bob = auth.get_user(engine.db, "bob")
    report.figures("lockout_race", held_guesses=GUESSES, judged_against_hash=judge.judged,
                   right_password_signed_in=right is not None)
    assert right is None
    assert not any(results.values())
    assert judge.judged == auth.MAX_FAILED_LOGINS  # five guesses, not forty
    assert bob is not None and bob.is_locked(clock.now())
    assert bob.failed_logins == auth.MAX_FAILED_LOGINS


def test_a_burst_released_at_once_gets_no_more_wrong_guesses_than_one_by_one(
    engine: Engine, clock: FakeClock, judge: Judge
) -> None:
    results: dict[int, auth.User | None] = {}
    gate = threading.Barrier(GUESSES + 1)  # all start together
    threads = _burst(engine, clock, [*(f"wrong-{i}" for i in range(GUESSES)), TEST_PASSWORD],
                     results, gate)
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT_S)
    signed_in = results[GUESSES] is not None
    report.row("lockout_race", burst=GUESSES + 1, judged_against_hash=judge.judged,
               wrong_judged=judge.wrong_judged, right_password_signed_in=signed_in)
    assert len(results) == GUESSES + 1
    bob = auth.get_user(engine.db, "bob")
    assert bob is not None
    if signed_in:
        # The right password was among the first five tries: it forgave at most the four
        # counted before it, never those after it, so the guesser got at most four more.
        assert judge.wrong_judged <= 2 * auth.MAX_FAILED_LOGINS - 1
    else:
        assert judge.wrong_judged <= auth.MAX_FAILED_LOGINS
        assert bob.is_locked(clock.now())


def test_a_right_password_forgives_only_the_failures_counted_before_it(
    engine: Engine, clock: FakeClock
) -> None:
    for _ in range(2):
        auth.authenticate(engine.db, "bob", "wrong", clock.now())
    hashed, seen = lockout.reserve_attempt(engine.db, "bob", clock.now()) or ("", 0)
    auth.authenticate(engine.db, "bob", "wrong while bcrypt ran", clock.now())
    assert lockout.settle_success(engine.db, "bob", hashed, seen, clock.now())
    bob = auth.get_user(engine.db, "bob")
    assert bob is not None and bob.failed_logins == 1 and bob.locked_until is None


def test_a_password_changed_while_bcrypt_ran_refuses_the_old_one(
    engine: Engine, clock: FakeClock
) -> None:
    hashed, seen = lockout.reserve_attempt(engine.db, "bob", clock.now()) or ("", 0)
    auth.set_password(engine.db, "bob", "a brand new secret", now=clock.now())
    assert not lockout.settle_success(engine.db, "bob", hashed, seen, clock.now())


def test_four_wrong_then_the_right_password_still_signs_in(
    engine: Engine, clock: FakeClock
) -> None:
    for _ in range(auth.MAX_FAILED_LOGINS - 1):
        assert auth.authenticate(engine.db, "bob", "wrong", clock.now()) is None
    assert auth.authenticate(engine.db, "bob", TEST_PASSWORD, clock.now()) is not None
    bob = auth.get_user(engine.db, "bob")
    assert bob is not None and bob.failed_logins == 0 and bob.locked_until is None


def test_forty_wrong_passwords_and_the_right_one_over_the_websocket_do_not_sign_in(
    tmp_path: Path,
) -> None:
    """The review's attack on a real server: 40 tabs send wrong passwords at once; the right
    one follows while the others are still in bcrypt (as soon as the first has been answered)."""
    server = h.start_server("lockout-race", tmp_path / "server",
                            PROMPTBOARD_ADMIN_USER=h.ADMIN_USER,
                            PROMPTBOARD_ADMIN_PASSWORD=h.ADMIN_PASSWORD)
    tabs: list[Session] = []
    answers: list[Render] = []
    answered = threading.Condition()
    try:
        for i in range(GUESSES + 1):
            tab = Session(server.base_url, f"guess{i:02d}")
            tabs.append(tab)
            tab.open()
            tab.set("auth_login_username", string_value=h.ADMIN_USER)
            tab.set("auth_login_password",
                    string_value=h.ADMIN_PASSWORD if i == GUESSES else f"wrong-guess-{i:04d}")

        def guess(tab: Session) -> None:
            render = tab.click("Sign in")
            with answered:
                answers.append(render)
                answered.notify_all()

        threads = [threading.Thread(target=guess, args=(t,), daemon=True) for t in tabs[:-1]]
        for t in threads:
            t.start()
        with answered:
            assert answered.wait_for(lambda: len(answers) >= 1, RUN_TIMEOUT)
            before_right = len(answers)
        right = tabs[-1].click("Sign in")
        for t in threads:
            t.join(RUN_TIMEOUT)
    finally:
        for tab in tabs:
            tab.close()
        server.stop()
    report.figures("lockout_race_server", wrong_guesses=GUESSES,
                   answered_before_the_right_one=before_right,
                   right_password_signed_in="Signed in as" in right.text())
    assert len(answers) == GUESSES
    assert not any("Signed in as" in r.text() for r in [*answers, right])
    assert right.errors == [auth.LOGIN_FAILED_MESSAGE]
