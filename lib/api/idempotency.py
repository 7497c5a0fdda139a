"""``Idempotency-Key`` on API writes: a repeat gets the first answer, not a second job.

Following the IETF draft (draft-ietf-httpapi-idempotency-key-header): the key is the
client's (a UUID, say; quoted as an sf-string or bare), kept per *user* so nobody can read
another's answer, for :data:`KEEP`. The request's fingerprint (method, path, body, files)
is kept with it:

- first time: the write runs; its answer, success or refusal, is kept and sent;
- the same key and request again: the kept answer, marked ``Idempotent-Replayed: true``;
- while the first is still running: ``409 Conflict`` (try again in a moment);
- the same key with a different request: ``422`` (a key names one request).

A 5xx answer is not kept (the write did not happen, so a retry should run it). A first call
killed mid-way leaves a "running" row that a repeat may take over after :data:`STALE`, and
runs the write again. So what a write queues carries :func:`request_key` as its client token
(``jobs.submit`` answers a token it has seen within ``jobs.REQUEST_KEY_WINDOW_S``, as long
as :data:`KEEP`, with the job it queued): a process killed after the INSERT and before the
answer was kept does not make the repeat queue the jobs twice.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from pydantic import BaseModel
from starlette.responses import Response

from lib.api.errors import ApiError
from lib.core.context import Services
from lib.jobs.model import REQUEST_KEY_WINDOW_S

KEEP = timedelta(seconds=REQUEST_KEY_WINDOW_S)
STALE = timedelta(minutes=10)  # a "running" row older than this was left by a killed process
MAX_KEY = 255


def clean_key(raw: str) -> str:
    """The key without its sf-string quotes; 400 if empty, too long or not printable ASCII."""
    key = raw.strip()
    if len(key) >= 2 and key[0] == key[-1] == '"':
        key = key[1:-1]
    if not key or len(key) > MAX_KEY or not all(32 < ord(c) < 127 for c in key):
        raise ApiError(400, "bad_idempotency_key", "Idempotency-Key must be 1 to 255 printable "
                       'characters without spaces, e.g. "8e03978e-40d5-43e8-bc93-6894a57f9324".')
    return key


def fingerprint(op: str, path: dict[str, str], body: BaseModel | None,
                files: dict[str, bytes]) -> str:
    """What the request asks for, as a digest (the validated body, so key order doesn't count)."""
    parts: dict[str, Any] = {"op": op, "path": path,
                             "body": body.model_dump(mode="json") if body is not None else None,
                             "files": {k: hashlib.sha256(v).hexdigest() for k, v in files.items()}}
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def request_key(username: str, raw_key: str, digest: str) -> str:
    """The client token of the jobs this (user, key, request) queues: the same for a repeat,
    another for anyone else's key or another request under the same key."""
    raw = f"{username}\0{clean_key(raw_key)}\0{digest}"
    return "idem-" + hashlib.sha256(raw.encode()).hexdigest()[:32]


def once(svc: Services, username: str, raw_key: str, digest: str,
         produce: Callable[[], Response]) -> Response:
    """Run ``produce`` once per (user, key); see the module's rules."""
    key = clean_key(raw_key)
    now = svc.clock.now()
    with svc.db.write() as cur:
        cur.execute("DELETE FROM api_idempotency WHERE created_at < ?", [now - KEEP])
        row = cur.execute("SELECT fingerprint, state, status, body, content_type, created_at "
                          "FROM api_idempotency WHERE username = ? AND idem_key = ?",
                          [username, key]).fetchone()
        if row is not None:
            kept, state, status, body, ctype, created = row
            if kept != digest:
                raise ApiError(422, "idempotency_key_reused", "This Idempotency-Key was used "
                               "for a different request. Use a new key for a new request.")
            if state == "done":
                return Response(bytes(body), status_code=int(status), media_type=ctype,
                                headers={"Idempotent-Replayed": "true",
                                         "Cache-Control": "no-store"})
            if now - created < STALE:
                raise ApiError(409, "in_progress", "A request with this Idempotency-Key is "
                               "still being answered. Try again in a moment.",
                               headers={"Retry-After": "1"})
            cur.execute("DELETE FROM api_idempotency WHERE username = ? AND idem_key = ?",
                        [username, key])
        cur.execute("INSERT INTO api_idempotency (username, idem_key, fingerprint, state, "
                    "created_at) VALUES (?, ?, ?, 'running', ?)", [username, key, digest, now])
    try:
        response = produce()
    except BaseException:
        _forget(svc, username, key)
        raise
    if response.status_code >= 500:
        _forget(svc, username, key)
        return response
    with svc.db.write() as cur:
        cur.execute("UPDATE api_idempotency SET state = 'done', status = ?, body = ?, "
                    "content_type = ? WHERE username = ? AND idem_key = ?",
                    [response.status_code, bytes(response.body), response.media_type,
                     username, key])
    return response


def _forget(svc: Services, username: str, key: str) -> None:
    with svc.db.write() as cur:
        cur.execute("DELETE FROM api_idempotency WHERE username = ? AND idem_key = ?",
                    [username, key])
