"""Where image bytes live: one small interface, a local-disk and an S3 implementation.

::

    lib.storage.base      Storage (protocol), StorageError, ObjectMissing, validate_key/prefix
    lib.storage.local     LocalStorage: files under data/images
    lib.storage.s3        S3Storage: any S3-compatible store; needs boto3, loaded only when used

    from_settings(settings) picks one from PROMPTBOARD_STORAGE ("local" | "s3://bucket/prefix")

The interface and errors are re-exported here: ``from lib import storage; storage.Storage``.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from lib.storage.base import (
    ObjectMissing,
    Storage,
    StorageError,
    validate_key,
    validate_prefix,
)
from lib.storage.local import LocalStorage

if TYPE_CHECKING:
    from lib.core.config import Settings

__all__ = [
    "LocalStorage",
    "ObjectMissing",
    "Storage",
    "StorageError",
    "from_settings",
    "parse_storage_url",
    "validate_key",
    "validate_prefix",
]

_S3_URL_RE = re.compile(
    r"s3://(?P<bucket>[A-Za-z0-9][A-Za-z0-9._-]{1,254})"
    r"(?:/(?P<prefix>[A-Za-z0-9._-]+(?:/[A-Za-z0-9._-]+)*))?/?"
)


def parse_storage_url(value: str) -> tuple[str, str, str]:
    """Split PROMPTBOARD_STORAGE into (kind, bucket, prefix); ValueError if malformed."""
    text = value.strip()
    if text.lower() == "local":
        return "local", "", ""
    match = _S3_URL_RE.fullmatch(text)
    if match and ".." not in (match["prefix"] or "").split("/"):
        return "s3", match["bucket"], match["prefix"] or ""
    # Echo the value to help spot a typo, unless it may carry a secret.
    shown = "" if "@" in text or "?" in text else f", not {text!r}"
    raise ValueError(
        f"PROMPTBOARD_STORAGE must be `local` or `s3://bucket/prefix`{shown}. "
        "Credentials and the endpoint go in AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY "
        "and AWS_ENDPOINT_URL, not in this value."
    )


def from_settings(settings: Settings) -> Storage:
    """The Storage ``settings.storage`` names: local disk under images_dir, or S3."""
    kind, bucket, prefix = parse_storage_url(settings.storage)
    if kind == "local":
        return LocalStorage(settings.images_dir)
    from lib.storage.s3 import S3Storage  # boto3 loads only when S3 is used

    return S3Storage(bucket, prefix)
