"""lib.storage: one behavioural suite for LocalStorage (tmp dir) and S3Storage (real moto_server
on 127.0.0.1), then the failure modes each backend has on its own."""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests

from lib.core import config
from lib.storage import (
    LocalStorage,
    ObjectMissing,
    Storage,
    StorageError,
    from_settings,
    parse_storage_url,
    validate_key,
)
from lib.storage.s3 import S3Storage
from tests import s3server

moto_endpoint = s3server.moto_endpoint  # one moto_server for this module

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40 + b"\x00\xff\x00"  # binary, with NULs


@pytest.fixture(scope="module")
def s3(moto_endpoint: str) -> Any:
    """A boto3 client for the shared moto_server."""
    return s3server.client_for(moto_endpoint)


@pytest.fixture
def bucket(s3: Any) -> str:
    """A fresh, empty bucket for one test."""
    name = f"pb-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Storage:
    """Each backend in turn; S3 ones under a prefix, so prefix handling is always exercised."""
    if request.param == "local":
        return LocalStorage(tmp_path / "images")
    client = request.getfixturevalue("s3")
    return S3Storage(request.getfixturevalue("bucket"), "pb/test/", client=client)


# --------------------------------------------------------------------------- both backends


def test_backends_satisfy_the_protocol(store: Storage) -> None:
    assert isinstance(store, Storage)


def test_put_then_get_returns_the_same_bytes(store: Storage) -> None:
    store.put("originals/ab/cd12.png", PNG, "image/png")
    assert store.get("originals/ab/cd12.png") == PNG
    store.put("empty.bin", b"", "application/octet-stream")
    assert store.get("empty.bin") == b""


def test_exists_only_after_put(store: Storage) -> None:
    assert not store.exists("thumbs/a.webp")
    store.put("thumbs/a.webp", b"webp", "image/webp")
    assert store.exists("thumbs/a.webp")
    assert not store.exists("thumbs")  # a "folder" is not an object


def test_get_of_missing_key_raises_object_missing(store: Storage) -> None:
    store.put("thumbs/other.webp", b"x", "image/webp")
    with pytest.raises(ObjectMissing, match="not found") as info:
        store.get("thumbs/missing.webp")
    assert info.value.key == "thumbs/missing.webp"
    assert "thumbs/missing.webp" in str(info.value)


def test_put_overwrites(store: Storage) -> None:
    store.put("a.png", b"first version, longer", "image/png")
    store.put("a.png", b"second", "image/png")
    assert store.get("a.png") == b"second"
    assert store.list_keys() == ["a.png"]


def test_delete_is_idempotent_and_ignores_missing_keys(store: Storage) -> None:
    store.put("jobs/1/a.png", b"a", "image/png")
    store.put("jobs/1/b.png", b"b", "image/png")
    store.delete(["jobs/1/a.png", "never/stored.png"])
    assert not store.exists("jobs/1/a.png")
    assert store.exists("jobs/1/b.png")
    store.delete(["jobs/1/a.png"])  # again: no error
    store.delete([])
    assert store.list_keys() == ["jobs/1/b.png"]


def test_delete_prefix_counts_and_spares_other_prefixes(store: Storage) -> None:
    for key in ["jobs/1/a.png", "jobs/1/b.webp", "jobs/10/c.png", "jobs/2/d.png", "thumbs/e"]:
        store.put(key, b"x", "image/png")
    assert store.delete_prefix("jobs/1/") == 2
    assert store.list_keys() == ["jobs/10/c.png", "jobs/2/d.png", "thumbs/e"]
    assert store.delete_prefix("jobs/1/") == 0
    assert store.delete_prefix("jobs/1") == 1  # a string prefix, as in S3: takes jobs/10/
    assert store.list_keys() == ["jobs/2/d.png", "thumbs/e"]
    with pytest.raises(ValueError, match="non-empty"):
        store.delete_prefix("")
    assert len(store.list_keys()) == 2


def test_list_keys_filters_by_prefix_and_sorts(store: Storage) -> None:
    assert store.list_keys() == []
    for key in ["b/2.png", "a/1.png", "b/1.png", "bb/1.png"]:
        store.put(key, b"x", "image/png")
    assert store.list_keys() == ["a/1.png", "b/1.png", "b/2.png", "bb/1.png"]
    assert store.list_keys("b/") == ["b/1.png", "b/2.png"]
    assert store.list_keys("b") == ["b/1.png", "b/2.png", "bb/1.png"]
    assert store.list_keys("b/1") == ["b/1.png"]
    assert store.list_keys("c/") == []


def test_usage_counts_objects_and_bytes(store: Storage) -> None:
    assert store.usage() == (0, 0)
    store.put("a/x.png", PNG, "image/png")
    store.put("b/y.png", b"12345", "image/png")
    store.put("b/y.png", b"123", "image/png")  # an overwrite is not a new object
    assert store.usage() == (2, len(PNG) + 3)


@pytest.mark.parametrize(
    "bad", ["../x", "/abs", "a//b", "A B", "", "a/../b", "a/", ".hidden", "a/.tmp-x", "Upper"]
)
def test_every_method_refuses_bad_keys(store: Storage, bad: str) -> None:
    with pytest.raises(ValueError):
        validate_key(bad)
    calls: list[Callable[[], object]] = [
        lambda: store.put(bad, b"x", "image/png"),
        lambda: store.get(bad),
        lambda: store.exists(bad),
        lambda: store.delete(["ok.png", bad]),
        lambda: store.url(bad),
        lambda: store.list_keys(bad + "/"),
        lambda: store.delete_prefix(bad + "/"),
    ]
    for call in calls:
        with pytest.raises(ValueError, match="Invalid storage key"):
            call()
    assert store.list_keys() == []  # nothing was written on the way


def test_good_keys_pass_validation() -> None:
    for key in ["a", "originals/ab/0f3e.png", "jobs/12/img-1_thumb.webp", "x.y.z"]:
        assert validate_key(key) == key


def test_describe_says_where_without_secrets(store: Storage) -> None:
    text = store.describe()
    if isinstance(store, LocalStorage):
        assert text == f"local disk at {store.root}"
    else:
        assert isinstance(store, S3Storage)
        assert text == f"S3 bucket {store.bucket}, prefix pb/test/ at {store.endpoint}"
        assert store.endpoint.startswith(f"http://{s3server.HOST}:")
        assert "testing" not in text


# --------------------------------------------------------------------------- local only


def _all_files(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def test_local_writes_leave_no_temp_files_and_are_private(tmp_path: Path) -> None:
    store = LocalStorage(tmp_path / "images")
    keys = ["a.png", "x/y/z.png", "x/y/w.png"]
    for key in keys + keys:  # second round overwrites
        store.put(key, PNG, "image/png")
    assert _all_files(store.root) == set(keys)
    assert (store.root / "a.png").stat().st_mode & 0o777 == 0o600
    for folder in [store.root, store.root / "x", store.root / "x" / "y"]:
        assert folder.stat().st_mode & 0o777 == 0o700


def test_local_refused_rename_keeps_old_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Simulates EACCES from the final rename (what a read-only folder gives a non-root user).
    store = LocalStorage(tmp_path / "images")
    store.put("a.png", b"old", "image/png")

    def refuse(src: str, dst: str) -> None:
        raise PermissionError(errno.EACCES, "Permission denied", dst)

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(StorageError) as info:
        store.put("a.png", b"new", "image/png")
    message = str(info.value)
    assert "cannot write to" in message and "permission denied" in message
    assert str(store.root) in message and "PROMPTBOARD_DATA_DIR" in message
    monkeypatch.undo()
    assert store.get("a.png") == b"old"
    assert _all_files(store.root) == {"a.png"}


@contextmanager
def _unwritable(folder: Path) -> Iterator[None]:
    """Make ``folder`` refuse new files for real: chmod for a user, `chattr +i` for root."""
    if os.geteuid() != 0:
        folder.chmod(0o500)
        try:
            yield
        finally:
            folder.chmod(0o700)
        return
    # root ignores permission bits; the immutable attribute stops it (EPERM) on ext4/xfs.
    chattr = shutil.which("chattr")
    if not chattr or subprocess.run([chattr, "+i", str(folder)], capture_output=True).returncode:
        pytest.skip("running as root (chmod does not stop root) and `chattr +i` is unavailable")
    try:
        yield
    finally:
        subprocess.run([chattr, "-i", str(folder)], check=True)


def test_local_unwritable_folder_is_reported(tmp_path: Path) -> None:
    store = LocalStorage(tmp_path / "images")
    store.put("a/1.png", b"x", "image/png")
    with _unwritable(store.root / "a"), pytest.raises(StorageError) as info:
        store.put("a/2.png", b"x", "image/png")
    assert "cannot write to" in str(info.value) and "permission denied" in str(info.value)
    assert isinstance(info.value.__cause__, PermissionError)  # the kernel said so, not a mock
    assert _all_files(store.root) == {"a/1.png"}


def test_local_disk_full_leaves_no_partial_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = LocalStorage(tmp_path / "images")
    real_write = os.write
    calls: list[int] = []

    def short_then_full(fd: int, data: Any) -> int:
        calls.append(len(data))
        if len(calls) == 1:
            return real_write(fd, data[: len(data) // 2])  # a short write, like a filling disk
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "write", short_then_full)
    with pytest.raises(StorageError) as info:
        store.put("big/a.png", PNG, "image/png")
    monkeypatch.undo()
    assert calls == [len(PNG), len(PNG) - len(PNG) // 2]  # the rest was retried
    assert "full" in str(info.value) and "nothing was saved" in str(info.value)
    assert _all_files(store.root) == set()
    assert not store.exists("big/a.png")


def test_local_other_os_errors_name_the_errno(tmp_path: Path) -> None:
    store = LocalStorage(tmp_path / "images")
    store.put("a/b.png", b"x", "image/png")
    with pytest.raises(StorageError, match="EISDIR") as info:
        store.put("a", b"x", "image/png")  # "a" is a folder where a file should go
    assert "Nothing was saved" in str(info.value)
    assert _all_files(store.root) == {"a/b.png"}


def test_local_symlink_out_of_root_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    store = LocalStorage(tmp_path / "images")
    store.root.mkdir()
    (store.root / "link").symlink_to(outside)
    with pytest.raises(ValueError, match="outside"):
        store.put("link/x.png", b"x", "image/png")
    assert list(outside.iterdir()) == []


def test_local_has_no_urls_and_tolerates_a_missing_root(tmp_path: Path) -> None:
    store = LocalStorage(tmp_path / "not-yet")
    assert store.url("a.png") is None
    assert store.list_keys() == [] and store.usage() == (0, 0)
    assert not store.root.exists()  # reading does not create it


# --------------------------------------------------------------------------- S3 only


def test_s3_objects_live_under_the_prefix(s3: Any, bucket: str) -> None:
    S3Storage(bucket, "/pb/test/", client=s3).put("a/b.png", b"x", "image/png")
    listed = s3.list_objects_v2(Bucket=bucket)["Contents"]
    assert [item["Key"] for item in listed] == ["pb/test/a/b.png"]
    head = s3.head_object(Bucket=bucket, Key="pb/test/a/b.png")
    assert head["ContentType"] == "image/png"


def test_s3_presigned_url_serves_the_bytes(s3: Any, bucket: str) -> None:
    store = S3Storage(bucket, "pb", client=s3)
    store.put("a/b.png", PNG, "image/png")
    url = store.url("a/b.png", expires_s=60)
    assert url is not None and url.startswith(f"http://{s3server.HOST}:")
    response = requests.get(url, timeout=5)
    assert response.status_code == 200
    assert response.content == PNG
    with pytest.raises(ValueError):
        store.url("a/b.png", expires_s=0)


def test_s3_server_gone_fails_fast_and_clearly() -> None:
    with s3server.running_moto_server() as server:
        client = s3server.client_for(server.endpoint, timeout_s=1, max_attempts=1)
        client.create_bucket(Bucket="going-away")
        store = S3Storage("going-away", client=client)
        store.put("a.png", b"x", "image/png")
        server.stop()
        actions = {
            "save": lambda: store.put("b.png", b"x", "image/png"),
            "read": lambda: store.get("a.png"),
        }
        for verb, action in actions.items():
            start = time.monotonic()
            with pytest.raises(StorageError) as info:
                action()
            assert time.monotonic() - start < 3
            message = str(info.value)
            assert "cannot be reached" in message and server.endpoint in message
            assert f"trying to {verb}" in message
            assert "testing" not in message  # the access key id, or the secret
            assert not isinstance(info.value, ObjectMissing)
            assert ("Nothing was saved" in message) == (verb == "save")


def test_s3_missing_bucket_says_which_and_what_to_do(s3: Any) -> None:
    store = S3Storage("no-such-bucket-here", "p", client=s3)
    for action in (lambda: store.put("a.png", b"x", "image/png"), lambda: store.get("a.png")):
        with pytest.raises(StorageError) as info:
            action()
        assert not isinstance(info.value, ObjectMissing)  # not "image missing"
        assert "'no-such-bucket-here' does not exist" in str(info.value)
        assert "PROMPTBOARD_STORAGE" in str(info.value)
    with pytest.raises(StorageError, match="does not exist"):
        store.list_keys()


class _ErrorS3(BaseHTTPRequestHandler):
    """Answers every request with one S3 error, whose text tries to leak into messages."""

    protocol_version = "HTTP/1.1"
    reply: tuple[int, str] = (500, "InternalError")

    def _answer(self) -> None:
        status, code = self.reply
        body = f"<Error><Code>{code}</Code><Message>SECRET-ECHO</Message></Error>".encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_HEAD = _answer

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output quiet."""


@pytest.fixture
def error_s3() -> Iterator[tuple[str, type[_ErrorS3]]]:
    """A loopback HTTP server that answers like an S3 refusing every request."""
    handler = type("Handler", (_ErrorS3,), {})
    server = ThreadingHTTPServer((s3server.HOST, 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://{s3server.HOST}:{server.server_address[1]}", handler
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        (403, "AccessDenied", "Access denied to S3 bucket locked"),
        (403, "InvalidAccessKeyId", "rejected the credentials"),
        (403, "SignatureDoesNotMatch", "AWS_SECRET_ACCESS_KEY"),
        (500, "InternalError", "refused to read 'a.png' (InternalError)"),
    ],
)
def test_s3_refusals_become_clear_messages(
    error_s3: tuple[str, type[_ErrorS3]], status: int, code: str, expected: str
) -> None:
    endpoint, handler = error_s3
    handler.reply = (status, code)
    store = S3Storage("locked", client=s3server.client_for(endpoint, max_attempts=1))
    with pytest.raises(StorageError) as info:
        store.get("a.png")
    assert expected in str(info.value)
    assert "SECRET-ECHO" not in str(info.value)


def test_s3_without_credentials_says_how_to_set_them(
    moto_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no probe of 169.254.169.254
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with pytest.raises(StorageError, match="AWS_ACCESS_KEY_ID") as info:
        S3Storage("any-bucket").put("a.png", b"x", "image/png")
    assert "Nothing was saved" in str(info.value)


# --------------------------------------------------------------------------- choosing one


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("local", ("local", "", "")),
        (" LOCAL ", ("local", "", "")),
        ("s3://bucket", ("s3", "bucket", "")),
        ("s3://bucket/", ("s3", "bucket", "")),
        ("s3://my-bucket/some/prefix", ("s3", "my-bucket", "some/prefix")),
        ("s3://my.bucket/Pb_1/", ("s3", "my.bucket", "Pb_1")),
    ],
)
def test_parse_storage_url_accepts(value: str, expected: tuple[str, str, str]) -> None:
    assert parse_storage_url(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        "",
        "s3://",
        "s3:///prefix",
        "gs://bucket",
        "s3://bucket//x",
        "s3://bucket/../x",
        "/data/images",
        "s3://AKIAKEY:hunter2@bucket/p",
        "s3://bucket/p?secret=hunter2",
    ],
)
def test_parse_storage_url_refuses(value: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_storage_url(value)
    message = str(info.value)
    assert "PROMPTBOARD_STORAGE" in message
    assert "`local`" in message and "`s3://bucket/prefix`" in message
    assert "hunter2" not in message


def test_from_settings_local_uses_images_dir() -> None:
    settings = config.load()
    store = from_settings(settings)
    assert isinstance(store, LocalStorage)
    assert store.root == settings.images_dir


def test_from_settings_s3_uses_boto3s_own_chain(
    moto_endpoint: str, s3: Any, bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROMPTBOARD_STORAGE", f"s3://{bucket}/pb/prefix")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))  # ignore ~/.aws
    store = from_settings(config.load())
    assert isinstance(store, S3Storage)
    store.put("a.png", b"via env", "image/png")
    assert s3.get_object(Bucket=bucket, Key="pb/prefix/a.png")["Body"].read() == b"via env"
    assert store.describe() == f"S3 bucket {bucket}, prefix pb/prefix/ at {moto_endpoint}"
