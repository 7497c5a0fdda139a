"""Private files and folders under the data dir: folders 0700, files 0600.

The DuckDB file holds bcrypt hashes, every prompt and every error text, so nobody but the user
running Promptboard should read it. New folders are created private; an existing folder or file
that others can read is tightened (with a log line), whatever the process umask. A path we
don't own (a shared mount, say) can't be changed: that is logged, not fatal.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

log = logging.getLogger(__name__)

DIR_MODE = 0o700
FILE_MODE = 0o600


def _tighten(path: Path, mode: int) -> None:
    try:
        current = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return
    if current & 0o077 == 0:
        return
    try:
        os.chmod(path, mode)
        log.info("%s was readable by others (mode %o): set it to %o", path, current, mode)
    except PermissionError:
        log.warning("%s is readable by others (mode %o) and not ours to change: restrict it "
                    "so that only the user running Promptboard can read it", path, current)


def private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) if missing; make it 0700 either way."""
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    _tighten(path, DIR_MODE)
    return path


def private_file(path: Path) -> None:
    """Make an existing file 0600; a missing one is fine."""
    _tighten(path, FILE_MODE)
