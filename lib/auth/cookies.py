"""The re-login cookie: the key that signs it, and reading it back outside a page run.

The key is PROMPTBOARD_COOKIE_KEY, or one generated once.

Whoever holds the key can forge a cookie for any user, so a generated key is written to
``<data_dir>/cookie_key`` with mode 0600 (a looser file is tightened, and a key file that is
not ours is refused). Changing the key signs everyone out. Errors: ``AuthError`` (a key too
short to use), its message shown as is.

streamlit-authenticator writes the cookie (``COOKIE_NAME``) as an HS256 JWT of
``{username, exp_date}`` only, ``exp_date`` being naive *local* time plus
``COOKIE_EXPIRY_DAYS``; :func:`issued_at` undoes that, and :func:`cookie_user` checks a raw
cookie the way the pages do (signature, expiry, then the session rules: not signed out
everywhere, not disabled, no password or role change since). The HTTP routes use it, so an
image URL works in the signed-in browser and nowhere else.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt

from lib.auth import accounts
from lib.auth.accounts import AuthError, User
from lib.core.config import Settings
from lib.db.database import Database

log = logging.getLogger(__name__)

MIN_COOKIE_KEY_LENGTH = 32
COOKIE_NAME = "promptboard_auth"
COOKIE_EXPIRY_DAYS = 7


def cookie_key(settings: Settings) -> str:
    """PROMPTBOARD_COOKIE_KEY, or a key generated once into <data_dir>/cookie_key (mode 0600)."""
    from_env = os.environ.get("PROMPTBOARD_COOKIE_KEY", "").strip()
    if from_env:
        if len(from_env) < MIN_COOKIE_KEY_LENGTH:
            raise AuthError("PROMPTBOARD_COOKIE_KEY is too short: use at least "
                            f"{MIN_COOKIE_KEY_LENGTH} random characters.")
        return from_env
    path = settings.data_dir / "cookie_key"
    if not path.exists():
        _create_key_file(path)
    if (mode := stat.S_IMODE(path.stat().st_mode)) & 0o077:
        log.warning("%s was readable by others (mode %o): setting it to 0600", path, mode)
        os.chmod(path, 0o600)  # raises PermissionError if the file isn't ours: then we refuse
    key = path.read_text(encoding="utf-8").strip()
    if len(key) < MIN_COOKIE_KEY_LENGTH:
        raise AuthError(f"{path} holds no usable key: delete it to generate a new one "
                        "(everyone will have to sign in again).")
    return key


def _create_key_file(path: Path) -> None:
    """Write a fresh key to a private temp file, then link it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(secrets.token_urlsafe(48) + "\n")
        with contextlib.suppress(FileExistsError):  # another thread won the race: theirs
            os.link(tmp, path)  # atomic: the key file is never seen half-written
    finally:
        tmp.unlink(missing_ok=True)


def issued_at(exp_date: float) -> datetime:
    """When the library issued a cookie (naive UTC), from the expiry it signed into it."""
    # The library adds the days to naive *local* time: undo it the same way, exact across DST.
    issued_local = datetime.fromtimestamp(exp_date) - timedelta(days=COOKIE_EXPIRY_DAYS)
    return issued_local.astimezone(UTC).replace(tzinfo=None)


def cookie_user(db: Database, key: str, raw: str, now_ts: float) -> tuple[User, datetime] | None:
    """The signed-in user and session start a raw cookie stands for, or None for any failure.

    ``now_ts`` is the wall clock (the library signs local wall-clock expiries)."""
    try:
        claims = jwt.decode(raw, key, algorithms=["HS256"])  # refuses "alg": "none" and bad MACs
        username, exp = str(claims["username"]), float(claims["exp_date"])
        issued = issued_at(exp)
    except (jwt.PyJWTError, KeyError, TypeError, ValueError, OverflowError, OSError):
        return None
    if exp <= now_ts or not accounts.session_valid(db, username, issued):
        return None
    user = accounts.get_user(db, username)
    return None if user is None else (user, issued)
