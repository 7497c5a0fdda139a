"""Image links for the signed-in browser: a URL signed for one session, one path, an hour or two.

The dashboard's ``<img>`` tags load thumbnails from the API's file routes. The sign-in cookie
cannot carry them: streamlit-authenticator writes it from a component *after* the first run
of a session (images drawn before would fail), and an identity-provider session has none. So
each URL carries ``u`` (user), ``s`` (when the session began, in microseconds since 1970),
``e`` (expiry, on the hour so a rerun draws the same URL and the browser's cache answers) and
``sig``, an HMAC-SHA256 over all of that and the path (its first 128 bits), keyed from the
cookie key. The route checks the signature *and* the
session rules on every request, so signing out, "sign out everywhere", a disable or a role
change stops every link at once; a link copied out of the page works for nobody once its
session ends, and never for another image.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from collections.abc import Mapping
from datetime import datetime, timedelta
from urllib.parse import urlencode

from lib.auth import accounts
from lib.auth.accounts import User
from lib.db.database import Database

PARAMS = ("u", "s", "e", "sig")
HOUR = 3600
EPOCH = datetime(1970, 1, 1)
MICRO = timedelta(microseconds=1)
SIG_HEX = 32  # 128 bits of the HMAC: a link travels 24 times in each gallery run


def _key(cookie_key: str) -> bytes:
    return hmac.new(cookie_key.encode(), b"promptboard image links v1", hashlib.sha256).digest()


def _mac(cookie_key: str, path: str, username: str, issued: str, expires: str) -> str:
    msg = "\n".join((path, username, issued, expires)).encode()
    return hmac.new(_key(cookie_key), msg, hashlib.sha256).hexdigest()[:SIG_HEX]


def expiry(now_ts: float) -> int:
    """The end of the next hour: links drawn within an hour are the same URL (cacheable)."""
    return (math.floor(now_ts / HOUR) + 2) * HOUR


def sign(cookie_key: str, path: str, username: str, issued: datetime, now_ts: float) -> str:
    """``path?u=…&s=…&e=…&sig=…`` for this session."""
    stamp, expires = str((issued - EPOCH) // MICRO), str(expiry(now_ts))  # exact, and short
    return path + "?" + urlencode({"u": username, "s": stamp, "e": expires,
                                   "sig": _mac(cookie_key, path, username, stamp, expires)})


def verify(db: Database, cookie_key: str, path: str, params: Mapping[str, str],
           now_ts: float) -> User | None:
    """The user a link was signed for, if it is genuine, unexpired and its session still counts."""
    try:
        username, stamp, expires, sig = (params[p] for p in PARAMS)
        issued, ends = EPOCH + int(stamp) * MICRO, int(expires)
    except (KeyError, ValueError, OverflowError):
        return None
    wanted = _mac(cookie_key, path, username, stamp, expires)
    if not hmac.compare_digest(wanted, sig) or ends <= now_ts:
        return None
    if not accounts.session_valid(db, username, issued):
        return None
    return accounts.get_user(db, username)
