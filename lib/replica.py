"""``PROMPTBOARD_REPLICA=1``: this process is one of several dashboards on one database.

Replicas share everything through the database and the image store, so a replica refuses to
start (:class:`ReplicaRefused`, the reason and what to do) when it could not:

- the database is the embedded DuckDB file: one process's alone; set PROMPTBOARD_DATABASE_URL;
- PROMPTBOARD_COOKIE_KEY is unset: each replica would generate its own key, so a sign-in (and
  a signed image link) made by one would be refused by the next;
- the image store is not the one the database's rows point into: each store carries an id
  (``meta/storage-id``, written by the first process that checks), and the database records it
  (table ``meta``); a replica whose store has another id, or none while the database has one,
  has its own local folder, not the shared mount or bucket.
"""

from __future__ import annotations

import secrets

from lib.core.context import Services
from lib.core.errors import PromptboardError

STORAGE_ID_KEY = "meta/storage-id"
META_KEY = "storage_id"


class ReplicaRefused(PromptboardError, RuntimeError):
    """This process may not run as a replica; the message says why and what to do."""


def check(svc: Services, cookie_key: str) -> None:
    """Refuse to run as a replica unless database, cookie key and storage are shared."""
    if svc.db.kind != "postgres":
        raise ReplicaRefused(
            "PROMPTBOARD_REPLICA=1 needs a database every replica reaches: set "
            "PROMPTBOARD_DATABASE_URL=postgresql://… (the embedded DuckDB file is opened by one "
            "process only).")
    if not cookie_key:
        raise ReplicaRefused(
            "PROMPTBOARD_REPLICA=1 needs PROMPTBOARD_COOKIE_KEY set to the same secret on every "
            "replica: otherwise each makes its own key and refuses the others' sign-ins.")
    mine = _storage_id(svc)
    with svc.db.write() as cur:
        row = cur.execute("SELECT value FROM meta WHERE key = ?", [META_KEY]).fetchone()
        if row is None:
            cur.execute("INSERT INTO meta (key, value) VALUES (?, ?)", [META_KEY, mine])
            return
    if row[0] != mine:
        where = (f"the folder {svc.settings.images_dir}" if svc.settings.storage == "local"
                 else svc.settings.storage)
        raise ReplicaRefused(
            f"The image store ({where}) is not the one this database's images are in (its id "
            f"is {mine}, the database's {row[0]}). Every replica must use the same store: "
            "mount the same shared folder at PROMPTBOARD_DATA_DIR/images, or use S3 "
            "(PROMPTBOARD_STORAGE=s3://…).")


def _storage_id(svc: Services) -> str:
    """The store's id, made now if it has none."""
    if svc.storage.exists(STORAGE_ID_KEY):
        return svc.storage.get(STORAGE_ID_KEY).decode().strip()
    made = secrets.token_hex(8)
    svc.storage.put(STORAGE_ID_KEY, made.encode(), "text/plain")
    return made
