"""Load benchmark (issue #7): many sessions on one dashboard server; prints one JSON object.

    python -m bench.load [--sessions 20] [--seconds 180] [--think 1 3] [--images 2000]
                         [--latency 0.2] [--workers 4]

Starts ``streamlit run app.py`` on a temporary data dir (users and ``--images`` demo images
seeded first), signs ``--sessions`` people in through the real form and lets them submit,
browse, filter, favourite and watch their jobs for ``--seconds``, pausing ``--think`` seconds
(uniform) between actions. Sessions speak Streamlit's websocket protocol from threads of this
process (``tests/reliability/_wsclient.py``), so the server does all the work a browser
would cause while the client costs little.

Reported: ``jobs_per_minute_completed``, ``queue_wait_seconds`` (created to started),
``drain_seconds_after_load``, ``page_renders`` and render milliseconds (request to
``script_finished``) per page and per action, the slowest render, plus ``lost`` (acknowledged
submits or favourites missing from the database) and ``errors`` (exceptions or database
errors shown, sessions that broke off), which should both be empty.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=180.0)
    parser.add_argument("--think", type=float, nargs=2, default=(1.0, 3.0))
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from tests.reliability import _load_helpers as load

    with tempfile.TemporaryDirectory(prefix="bench-load-") as tmp:
        data = Path(tmp) / "data"
        data.mkdir()
        os.environ["PROMPTBOARD_DATA_DIR"] = str(data)
        os.environ["PROMPTBOARD_STORAGE"] = "local"
        rep, found, shared, log = load.run_load(
            data, Path(tmp) / "server.log", args.sessions, args.seconds,
            demo_images=args.images, think=tuple(args.think), latency=args.latency,
            workers=args.workers)
    acknowledged = sorted(shared.submitted)
    stored = sorted(j["prompt"] for j in found["jobs"])
    rep["lost"] = {"submits": sorted(set(acknowledged) - set(stored)),
                   "doubled": len(stored) - len(set(stored)),
                   "favourites": sorted(map(list, shared.favourites - found["favourites"]))}
    rep["errors"] = {
        "sessions": shared.failures, "refused_submits": shared.refused,
        "shown": [f"{r.page}/{r.action}: {e}" for r in shared.renders
                  for e in [*r.exceptions, *r.errors]],
        "server_log": [ln for ln in log.splitlines() if load.LOG_TROUBLE.search(ln)][:50],
    }
    print(json.dumps(rep, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
