"""The first admin from the environment: PROMPTBOARD_ADMIN_USER and PROMPTBOARD_ADMIN_PASSWORD
make an admin account when there is none yet (a headless install)."""

from __future__ import annotations

import logging
import os
from datetime import datetime

from lib.auth import accounts
from lib.db.database import Database

log = logging.getLogger(__name__)


def bootstrap_admin_from_env(db: Database, now: datetime) -> accounts.User | None:
    """Create PROMPTBOARD_ADMIN_USER as admin when there are no users yet; else do nothing."""
    username = os.environ.get("PROMPTBOARD_ADMIN_USER", "").strip()
    password = os.environ.get("PROMPTBOARD_ADMIN_PASSWORD", "")
    if bool(username) != bool(password):
        log.warning("set both PROMPTBOARD_ADMIN_USER and PROMPTBOARD_ADMIN_PASSWORD, or neither")
    if not (username and password) or not accounts.needs_first_admin(db):
        return None
    try:
        return accounts.create_user(db, username, username, None, "admin", password,
                                    now=now, only_if_empty=True)
    except accounts.AuthError as exc:
        if not accounts.needs_first_admin(db):
            return None  # another thread got there first
        raise accounts.AuthError(
            f"PROMPTBOARD_ADMIN_USER/PROMPTBOARD_ADMIN_PASSWORD: {exc}") from exc
