"""Storage clean-up that could not happen at once, kept until it can.

When storage fails part-way (S3 unreachable after an image's original was
written, say), the objects a job stored cannot be deleted at that moment
either. Rather than leave them orphaned, the job's prefix is written to the
``storage_debt`` table and deleted later: at every start-up (``recover``) and
every few minutes by an idle worker. A prefix leaves the table only once its
delete succeeded, so an outage of any length ends with nothing orphaned.
"""

from __future__ import annotations

import logging
from datetime import datetime

from lib.core.context import Services
from lib.db.cursor import Cursor
from lib.storage import keys
from lib.storage.base import StorageError

log = logging.getLogger(__name__)


def owe(svc: Services, prefix: str, reason: str) -> None:
    """Remember that everything under ``prefix`` must be deleted once storage allows."""
    with svc.db.write() as cur:
        owe_in(cur, prefix, reason, svc.clock.now())
    log.warning("storage clean-up of %s postponed: %s", prefix, reason)


def owe_in(cur: Cursor, prefix: str, reason: str, now: datetime) -> None:
    """:func:`owe` inside the caller's write transaction (with the move that makes it owed)."""
    cur.execute(
        "INSERT INTO storage_debt (prefix, reason, since) VALUES (?, ?, ?) "
        "ON CONFLICT (prefix) DO NOTHING",
        [prefix, reason, now],
    )


def settle(svc: Services) -> int:
    """Try the postponed clean-ups of jobs that will not run again; returns how many are
    still owed.

    A queued or running job settles its own prefix before it stores anything
    (:func:`settle_one` from the pipeline), so nothing here can delete images a rerun is
    writing, in this process or another. The first failure means storage is still down:
    the rest waits for the next try.
    """
    owed_now = [r[0] for r in svc.db.fetchall("SELECT prefix FROM storage_debt ORDER BY since")]
    running = {keys.job_prefix(r[0]) for r in svc.db.fetchall(
        "SELECT id FROM jobs WHERE status IN ('queued', 'running')")} if owed_now else set()
    prefixes = [p for p in owed_now if p not in running]
    done = 0
    for prefix in prefixes:
        try:
            settle_one(svc, prefix)
        except StorageError:
            break
        done += 1
    if prefixes:
        log.info("storage clean-up: %d of %d prefix(es) done", done, len(prefixes))
    return len(prefixes) - done


def settle_one(svc: Services, prefix: str) -> None:
    """Delete ``prefix`` if its clean-up is owed; StorageError while storage is still down."""
    if svc.db.scalar("SELECT 1 FROM storage_debt WHERE prefix = ?", [prefix]) is None:
        return
    svc.storage.delete_prefix(prefix)
    with svc.db.write() as cur:
        cur.execute("DELETE FROM storage_debt WHERE prefix = ?", [prefix])


def owed(svc: Services) -> list[str]:
    """Prefixes still waiting to be deleted (for Admin and tests)."""
    return [r[0] for r in svc.db.fetchall("SELECT prefix FROM storage_debt ORDER BY since")]
