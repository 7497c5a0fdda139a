"""Everything under the data dir is private to the user running Promptboard (finding 14)."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from lib.auth import accounts as auth
from lib.auth.cookies import cookie_key
from lib.core import config
from lib.core.fsperm import private_dir, private_file
from lib.engine import Engine


@pytest.fixture
def loose_umask() -> Iterator[None]:
    """A umask that would make files 0644 and folders 0755, as on most servers."""
    old = os.umask(0o022)
    yield
    os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_data_dir_and_everything_the_app_writes_in_it_are_private(
    loose_umask: None,
) -> None:
    settings = config.load()
    settings.data_dir.rmdir()  # the autouse fixture made it with the umask's mode
    eng = Engine(settings)
    try:
        auth.create_user(eng.db, "ann", "Ann", None, "member", "a long password",
                         now=eng.clock.now())  # a write: DuckDB has a WAL now
        eng.storage.put("images/2026/a.png", b"png bytes", "image/png")
        cookie_key(settings)
        wal = settings.db_path.with_name(settings.db_path.name + ".wal")
        assert wal.exists()
        found = [settings.data_dir, *settings.data_dir.rglob("*")]
        assert {settings.db_path, wal, settings.images_dir} <= set(found)
        loose = {str(p.relative_to(settings.data_dir)): oct(_mode(p)) for p in found
                 if _mode(p) & 0o077}
        assert loose == {}
        assert all(_mode(p) == 0o700 for p in found if p.is_dir())
    finally:
        eng.close()


def test_an_older_install_with_readable_files_is_tightened_at_start(loose_umask: None) -> None:
    settings = config.load()
    eng = Engine(settings)
    eng.storage.put("images/a.png", b"png bytes", "image/png")
    eng.close()
    for path, mode in ((settings.data_dir, 0o755), (settings.images_dir, 0o755),
                       (settings.db_path, 0o644)):
        os.chmod(path, mode)
    eng = Engine(config.load())
    try:
        assert _mode(settings.data_dir) == 0o700
        assert _mode(settings.images_dir) == 0o700
        assert _mode(settings.db_path) == 0o600
    finally:
        eng.close()


def test_private_helpers_leave_missing_files_alone_and_make_missing_folders(
    tmp_path: Path, loose_umask: None,
) -> None:
    private_file(tmp_path / "nothing-here")
    made = private_dir(tmp_path / "a" / "b")
    assert made.is_dir() and _mode(made) == 0o700
    assert not (tmp_path / "nothing-here").exists()
