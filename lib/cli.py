"""``python -m lib.cli``: generate from a shell, and run the worker headless.

    python -m lib.cli generate --provider sandbox --prompt "a red fox" [--n 2] [--size 512x512]
    python -m lib.cli work [--until-idle]
    python -m lib.cli demo-data --images 100000 [--days 90] [--remove]
    python -m lib.cli report --from 2026-11-01 --to 2026-11-30 [--by user] [--format csv]

``generate`` waits for its job and prints one JSON object per image (or one for
the failed job) and exits non-zero on failure. DuckDB lets one process open the
database at a time, so while the dashboard runs the CLI says so and exits 3.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
import time
from collections.abc import Sequence
from typing import Any

from lib import jobs
from lib.core import config
from lib.db.database import DatabaseLocked
from lib.engine import Engine
from lib.providers import registry
from lib.reporting import report

EXIT_FAILED, EXIT_USAGE, EXIT_LOCKED = 1, 2, 3


def _size(value: str) -> tuple[int, int]:
    try:
        w, h = value.lower().split("x")
        return int(w), int(h)
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must look like 1024x1024, not {value!r}") from None


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m lib.cli", description="Promptboard from a shell.")
    sub = p.add_subparsers(dest="command", required=True)
    g = sub.add_parser("generate", help="generate images and print one JSON object per image")
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
    g.add_argument("--user", default="cli")
    g.add_argument("--timeout", type=float, default=900.0, help="seconds to wait for the job")
    d = sub.add_parser("demo-data", help="fill (or --remove) synthetic demo history")
    d.add_argument("--images", type=int, default=100_000)
    d.add_argument("--days", type=int, default=90)
    d.add_argument("--users", type=int, default=12)
    d.add_argument("--seed", type=int, default=7)
    d.add_argument("--remove", action="store_true", help="delete every demo row and object")
    r = sub.add_parser("report", help="cost report for a period: the Analytics page's numbers")
    report.add_arguments(r)
    w = sub.add_parser("work", help="run the job worker without the dashboard")
    w.add_argument("--until-idle", action="store_true", help="exit when no job is queued")
    w.add_argument("--threads", type=int)
    return p


def _open() -> Engine:
    return Engine(config.load())


def _image_line(job: jobs.Job, img: dict[str, Any]) -> dict[str, Any]:
    return {
        "job_id": job.id, "image_id": img["id"], "status": job.status,
        "provider": job.provider, "model": job.model, "storage_key": img["original_key"],
        "width": img["width"], "height": img["height"], "seed": img["seed"],
        "cost_usd": None if img["cost_usd"] is None else float(img["cost_usd"]),
        "duration_ms": img["duration_ms"], "error": None,
    }


def cmd_generate(args: argparse.Namespace, out: Any) -> int:
    """Submit one job, run it here, print the result."""
    engine = _open()
    try:
        w, h = args.size if args.size else (None, None)
        spec = jobs.JobSpec(
            prompt=args.prompt, provider=args.provider, model=args.model, width=w, height=h,
            aspect_ratio=args.aspect, quality=args.quality, style=args.style,
            negative_prompt=args.negative, seed=args.seed, n=args.n,
        )
        try:
            job_id = jobs.submit(engine, args.user, spec)
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
            jobs.cancel(engine, job_id, args.user)
            print(json.dumps({"job_id": job_id, "status": "cancelling"}), file=out)
            return 130
        if job.status != jobs.SUCCEEDED:
            error = job.error_message or f"still {job.status} after {args.timeout:.0f} s"
            print(json.dumps({"job_id": job.id, "status": job.status,
                              "error_type": job.error_type, "error": error}), file=out)
            return EXIT_FAILED
        images = engine.db.dicts("SELECT * FROM images WHERE job_id = ? ORDER BY idx", [job_id])
        for img in images:
            print(json.dumps(_image_line(job, img)), file=out)
        return 0
    finally:
        engine.close()


def cmd_demo(args: argparse.Namespace, out: Any) -> int:
    """Fill or remove demo data (clearly marked, never mixed up with real rows)."""
    from lib import demo

    engine = _open()
    try:
        if args.remove:
            print(json.dumps({"removed_images": demo.remove(engine)}), file=out)
        else:
            summary = demo.generate(engine, images=args.images, days=args.days,
                                    users=args.users, seed=args.seed)
            print(json.dumps(dataclasses.asdict(summary), default=str), file=out)
        return 0
    finally:
        engine.close()


def cmd_report(args: argparse.Namespace, out: Any) -> int:
    """Print (or write) a cost report: the Analytics page's numbers for a period."""
    engine = _open()
    try:
        return report.run(engine, args, out)
    finally:
        engine.close()


def cmd_work(args: argparse.Namespace, out: Any) -> int:
    """Run the worker pool on the whole queue."""
    engine = _open()
    try:
        engine.start_workers(threads=args.threads)
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
    finally:
        engine.close()
    print(json.dumps({"status": "idle"}), file=out)
    return 0


def main(argv: Sequence[str] | None = None, out: Any = None) -> int:
    """Entry point; returns the exit code."""
    out = out or sys.stdout
    logging.basicConfig(level=config.env("PROMPTBOARD_LOG_LEVEL"), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = _parser().parse_args(argv)
    try:
        if args.command == "generate":
            return cmd_generate(args, out)
        if args.command == "demo-data":
            return cmd_demo(args, out)
        if args.command == "report":
            return cmd_report(args, out)
        return cmd_work(args, out)
    except DatabaseLocked as exc:
        print(json.dumps({"status": "error", "error": str(exc)}), file=out)
        print(f"promptboard: {exc}", file=sys.stderr)
        return EXIT_LOCKED


if __name__ == "__main__":
    sys.exit(main())
