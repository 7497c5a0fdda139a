"""S3-compatible storage (AWS S3, Cloudflare R2, MinIO) behind the ``lib.storage.base`` interface.

Credentials and endpoint come from boto3's own chain (``AWS_ENDPOINT_URL``,
``AWS_PROFILE``, ...). Errors become :class:`lib.storage.base.StorageError` with a
message for a person: no credentials and no raw S3 text in it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import boto3
from botocore import exceptions as bx
from botocore.config import Config

from lib.storage.base import ObjectMissing, StorageError, validate_key, validate_prefix

_S3_BATCH = 1000  # the most keys one DeleteObjects call accepts
_S3_MISSING = ("NoSuchKey", "404", "NotFound")

def default_s3_client() -> Any:
    """A boto3 S3 client with timeouts and bounded retries; the rest from boto3's chain."""
    config = Config(
        connect_timeout=5,
        read_timeout=30,
        retries={"max_attempts": 3, "mode": "standard"},
        signature_version="s3v4",
    )
    # A fresh session, not boto3's shared default one: sessions are not thread-safe and
    # the default one caches credentials for the life of the process.
    return boto3.session.Session().client("s3", config=config)


class S3Storage:
    """Objects in one bucket under one prefix, on AWS S3, Cloudflare R2, MinIO, ..."""

    def __init__(self, bucket: str, prefix: str = "", client: Any | None = None) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.endpoint = "the configured S3 endpoint"  # until a client tells us
        if client is None:
            with self._translate("connect"):  # e.g. ProfileNotFound for a bad AWS_PROFILE
                client = default_s3_client()
        self.client = client
        # drop any user:password@ from the URL: it ends up in messages
        parts = urlsplit(str(client.meta.endpoint_url))
        netloc = parts.netloc.rpartition("@")[2]
        self.endpoint = parts._replace(netloc=netloc).geturl()

    def describe(self) -> str:
        """E.g. "S3 bucket b, prefix p/ at http://127.0.0.1:5000"."""
        where = f", prefix {self.prefix}/" if self.prefix else ""
        return f"S3 bucket {self.bucket}{where} at {self.endpoint}"

    def _name(self, key: str) -> str:
        """The object name for a key (or a validated prefix)."""
        return f"{self.prefix}/{key}" if self.prefix else key

    def _error(self, exc: Exception, action: str, key: str | None) -> StorageError:
        what = f"{action} {key!r}" if key else action
        tail = " Nothing was saved." if action == "save" else ""
        if isinstance(exc, (bx.NoCredentialsError, bx.PartialCredentialsError)):
            return StorageError(
                f"No S3 credentials found for {self.describe()}. Set AWS_ACCESS_KEY_ID "
                f"and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE) in .streamlit/secrets.toml.{tail}"
            )
        if isinstance(exc, (bx.ConnectionError, bx.HTTPClientError)):
            why = "timed out" if "Timeout" in type(exc).__name__ else "connection failed"
            return StorageError(
                f"The S3 storage at {self.endpoint} cannot be reached ({why}) while "
                f"trying to {what}.{tail} Try again in a moment; if it persists, check "
                "AWS_ENDPOINT_URL and that the storage service is up."
            )
        if not isinstance(exc, bx.ClientError):  # ProfileNotFound, CredentialRetrievalError
            return StorageError(
                f"boto3 could not set up S3 access ({type(exc).__name__}). Check AWS_PROFILE "
                f"and ~/.aws/config, or set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY.{tail}"
            )
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", "?")
        code = str(exc.response.get("Error", {}).get("Code") or status)
        if code == "NoSuchBucket":
            return StorageError(
                f"The S3 bucket {self.bucket!r} does not exist at {self.endpoint}. Create "
                f"it, or fix the bucket name in PROMPTBOARD_STORAGE.{tail}"
            )
        if code in ("InvalidAccessKeyId", "SignatureDoesNotMatch"):
            return StorageError(
                f"The S3 storage at {self.endpoint} rejected the credentials ({code}). "
                f"Check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.{tail}"
            )
        if code in ("AccessDenied", "AllAccessDisabled", "403"):
            return StorageError(
                f"Access denied to {self.describe()} (trying to {what}). Give these "
                f"credentials read, write, list and delete rights there.{tail}"
            )
        # Only the code, never S3's own text: it can echo request details.
        return StorageError(
            f"The S3 storage at {self.endpoint} refused to {what} ({code}).{tail} Try "
            "again; if it keeps happening, check the storage service."
        )

    @contextmanager
    def _translate(self, action: str, key: str | None = None) -> Iterator[None]:
        """Turn botocore errors into StorageError (ObjectMissing for get of a missing key)."""
        try:
            yield
        except (bx.BotoCoreError, bx.ClientError) as exc:
            code = getattr(exc, "response", {}).get("Error", {}).get("Code")
            if action == "read" and key is not None and code in _S3_MISSING:
                message = f"Image {key!r} was not found in {self.describe()}."
                raise ObjectMissing(message, key) from exc
            raise self._error(exc, action, key) from exc

    def put(self, key: str, data: bytes, content_type: str) -> None:
        """PutObject; S3 has the object durably once it answers."""
        name = self._name(validate_key(key))
        with self._translate("save", key):
            self.client.put_object(
                Bucket=self.bucket, Key=name, Body=data, ContentType=content_type
            )

    def get(self, key: str) -> bytes:
        """GetObject's body, or ObjectMissing."""
        name = self._name(validate_key(key))
        with self._translate("read", key):
            response = self.client.get_object(Bucket=self.bucket, Key=name)
            return bytes(response["Body"].read())

    def exists(self, key: str) -> bool:
        """HeadObject: True if stored, False on 404."""
        name = self._name(validate_key(key))
        with self._translate("check", key):
            try:
                self.client.head_object(Bucket=self.bucket, Key=name)
            except bx.ClientError as exc:
                if exc.response.get("Error", {}).get("Code") in _S3_MISSING:
                    return False
                raise
        return True

    def delete(self, keys: Iterable[str]) -> None:
        """DeleteObjects in batches of 1000; S3 counts missing keys as deleted."""
        self._delete_names([self._name(validate_key(key)) for key in keys])

    def _delete_names(self, names: list[str]) -> None:
        for start in range(0, len(names), _S3_BATCH):
            batch = [{"Key": name} for name in names[start : start + _S3_BATCH]]
            with self._translate("delete"):
                response = self.client.delete_objects(
                    Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True}
                )
            if errors := response.get("Errors"):
                raise StorageError(
                    f"The S3 storage at {self.endpoint} could not delete {len(errors)} of "
                    f"{len(batch)} objects ({errors[0].get('Code')}). Try again; if it "
                    "keeps happening, check that the credentials may delete."
                )

    def _objects(self, prefix: str) -> Iterator[tuple[str, int]]:
        """(object name, size) for every object under our prefix + ``prefix``."""
        with self._translate("list"):
            paginator = self.client.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self._name(prefix)):
                for item in page.get("Contents", []):
                    yield item["Key"], int(item["Size"])

    def delete_prefix(self, prefix: str) -> int:
        """Remove every key starting with ``prefix``; "" is refused."""
        validate_prefix(prefix, allow_empty=False)
        names = [name for name, _ in self._objects(prefix)]
        self._delete_names(names)
        return len(names)

    def list_keys(self, prefix: str = "") -> list[str]:
        """Sorted keys starting with ``prefix`` (ListObjectsV2, paginated)."""
        skip = len(self.prefix) + 1 if self.prefix else 0
        return sorted(name[skip:] for name, _ in self._objects(validate_prefix(prefix)))

    def url(self, key: str, expires_s: int = 3600) -> str | None:
        """A presigned GET URL valid for ``expires_s`` seconds (1 s to 7 days)."""
        name = self._name(validate_key(key))
        if not 1 <= expires_s <= 7 * 24 * 3600:
            raise ValueError(f"expires_s must be 1 to 604800 seconds, not {expires_s}.")
        params = {"Bucket": self.bucket, "Key": name}
        with self._translate("sign a URL for", key):
            return str(self.client.generate_presigned_url("get_object", params, expires_s))

    def usage(self) -> tuple[int, int]:
        """(object count, total bytes) under the prefix."""
        sizes = [size for _, size in self._objects("")]
        return len(sizes), sum(sizes)
