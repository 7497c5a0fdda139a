"""Idempotency-Key across a killed process: the repeat answers the jobs the first call queued.

A first call that queued its jobs and died before its answer was kept leaves its key
"running"; after ``idempotency.STALE`` a repeat takes the key over and runs the write again.
The real server answers a keyed POST; then, with the server stopped, the kept answer is put
back to what a kill between the INSERT and the answer leaves (state ``running``, no answer,
older than STALE), and the restarted server is asked again.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from lib.api import idempotency
from lib.core import config
from lib.engine import Engine
from tests.api.server import ApiServer, start


def _as_if_killed_mid_answer(data_dir: Path) -> int:
    """Undo the kept answers as a kill after the INSERT would have; returns the job count."""
    eng = Engine(replace(config.load(), data_dir=data_dir))
    try:
        with eng.db.write() as cur:
            cur.execute("UPDATE api_idempotency SET state = 'running', status = NULL, "
                        "body = NULL, content_type = NULL, created_at = created_at - ?",
                        [idempotency.STALE * 2])
        return int(eng.db.scalar("SELECT count(*) FROM jobs"))
    finally:
        eng.close()


def _post(api: ApiServer, path: str, key: str, **body: object) -> tuple[int, list[str]]:
    r = api.call("POST", path, "mia", json=body or None, headers={"Idempotency-Key": key})
    return r.status, [str(j["id"]) for j in r.json.get("jobs", [])]


def test_a_repeat_after_a_kill_answers_the_jobs_already_queued(tmp_path: Path) -> None:
    api = start(tmp_path, "idem")
    try:
        batch = _post(api, "/api/v1/jobs", "batch-1", prompt="a fox, thrice", variations=3)
        one = _post(api, "/api/v1/jobs", "one-1", prompt="a fox, once")
        doomed = api.call("POST", "/api/v1/jobs", "mia", json={"prompt": "a cancelled fox"})
        doomed_id = str(doomed.json["jobs"][0]["id"])
        assert api.call("POST", f"/api/v1/jobs/{doomed_id}/cancel", "mia").status == 200
        retried = _post(api, f"/api/v1/jobs/{doomed_id}/retry", "retry-1")
        assert [r[0] for r in (batch, one, retried)] == [202, 202, 202]
        assert len(batch[1]) == 3
        api.server.stop()
        jobs_before = _as_if_killed_mid_answer(api.server.data_dir)
        api.server.start()
        again = (_post(api, "/api/v1/jobs", "batch-1", prompt="a fox, thrice", variations=3),
                 _post(api, "/api/v1/jobs", "one-1", prompt="a fox, once"),
                 _post(api, f"/api/v1/jobs/{doomed_id}/retry", "retry-1"))
        assert again == (batch, one, retried)  # the same jobs, none queued twice
        fresh = _post(api, "/api/v1/jobs", "one-2", prompt="a fox, once")
        assert fresh[0] == 202 and fresh[1] != one[1]  # a new key is a new job
        api.server.stop()
        eng = Engine(replace(config.load(), data_dir=api.server.data_dir))
        try:
            assert eng.db.scalar("SELECT count(*) FROM jobs") == jobs_before + 1
        finally:
            eng.close()
    finally:
        api.server.stop()
