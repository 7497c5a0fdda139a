"""The whole pipeline on S3 storage: a real moto_server on loopback, which then dies."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from lib import jobs
from lib.core import config
from lib.core.clock import FakeClock
from lib.engine import Engine
from lib.storage.s3 import S3Storage
from tests import s3server
from tests.helpers import run_next


def _engine(endpoint: str, bucket: str, *, attempts: int = 3) -> tuple[Engine, S3Storage]:
    client = s3server.client_for(endpoint, timeout_s=2.0, max_attempts=attempts)
    client.create_bucket(Bucket=bucket)
    store = S3Storage(bucket, "promptboard", client=client)
    return Engine(config.load(), clock=FakeClock(), storage=store), store


def test_jobs_store_originals_thumbnails_and_references_in_s3() -> None:
    with s3server.running_moto_server() as server:
        eng, store = _engine(server.endpoint, "pb-ok")
        try:
            ref = io.BytesIO()
            Image.new("RGB", (64, 64), (0, 0, 255)).save(ref, "PNG")
            job_id = jobs.submit(eng, "ann", jobs.JobSpec(
                prompt="a boat", width=128, height=128, n=2, reference=ref.getvalue()))
            assert run_next(eng) == jobs.SUCCEEDED
            rows = eng.db.dicts("SELECT * FROM images WHERE job_id = ?", [job_id])
            assert len(rows) == 2
            for row in rows:
                assert Image.open(io.BytesIO(store.get(row["original_key"]))).size == (128, 128)
                assert store.get(row["thumb_key"])[:4] == b"RIFF"  # WebP
                assert (store.url(row["thumb_key"]) or "").startswith(server.endpoint)
            assert store.exists(f"refs/{job_id}.png")
            listed = set(store.list_keys("img/"))
            assert listed == {k for r in rows for k in (r["original_key"], r["thumb_key"])}
        finally:
            eng.close()


def test_s3_going_away_mid_run_fails_the_job_clearly_and_leaves_no_rows() -> None:
    with s3server.running_moto_server() as server:
        eng, _ = _engine(server.endpoint, "pb-dies", attempts=1)
        try:
            ok = jobs.submit(eng, "ann", jobs.JobSpec(prompt="first", width=96, height=96))
            assert run_next(eng) == jobs.SUCCEEDED
            doomed = jobs.submit(eng, "ann", jobs.JobSpec(prompt="second", width=96, height=96))
            server.stop()  # the S3 server disappears
            assert run_next(eng) == jobs.FAILED
            job = jobs.get(eng, doomed)
            assert job is not None and job.error_type == "storage"
            message = job.error_message or ""
            assert "could not be saved" in message and "cannot be reached" in message
            assert "testing" not in message  # no credentials in what the user sees
            assert eng.db.scalar("SELECT count(*) FROM images WHERE job_id = ?", [doomed]) == 0
            assert eng.db.scalar("SELECT count(*) FROM images WHERE job_id = ?", [ok]) == 1
        finally:
            eng.close()


def test_a_dead_s3_refuses_a_reference_upload_without_queueing() -> None:
    with s3server.running_moto_server() as server:
        eng, _ = _engine(server.endpoint, "pb-ref", attempts=1)
        server.stop()
        try:
            ref = io.BytesIO()
            Image.new("RGB", (32, 32)).save(ref, "PNG")
            with pytest.raises(jobs.SubmitError, match="could not be stored.*cannot be reached"):
                jobs.submit(eng, "ann", jobs.JobSpec(prompt="x", reference=ref.getvalue()))
            assert eng.db.scalar("SELECT count(*) FROM jobs") == 0
        finally:
            eng.close()
