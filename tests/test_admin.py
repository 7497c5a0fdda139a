"""What the Admin page shows: provider rows and connection tests, storage numbers, user rows."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest

from lib import admin, jobs
from lib.auth import accounts as auth
from lib.core import config
from lib.core.clock import FakeClock
from lib.engine import Engine
from lib.providers import registry
from lib.providers.base import NeedsKey
from lib.storage import LocalStorage, StorageError
from tests.helpers import run_next

NOW = datetime(2026, 11, 2, 9, 0, 0)
SECRET = "sk-test-9f8e7d6c5b4a39281706"


@pytest.fixture
def engine() -> Iterator[Engine]:
    eng = Engine(config.load(), clock=FakeClock(NOW))
    yield eng
    eng.close()


def _closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _make_images(engine: Engine, count: int) -> None:
    for i in range(count):
        jobs.submit(engine, "ann", jobs.JobSpec(prompt=f"a lighthouse {i}", width=128, height=128))
        assert run_next(engine) == jobs.SUCCEEDED


# --------------------------------------------------------------------------- providers


def test_provider_rows_list_every_provider_with_models_and_how_to_configure(
    engine: Engine,
) -> None:
    rows = {r.id: r for r in admin.provider_rows(engine)}
    assert list(rows) == list(registry.PROVIDERS)
    sandbox = rows["sandbox"]
    assert sandbox.configured and (sandbox.models, sandbox.default_model) == (1, "sandbox-v1")
    assert sandbox.detail == "1 model, default sandbox-v1 · 0 images made"
    gemini = rows["gemini"]
    assert not gemini.configured and "GEMINI_API_KEY" in gemini.hint
    assert gemini.detail == gemini.hint
    assert rows["replicate"].open_models


def test_a_provider_counts_as_configured_once_its_key_is_set_and_counts_its_images(
    engine: Engine, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    _make_images(engine, 2)
    rows = {r.id: r for r in admin.provider_rows(engine)}
    assert rows["openai"].configured and rows["openai"].images == 0
    assert rows["sandbox"].images == 2


def test_the_sandbox_connection_test_passes() -> None:
    ok, message = admin.test_provider("sandbox")
    assert ok and "sandbox" in message.lower()


def test_an_unconfigured_provider_says_how_to_configure_it() -> None:
    ok, message = admin.test_provider("gemini")
    assert not ok
    assert message.startswith("Google Gemini is not configured.") and "GEMINI_API_KEY" in message


def test_an_unknown_provider_is_a_clear_failure() -> None:
    ok, message = admin.test_provider("midjourney")
    assert not ok and "Unknown provider 'midjourney'" in message


def test_a_configured_provider_on_a_closed_port_fails_clearly_without_the_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    port = _closed_port()
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    monkeypatch.setenv("OPENAI_BASE_URL", f"http://127.0.0.1:{port}/v1")
    ok, message = admin.test_provider("openai")
    assert not ok
    assert f"could not be reached at http://127.0.0.1:{port}" in message
    assert SECRET not in message and SECRET[8:] not in message


class _Echo:
    """A provider whose check fails in a way that would show its key."""

    def __init__(self, exc: Exception) -> None:
        self.exc = exc

    def test_connection(self) -> str:
        raise self.exc


@pytest.mark.parametrize("exc", [
    NeedsKey(f"The key {SECRET} was refused."),
    RuntimeError(f"boom with {SECRET}"),
])
def test_any_failure_is_reported_with_the_key_redacted(
    monkeypatch: pytest.MonkeyPatch, exc: Exception,
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    calls: list[dict[str, Any]] = []

    def fake_create(provider_id: str, **kw: Any) -> _Echo:
        calls.append({"id": provider_id, **kw})
        return _Echo(exc)

    monkeypatch.setattr(registry, "create", fake_create)
    ok, message = admin.test_provider("openai")
    assert not ok and SECRET not in message
    assert calls == [{"id": "openai", "timeout": admin.TEST_TIMEOUT_S}]
    if isinstance(exc, NeedsKey):
        assert message == "The key *** was refused."
    else:
        assert "failed unexpectedly (RuntimeError)" in message


# --------------------------------------------------------------------------- storage


def test_storage_summary_counts_objects_bytes_and_image_rows_after_two_jobs(
    engine: Engine,
) -> None:
    empty = admin.storage_summary(engine)
    assert (empty.objects, empty.bytes, empty.image_rows, empty.bytes_per_image) == (0, 0, 0, None)
    _make_images(engine, 2)
    summary = admin.storage_summary(engine)
    keys = engine.storage.list_keys()
    assert summary.image_rows == 2 and summary.error is None
    assert summary.objects == len(keys) >= 4  # an original and a thumbnail per image at least
    assert summary.bytes == sum(len(engine.storage.get(k)) for k in keys)
    assert summary.image_bytes == engine.db.scalar("SELECT sum(bytes) FROM images") > 0
    assert summary.bytes_per_image == pytest.approx(summary.bytes / 2)
    assert summary.where.startswith("local disk at ")


def test_demo_images_are_counted_apart_from_generated_ones(engine: Engine) -> None:
    """Demo rows share a few sample files: counting their recorded bytes as stored originals
    once showed "the originals alone take 414 MB" beside 2.8 MB actually stored."""
    from lib import demo

    _make_images(engine, 2)
    real = engine.db.scalar("SELECT sum(bytes) FROM images")
    demo.generate(engine, images=30, days=3, users=2)
    summary = admin.storage_summary(engine)
    assert summary.demo_rows == 30 and summary.image_rows == 32
    assert summary.image_bytes == real
    assert summary.bytes_per_image == pytest.approx(summary.bytes / 2)


class _BrokenStorage(LocalStorage):
    def usage(self) -> tuple[int, int]:
        raise StorageError("S3 is unreachable: check AWS_ENDPOINT_URL.")


def test_a_store_that_cannot_be_listed_is_reported_not_raised(tmp_path: Any) -> None:
    eng = Engine(config.load(), storage=_BrokenStorage(tmp_path / "imgs"))
    try:
        summary = admin.storage_summary(eng)
    finally:
        eng.close()
    assert summary.error == "S3 is unreachable: check AWS_ENDPOINT_URL."
    assert summary.objects is None and summary.bytes_per_image is None


@pytest.mark.parametrize(("n", "text"), [
    (None, "—"), (0, "0 B"), (999, "999 B"), (1000, "1.0 KB"), (1_234_567, "1.2 MB"),
    (5e12, "5.0 TB"), (7e15, "7000.0 TB"),
])
def test_sizes_read_like_people_write_them(n: float | None, text: str) -> None:
    assert admin.human_size(n) == text


# --------------------------------------------------------------------------- users


@pytest.mark.usefixtures("fast_bcrypt")
def test_user_rows_show_status_sign_in_and_times_but_never_a_hash(engine: Engine) -> None:
    pw = "correct horse battery"
    for name, role in (("ann", "member"), ("bob", "analyst"), ("cat", "admin")):
        auth.create_user(engine.db, name, name.title(), f"{name}@example.com", role, pw, now=NOW)
    auth.set_disabled(engine.db, "bob", True, now=NOW)
    for _ in range(auth.MAX_FAILED_LOGINS):
        auth.authenticate(engine.db, "ann", "wrong password!", NOW)
    assert auth.authenticate(engine.db, "cat", pw, NOW) is not None
    auth.create_external_user(engine.db, "dee@example.com", "Dee", "member", now=NOW)
    df = admin.user_rows(engine.db, NOW + timedelta(minutes=1))
    assert list(df.columns) == list(admin.USER_COLUMNS)
    rows = {r["Username"]: r for r in df.to_dict("records")}
    assert rows["ann"]["Status"] == "locked until 09:05 UTC"
    assert rows["bob"]["Status"] == "disabled" and rows["bob"]["Role"] == "analyst"
    assert rows["cat"]["Status"] == "active"
    assert rows["cat"]["Last sign-in (UTC)"] == "2026-11-02 09:00"
    assert rows["ann"]["Last sign-in (UTC)"] == "never"
    assert rows["dee"]["Sign-in"] == "identity provider" and rows["ann"]["Sign-in"] == "password"
    assert "$2b$" not in df.to_csv()
    later = admin.user_rows(engine.db, NOW + auth.LOCKOUT)
    assert later.set_index("Username").loc["ann", "Status"] == "active"


def test_user_labels_name_the_person_only_when_it_adds_something() -> None:
    ann = auth.User("ann", "Ann Lee", None, "member", False, NOW)
    root = auth.User("root", "root", None, "admin", True, NOW)
    assert admin.user_label(ann) == "ann · Ann Lee · member"
    assert admin.user_label(root) == "root · admin · disabled"
