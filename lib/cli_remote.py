"""``lib.cli``'s commands over the HTTP API, for when the running server holds the database.

The same arguments and the same output as the local commands (``lib.cli``):

- ``generate`` queues the job with ``POST /api/v1/jobs`` (with an ``Idempotency-Key``, so a
  retried call cannot queue it twice), polls ``GET /api/v1/jobs/{id}`` with backoff until it is
  done, downloads each image into ``--out-dir`` (default ``./promptboard-images``) and prints
  the local command's JSON lines, ``path`` being the file written. The job belongs to the
  token's owner (``--user`` cannot choose another).
- ``report`` asks ``GET /api/v1/report`` with the same options; the server writes it with the
  CLI's own ``reporting.report.write``, so CSV and JSON are byte for byte the local command's,
  for a caller who sees what the local command sees (an admin or analyst token).
- ``work --until-idle`` waits until ``GET /api/v1/jobs?status=queued&status=running`` is empty:
  the server's own workers run the queue. A member's token sees only that member's jobs; an
  admin's (or ``PROMPTBOARD_ADMIN_TOKEN``) sees the whole queue.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
import time
import uuid
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

import pyarrow as pa
import pyarrow.parquet as pq

from lib.apiclient import Client, RemoteError
from lib.jobs.model import SUCCEEDED, TERMINAL
from lib.reporting import report
from lib.storage import keys

EXIT_FAILED, EXIT_USAGE = 1, 2
DEFAULT_OUT_DIR = Path("promptboard-images")
POLL_FIRST, POLL_MAX = 0.25, 2.0  # s: the backoff of polling (under the API's rate limit)
REFUSED = (402, 409, 413, 422)  # statuses of a request refused as the Generate page refuses it
REPORT_MEDIA = {"csv": "text/csv", "json": "application/json",
                "parquet": "application/vnd.apache.parquet"}
IMAGE_TYPES = {"image/png": ".png", "image/webp": ".webp", "image/jpeg": ".jpg",
               "image/gif": ".gif"}


def image_line(*, job_id: str, image_id: str, status: str, provider: str, model: str,
               storage_key: str, width: int, height: int, seed: int | None,
               cost_usd: float | None, duration_ms: int | None,
               path: str | None) -> dict[str, Any]:
    """One line of ``generate``'s output, local or remote (the same keys, in this order)."""
    return {"job_id": job_id, "image_id": image_id, "status": status, "provider": provider,
            "model": model, "storage_key": storage_key, "width": width, "height": height,
            "seed": seed, "cost_usd": cost_usd, "duration_ms": duration_ms, "error": None,
            "path": path}


def failure_line(job_id: str, status: str, error_type: str | None, error: str) -> dict[str, Any]:
    """The one line of a job that did not succeed (or did not finish in time)."""
    return {"job_id": job_id, "status": status, "error_type": error_type, "error": error}


def _job_body(args: argparse.Namespace) -> dict[str, Any]:
    body: dict[str, Any] = {"prompt": args.prompt, "provider": args.provider, "n": args.n,
                            "style": args.style}
    if args.size:
        body["size"] = f"{args.size[0]}x{args.size[1]}"
    for field, value in (("model", args.model), ("aspect_ratio", args.aspect),
                         ("quality", args.quality), ("negative_prompt", args.negative),
                         ("seed", args.seed)):
        if value is not None:
            body[field] = value
    return body


def _money(value: Any) -> float | None:
    return None if value is None else float(Decimal(str(value)))


def generate(client: Client, args: argparse.Namespace, out: IO[str]) -> int:
    """Queue one job on the server, wait for it, download its images, print the lines."""
    if args.user is not None:
        print(f"promptboard: --user is ignored over the API: the job is the token's owner's "
              f"on {client.where}.", file=sys.stderr)
    try:
        accepted = client.post_json("/api/v1/jobs", _job_body(args),
                                    headers={"Idempotency-Key": f"cli-{uuid.uuid4().hex}"})
    except RemoteError as exc:
        if exc.status not in REFUSED:
            raise
        print(json.dumps({"status": "refused", "error": exc.message}), file=out)
        return EXIT_FAILED
    job: dict[str, Any] = accepted["jobs"][0]
    deadline, delay = time.monotonic() + args.timeout, POLL_FIRST
    try:
        while job["status"] not in TERMINAL and time.monotonic() <= deadline:
            time.sleep(delay)
            delay = min(POLL_MAX, delay * 1.5)
            job = client.get_json(f"/api/v1/jobs/{job['id']}")
    except KeyboardInterrupt:
        client.post_json(f"/api/v1/jobs/{job['id']}/cancel")
        print(json.dumps({"job_id": job["id"], "status": "cancelling"}), file=out)
        return 130
    if job["status"] != SUCCEEDED:
        error = job["error_message"] or f"still {job['status']} after {args.timeout:.0f} s"
        print(json.dumps(failure_line(job["id"], job["status"], job["error_type"], error)),
              file=out)
        return EXIT_FAILED
    folder = (args.out_dir or DEFAULT_OUT_DIR).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    for ref in job["images"]:
        img = client.get_json(ref["url"])
        resp = client.request("GET", ref["file_url"], accept=tuple(IMAGE_TYPES))
        kind = resp.headers.get("Content-Type", "").split(";")[0].strip().lower()
        path = folder / f"{img['id']}{IMAGE_TYPES.get(kind, '.png')}"
        path.write_bytes(resp.content)
        line = image_line(
            job_id=job["id"], image_id=img["id"], status=job["status"],
            provider=job["provider"], model=job["model"],
            storage_key=keys.image_keys(job["id"], img["id"])[0],
            width=img["width"], height=img["height"], seed=img["seed"],
            cost_usd=_money(img["cost_usd"]), duration_ms=img["duration_ms"], path=str(path))
        print(json.dumps(line), file=out)
    return 0


def _report_params(args: argparse.Namespace) -> dict[str, Any]:
    params: dict[str, Any] = {
        "from": args.start.isoformat(), "to": args.end.isoformat(), "format": args.fmt,
        "user": args.users, "provider": args.providers, "model": args.models,
        "status": args.statuses, "include_demo": "true" if args.include_demo else "false"}
    if args.by is not None:
        params["by"] = args.by
    return params


def report_rows(content: bytes, fmt: str) -> int:
    """How many rows a report file holds."""
    if fmt == "parquet":  # the footer's count, read from an Arrow buffer: a Python file
        # object left pyarrow's threads running into shutdown (SIGABRT; apache/arrow#50482)
        return int(pq.ParquetFile(pa.BufferReader(content)).metadata.num_rows)
    text = content.decode("utf-8")
    if fmt == "json":
        return len(json.loads(text)["rows"])
    return max(0, sum(1 for _ in csv.reader(io.StringIO(text))) - 1)  # less the header


def run_report(client: Client, args: argparse.Namespace, out: IO[str],
               err: IO[str] | None = None) -> int:
    """The ``report`` command over the API: the same checks, bytes, files and exit codes."""
    err = err or sys.stderr
    try:
        report.check(args)  # the local command's checks and words, before any call
        resp = client.request("GET", "/api/v1/report", params=_report_params(args),
                              accept=(REPORT_MEDIA[args.fmt],))
    except (report.ReportError, RemoteError) as exc:
        if isinstance(exc, RemoteError) and exc.status != 422:
            raise
        print(f"promptboard report: {exc}", file=err)
        return EXIT_USAGE
    if args.out is None:
        out.write(resp.content.decode("utf-8"))
        return 0
    args.out.write_bytes(resp.content)
    print(json.dumps({"status": "ok", "out": str(args.out), "format": args.fmt,
                      "rows": report_rows(resp.content, args.fmt)}), file=out)
    return 0


def backup(client: Client, args: argparse.Namespace, out: IO[str]) -> int:
    """``backup`` over the API: the server backs up the database it holds, into its own
    data/backups/ (``--to`` cannot move it: the file is on the server's disk)."""
    if args.into is not None:
        print("promptboard: --to is ignored over the API: the server writes the backup to "
              "its own data/backups/.", file=sys.stderr)
    try:
        made = client.post_json("/api/v1/admin/backup", {})
    except RemoteError as exc:
        if exc.status != 409:
            raise
        print(json.dumps({"status": "error", "error": exc.message}), file=out)
        print(f"promptboard: {exc.message}", file=sys.stderr)
        return EXIT_FAILED
    print(json.dumps({"status": "ok", **made}), file=out)
    return 0


def wait_idle(client: Client, out: IO[str]) -> int:
    """``work --until-idle``: wait until the server's workers have emptied the queue."""
    delay = POLL_FIRST
    query = {"status": ["queued", "running"], "limit": 1}
    try:
        while client.get_json("/api/v1/jobs", query)["jobs"]:
            time.sleep(delay)
            delay = min(POLL_MAX, delay * 1.5)
    except KeyboardInterrupt:
        pass
    print(json.dumps({"status": "idle"}), file=out)
    return 0
