"""Counting sign-in attempts, so that guesses sent at once get no more tries than one by one.

``auth.authenticate`` calls :func:`reserve_attempt` *before* bcrypt: in one write transaction
it refuses a locked account (uncounted), counts the attempt, and the attempt that brings the
count to MAX_FAILED_LOGINS sets the lock itself, so every later attempt of a burst is refused
without bcrypt. After bcrypt, :func:`settle_success` lets a right password in only if no later
attempt locked the account meanwhile (nor was it disabled or given a new password), and forgives
only the attempts counted up to its own: a sign-in doesn't reset a guesser's budget.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from lib.db.database import Database

MAX_FAILED_LOGINS = 5
LOCKOUT = timedelta(minutes=5)
LOGIN_FAILED_MESSAGE = "Wrong username or password: check both and try again."
# After this many failures in one browser session: the same words for every account, so it
# tells nobody whether a username exists or is locked.
LOGIN_LOCKED_MESSAGE = (f"Wrong username or password. After {MAX_FAILED_LOGINS} wrong tries in "
                        f"a row an account is locked for {LOCKOUT.seconds // 60} minutes, even "
                        "for the right password: wait, then try again.")


def login_failed_message(failures_this_session: int) -> str:
    """What a failed sign-in says, after this many failures in the same browser session."""
    if failures_this_session >= MAX_FAILED_LOGINS:
        return LOGIN_LOCKED_MESSAGE
    return LOGIN_FAILED_MESSAGE


def reserve_attempt(db: Database, name: str, now: datetime) -> tuple[str, int] | None:
    """Count one attempt in one write transaction: (hash, count after it), or None to refuse.

    Refuses, uncounted, while locked; the attempt that brings the count to MAX_FAILED_LOGINS
    sets the lock itself, so every later attempt of a burst is refused without bcrypt."""
    with db.write() as cur:
        row = cur.execute("SELECT password_hash, disabled, failed_logins, locked_until "
                          "FROM users WHERE username = ?", [name]).fetchone()
        if row is None or row[0] is None or row[1]:
            return None
        hashed, _, failed, locked = row
        if locked is not None and now < locked:
            return None  # locked: even the right password fails, and the attempt isn't counted
        failed = 1 if locked is not None else failed + 1  # a cooled-down lock restarts the count
        until = now + LOCKOUT if failed >= MAX_FAILED_LOGINS else None
        cur.execute("UPDATE users SET failed_logins = ?, locked_until = ? WHERE username = ?",
                    [failed, until, name])
    return str(hashed), failed


def settle_success(db: Database, name: str, hashed: str, seen: int, now: datetime) -> bool:
    """The right password: sign in unless the account changed while bcrypt ran.

    Refused if it became locked by a later attempt, or was disabled or given a new password
    meanwhile. Otherwise this attempt and the failures counted before it are forgiven;
    failures counted after it stay counted (a sign-in doesn't reset a guesser's budget)."""
    with db.write() as cur:
        row = cur.execute("SELECT password_hash, disabled, failed_logins, locked_until "
                          "FROM users WHERE username = ?", [name]).fetchone()
        if row is None or row[0] != hashed or row[1]:
            return False
        failed, locked = int(row[2]), row[3]
        if locked is not None and now < locked and failed != seen:
            return False  # locked by guesses that came after this attempt
        cur.execute("UPDATE users SET failed_logins = ?, locked_until = NULL, last_login_at = ? "
                    "WHERE username = ?", [max(0, failed - seen), now, name])
    return True


def record_sign_in(db: Database, name: str, now: datetime) -> None:
    """Stamp a sign-in that did not go through a password check (the first admin, OIDC)."""
    with db.write() as cur:
        cur.execute("UPDATE users SET last_login_at = ? WHERE username = ?", [now, name])
