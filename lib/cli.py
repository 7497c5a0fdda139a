"""``python -m lib.cli``: generate from a shell, and run the worker headless.

    python -m lib.cli generate --provider sandbox --prompt "a red fox" [--n 2] [--size 512x512]
    python -m lib.cli work [--until-idle]
    python -m lib.cli demo-data --images 100000 [--days 90] [--remove]
    python -m lib.cli report --from 2026-11-01 --to 2026-11-30 [--by user] [--format csv]
    python -m lib.cli backup [--to DIR]

``generate`` waits for its job and prints one JSON object per image (or one for
the failed job) and exits non-zero on failure. DuckDB lets one process open the
database at a time. While the dashboard holds it, ``generate``, ``report``, ``backup`` and
``work --until-idle`` go through the dashboard's HTTP API instead (``lib.cli_remote``)
when ``PROMPTBOARD_URL`` (and ``PROMPTBOARD_TOKEN``) are set; without them, and for
``demo-data`` and a plain ``work``, the CLI says so and exits 3. ``--remote`` uses the API
even when the database is free, and so does a machine without the database file but with
``PROMPTBOARD_URL`` set (it would otherwise make an empty database of its own).

Exit codes: 0 done; 1 the job failed or was refused; 2 a usage error; 3 the database is
held by another process and this cannot go through the API; 4 the API could not be used
(unreachable, ``PROMPTBOARD_TOKEN`` unset or refused, not allowed, rate-limited, failed).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import logging
import signal
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from lib import apiclient, cli_remote, jobs
from lib.apiclient import RemoteError
from lib.core import config
from lib.db import backup, transfer
from lib.db.database import DRIVER_ERRORS, DatabaseLocked
from lib.engine import Engine
from lib.providers import registry
from lib.reporting import report

EXIT_FAILED, EXIT_USAGE, EXIT_LOCKED, EXIT_REMOTE = 1, 2, 3, 4
REMOTE_COMMANDS = frozenset({"generate", "report", "work", "backup"})  # the API can run these
URL_HINT = ("Or run it through the dashboard's server: set PROMPTBOARD_URL (e.g. "
            "http://localhost:8501) and PROMPTBOARD_TOKEN (a token from your Account page).")


def _size(value: str) -> tuple[int, int]:
    try:
        w, h = value.lower().split("x")
        return int(w), int(h)
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must look like 1024x1024, not {value!r}") from None


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m lib.cli", description="Promptboard from a shell.")
    sub = p.add_subparsers(dest="command", required=True)
    remote = argparse.ArgumentParser(add_help=False)
    remote.add_argument("--remote", action="store_true",
                        help="go through the server at PROMPTBOARD_URL (with PROMPTBOARD_TOKEN) "
                        "even if the database is free")
    g = sub.add_parser("generate", parents=[remote],
                       help="generate images and print one JSON object per image")
    g.add_argument("--provider", default="sandbox", choices=sorted(registry.PROVIDERS))
    g.add_argument("--prompt", required=True)
    g.add_argument("--model")
    g.add_argument("--size", type=_size, help="WxH, e.g. 1024x1024")
    g.add_argument("--aspect", help="aspect ratio, e.g. 16:9 (providers that take ratios)")
    g.add_argument("--quality")
    g.add_argument("--style", default="none")
    g.add_argument("--negative")
    g.add_argument("--seed", type=int)
    g.add_argument("--n", type=int, default=1)
    g.add_argument("--user", help="whose job (default: cli; over the API: the token's owner)")
    g.add_argument("--out-dir", type=Path, help="also write each image file here (over the "
                   f"API: default ./{cli_remote.DEFAULT_OUT_DIR})")
    g.add_argument("--timeout", type=float, default=900.0, help="seconds to wait for the job")
    d = sub.add_parser("demo-data", help="fill (or --remove) synthetic demo history")
    d.add_argument("--images", type=int, default=100_000)
    d.add_argument("--days", type=int, default=90)
    d.add_argument("--users", type=int, default=12)
    d.add_argument("--seed", type=int, default=7)
    d.add_argument("--remove", action="store_true", help="delete every demo row and object")
    r = sub.add_parser("report", parents=[remote],
                       help="cost report for a period: the Analytics page's numbers")
    report.add_arguments(r)
    db = sub.add_parser("db", help="the database itself").add_subparsers(dest="db_command",
                                                                          required=True)
    c = db.add_parser("copy", help="copy a whole database between DuckDB and PostgreSQL, "
                      "checked (row counts, cost sums)")
    c.add_argument("--from", dest="source", required=True,
                   help="a DuckDB file (stop the dashboard that uses it) or postgresql://…")
    c.add_argument("--to", dest="target", required=True, help="a DuckDB file or postgresql://…")
    c.add_argument("--force", action="store_true", help="empty a target that holds rows first")
    b = sub.add_parser("backup", parents=[remote], help="back up the embedded database (while "
                       "the dashboard runs: through its API), checked; PostgreSQL: use pg_dump")
    b.add_argument("--to", dest="into", type=Path, help="folder for the backup file (default: "
                   "data/backups; over the API the server always writes there)")
    w = sub.add_parser("work", parents=[remote], help="run the job worker without the dashboard")
    w.add_argument("--until-idle", action="store_true", help="exit when no job is queued")
    w.add_argument("--threads", type=int)
    return p


def _open() -> Engine:
    return Engine(config.load())


def _image_line(engine: Engine, job: jobs.Job, img: dict[str, Any],
                out_dir: Path | None) -> dict[str, Any]:
    key = img["original_key"]
    path: Path | None = None  # with S3 and no --out-dir, the line has no local file
    if out_dir is not None:
        path = out_dir / f"{img['id']}{Path(key).suffix}"
        path.write_bytes(engine.storage.get(key))
    elif engine.settings.storage == "local":
        path = engine.settings.images_dir / key
    return cli_remote.image_line(
        job_id=job.id, image_id=img["id"], status=job.status, provider=job.provider,
        model=job.model, storage_key=key, width=img["width"], height=img["height"],
        seed=img["seed"], cost_usd=None if img["cost_usd"] is None else float(img["cost_usd"]),
        duration_ms=img["duration_ms"], path=None if path is None else str(path))


def cmd_generate(engine: Engine, args: argparse.Namespace, out: Any) -> int:
    """Submit one job, run it here, print the result."""
    user = args.user or "cli"
    w, h = args.size if args.size else (None, None)
    spec = jobs.JobSpec(
        prompt=args.prompt, provider=args.provider, model=args.model, width=w, height=h,
        aspect_ratio=args.aspect, quality=args.quality, style=args.style,
        negative_prompt=args.negative, seed=args.seed, n=args.n,
    )
    try:
        job_id = jobs.submit(engine, user, spec)
    except jobs.SubmitError as exc:
        print(json.dumps({"status": "refused", "error": str(exc)}), file=out)
        return EXIT_FAILED
    engine.start_workers(threads=1, only=frozenset({job_id}))
    deadline = time.monotonic() + args.timeout
    try:
        while True:
            job = jobs.get(engine, job_id)
            assert job is not None
            if job.done or time.monotonic() > deadline:
                break
            time.sleep(0.1)
    except KeyboardInterrupt:
        jobs.cancel(engine, job_id, user)
        print(json.dumps({"job_id": job_id, "status": "cancelling"}), file=out)
        return 130
    if job.status != jobs.SUCCEEDED:
        error = job.error_message or f"still {job.status} after {args.timeout:.0f} s"
        print(json.dumps(cli_remote.failure_line(job.id, job.status, job.error_type, error)),
              file=out)
        return EXIT_FAILED
    if args.out_dir is not None:
        args.out_dir = args.out_dir.resolve()
        args.out_dir.mkdir(parents=True, exist_ok=True)
    images = engine.db.dicts("SELECT * FROM images WHERE job_id = ? ORDER BY idx", [job_id])
    for img in images:
        print(json.dumps(_image_line(engine, job, img, args.out_dir)), file=out)
    return 0


def cmd_demo(engine: Engine, args: argparse.Namespace, out: Any) -> int:
    """Fill or remove demo data (clearly marked, never mixed up with real rows)."""
    from lib import demo

    if args.remove:
        print(json.dumps({"removed_images": demo.remove(engine)}), file=out)
    else:
        summary = demo.generate(engine, images=args.images, days=args.days,
                                users=args.users, seed=args.seed)
        print(json.dumps(dataclasses.asdict(summary), default=str), file=out)
    return 0


def cmd_report(engine: Engine, args: argparse.Namespace, out: Any) -> int:
    """Print (or write) a cost report: the Analytics page's numbers for a period."""
    return report.run(engine, args, out)


def cmd_work(engine: Engine, args: argparse.Namespace, out: Any) -> int:
    """Run the worker pool on the whole queue (``PROMPTBOARD_WORKERS=0``, which keeps the
    dashboards' pools off, does not apply here: a worker process always has threads). A
    SIGTERM (systemd, a container stop) stops it like Ctrl-C: its running jobs' leases are
    let go, so another worker takes them back at once."""
    with contextlib.suppress(ValueError):  # not the main thread (a test): no handler
        signal.signal(signal.SIGTERM, _interrupt)
    try:
        engine.start_workers(threads=args.threads or engine.settings.workers or int(
            config.VARIABLES["PROMPTBOARD_WORKERS"][0]))
        while True:
            time.sleep(0.2)
            if args.until_idle:
                active = engine.db.scalar(
                    "SELECT count(*) FROM jobs WHERE status IN ('queued','running')"
                )
                if not active:
                    break
    except KeyboardInterrupt:
        pass
    print(json.dumps({"status": "idle"}), file=out)
    return 0


def cmd_backup(engine: Engine, args: argparse.Namespace, out: Any) -> int:
    """Back up the embedded database into a checked file; print where and what it holds."""
    try:
        made = backup.backup(engine.db, args.into or backup.folder(engine.settings.data_dir),
                             engine.clock.now())
    except backup.BackupError as exc:
        return _error(out, str(exc), EXIT_FAILED)
    print(json.dumps({"status": "ok", "path": str(made.path), "bytes": made.bytes,
                      "tables": len(made.rows), "rows": sum(made.rows.values()),
                      "took_ms": round(made.took_s * 1000)}), file=out)
    return 0


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


COMMANDS: dict[str, Callable[[Engine, argparse.Namespace, Any], int]] = {
    "generate": cmd_generate, "demo-data": cmd_demo, "report": cmd_report, "work": cmd_work,
    "backup": cmd_backup}


def _error(out: Any, message: str, code: int) -> int:
    print(json.dumps({"status": "error", "error": message}), file=out)
    print(f"promptboard: {message}", file=sys.stderr)
    return code


def _remote(args: argparse.Namespace, out: Any) -> int:
    """The command through the server's API (lib.cli_remote)."""
    client = apiclient.from_env()
    try:
        if args.command == "generate":
            return cli_remote.generate(client, args, out)
        if args.command == "report":
            return cli_remote.run_report(client, args, out)
        if args.command == "backup":
            return cli_remote.backup(client, args, out)
        if args.until_idle:
            return cli_remote.wait_idle(client, out)
        return _error(out, f"The server at {client.where} runs the queue with its own workers "
                      "while it holds the database. `work --until-idle` waits over the API "
                      "until its queue is empty.", EXIT_LOCKED)
    finally:
        client.close()


def _has_database(settings: config.Settings) -> bool:
    """A PostgreSQL URL is set (any machine may use it), or the DuckDB file is here."""
    return bool(settings.database_url) or settings.db_path.exists()


def _no_database_here(command: str) -> bool:
    """PROMPTBOARD_URL is set and this machine has no database: not the server's machine."""
    return (command in REMOTE_COMMANDS and bool(config.env("PROMPTBOARD_URL"))
            and not _has_database(config.load()))


def cmd_db(args: argparse.Namespace, out: Any) -> int:
    """``db copy``: both ends opened here (not the configured database), then the copy."""
    def step(table: str, rows: int) -> None:
        print(f"promptboard: copied {table}: {rows:,} rows", file=sys.stderr)

    try:
        with contextlib.ExitStack() as ends:
            source = transfer.open_end(args.source)
            ends.callback(source.close)
            target = transfer.open_end(args.target)
            ends.callback(target.close)
            done = transfer.copy(source, target, force=args.force, progress=step)
    except DatabaseLocked as exc:
        return _error(out, str(exc), EXIT_LOCKED)
    except transfer.CopyError as exc:
        return _error(out, str(exc), EXIT_FAILED)
    except DRIVER_ERRORS as exc:  # a dead server, a refused write: the driver says which
        return _error(out, f"The database refused the copy: {exc}", EXIT_FAILED)
    print(json.dumps({"copied_rows": done.total, "tables": done.rows,
                      "sums": {k: str(v) for k, v in done.sums.items()}}), file=out)
    return 0


def main(argv: Sequence[str] | None = None, out: Any = None) -> int:
    """Entry point; returns the exit code."""
    out = out or sys.stdout
    logging.basicConfig(level=config.env("PROMPTBOARD_LOG_LEVEL"), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = _parser().parse_args(argv)
    if args.command == "db":
        return cmd_db(args, out)
    try:
        if getattr(args, "remote", False) or _no_database_here(args.command):
            return _remote(args, out)
        try:
            engine = _open()
        except DatabaseLocked as exc:
            if args.command in REMOTE_COMMANDS and config.env("PROMPTBOARD_URL"):
                print("promptboard: another process holds the database; going through the "
                      f"server at {apiclient.shown(config.env('PROMPTBOARD_URL'))}.",
                      file=sys.stderr)
                return _remote(args, out)
            hint = f" {URL_HINT}" if args.command in REMOTE_COMMANDS else ""
            return _error(out, f"{exc}{hint}", EXIT_LOCKED)
        try:
            return COMMANDS[args.command](engine, args, out)
        finally:
            engine.close()
    except RemoteError as exc:
        return _error(out, str(exc), EXIT_REMOTE)


if __name__ == "__main__":
    sys.exit(main())
