"""Named crash points for the kill-and-restart tests.

``crash_point("after_store")`` kills this process with SIGKILL when the
environment variable ``PROMPTBOARD_CRASH_AT`` names that point, so tests can
stop a worker at an exact moment of the pipeline and prove restart recovery.
In normal use the variable is unset and the call costs one dict lookup.
"""

from __future__ import annotations

import os
import signal

POINTS = ("after_claim", "after_generate", "after_store", "after_commit")


def crash_point(name: str) -> None:
    """Die here, abruptly, if PROMPTBOARD_CRASH_AT says so."""
    if os.environ.get("PROMPTBOARD_CRASH_AT") == name:
        os.kill(os.getpid(), signal.SIGKILL)
