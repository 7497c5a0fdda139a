"""Image bytes on local disk: one file per key under data/images (see lib.storage.base).

Writes go to a temp file beside the target, are fsync'ed and renamed over it, so a reader
never sees half an image and a crash leaves the old bytes or the new ones.
"""

from __future__ import annotations

import errno
import os
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import suppress
from pathlib import Path

from lib.core.fsperm import private_dir
from lib.storage.base import ObjectMissing, StorageError, validate_key, validate_prefix

_TMP_PREFIX = ".tmp-"  # no key part starts with ".", so a temp file is never a key


class LocalStorage:
    """Files under one folder (created on first write); keys map to relative paths."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root).expanduser().resolve()
        if self.root.is_dir():
            private_dir(self.root)  # an older install made it with the umask's mode

    def describe(self) -> str:
        """E.g. "local disk at /srv/promptboard/data/images"."""
        return f"local disk at {self.root}"

    def _path(self, key: str) -> Path:
        path = self.root.joinpath(*validate_key(key).split("/"))
        # validate_key already forbids "..", but a symlink inside root could lead out.
        if not path.resolve().is_relative_to(self.root):
            raise ValueError(f"Storage key {key!r} points outside {self.root}.")
        return path

    def _error(self, exc: OSError, action: str, key: str) -> StorageError:
        tail = " Nothing was saved." if action == "save" else ""
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return StorageError(
                f"The image store is full (disk at {self.root} has no space left). "
                "Free some space or move images to S3; nothing was saved."
            )
        if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            verb = "read" if action == "read" else "write to"
            why = "read-only disk" if exc.errno == errno.EROFS else "permission denied"
            return StorageError(
                f"Promptboard cannot {verb} {self.root} ({why}). Give the user running "
                "Promptboard access to that folder, or set PROMPTBOARD_DATA_DIR to a "
                f"writable place.{tail}"
            )
        name = errno.errorcode.get(exc.errno or 0, "unknown error")
        return StorageError(
            f"Could not {action} {key!r} on local disk at {self.root} ({name}: "
            f"{exc.strerror}).{tail} Try again; if it keeps happening, check the disk."
        )

    def _make_dirs(self, directory: Path) -> list[Path]:
        """Create ``directory`` and missing parents with mode 0o700; return new ones."""
        missing = []
        while not directory.is_dir():
            missing.append(directory)
            directory = directory.parent
        for path in reversed(missing):
            with suppress(FileExistsError):  # a concurrent put made it first
                path.mkdir(mode=0o700)
        return missing

    def put(self, key: str, data: bytes, content_type: str) -> None:
        """Write a temp file beside the target, fsync it, rename it over the target."""
        path = self._path(key)
        tmp: str | None = None
        try:
            created = self._make_dirs(path.parent)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=_TMP_PREFIX)  # mode 0o600
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, path)
            tmp = None
            # make the rename and any new folders survive a crash, not just the bytes
            for directory in {path.parent, *(d.parent for d in created)}:
                _fsync_dir(directory)
        except OSError as exc:
            raise self._error(exc, "save", key) from exc
        finally:
            if tmp is not None:
                with suppress(FileNotFoundError):
                    os.unlink(tmp)

    def get(self, key: str) -> bytes:
        """The file's bytes, or ObjectMissing."""
        path = self._path(key)
        try:
            return path.read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as exc:
            message = f"Image {key!r} was not found in {self.describe()}."
            raise ObjectMissing(message, key) from exc
        except OSError as exc:
            raise self._error(exc, "read", key) from exc

    def exists(self, key: str) -> bool:
        """Whether a file is stored under ``key``."""
        return self._path(key).is_file()

    def delete(self, keys: Iterable[str]) -> None:
        """Remove files; missing ones are fine."""
        # Emptied folders stay: a concurrent put may be about to write into them.
        paths = [(key, self._path(key)) for key in keys]  # validate all, then remove
        for key, path in paths:
            try:
                path.unlink()
            except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
                pass  # not stored (a directory "a" is not an object "a")
            except OSError as exc:
                raise self._error(exc, "delete", key) from exc

    def delete_prefix(self, prefix: str) -> int:
        """Remove every key starting with ``prefix``; "" is refused."""
        validate_prefix(prefix, allow_empty=False)
        keys = self.list_keys(prefix)
        self.delete(keys)
        return len(keys)

    def _walk(self, prefix: str) -> Iterator[tuple[str, Path]]:
        base = prefix.rpartition("/")[0]
        start = self.root.joinpath(*base.split("/")) if base else self.root
        for dirpath, dirnames, filenames in os.walk(start):
            dirnames[:] = [d for d in dirnames if not d.startswith(".")]
            rel = Path(dirpath).relative_to(self.root).as_posix()
            for name in filenames:
                key = name if rel == "." else f"{rel}/{name}"
                if not name.startswith(".") and key.startswith(prefix):  # skip temp files
                    yield key, Path(dirpath, name)

    def list_keys(self, prefix: str = "") -> list[str]:
        """Sorted keys starting with ``prefix``."""
        return sorted(key for key, _ in self._walk(validate_prefix(prefix)))

    def url(self, key: str, expires_s: int = 3600) -> str | None:
        """None: the app serves local files itself."""
        validate_key(key)
        return None

    def usage(self) -> tuple[int, int]:
        """(file count, total bytes) under root."""
        count = size = 0
        for _, path in self._walk(""):
            with suppress(FileNotFoundError):  # deleted while we walked
                size += path.stat().st_size
                count += 1
        return count, size


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
