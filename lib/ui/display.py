"""How values read on screen: money, durations and a job status's icon."""

from __future__ import annotations

from lib import jobs
from lib.core import fmt

STATUS_ICONS = {
    jobs.QUEUED: ":material/schedule:",
    jobs.RUNNING: ":material/autorenew:",
    jobs.SUCCEEDED: ":material/check_circle:",
    jobs.FAILED: ":material/error:",
    jobs.CANCELLED: ":material/cancel:",
}

money = fmt.money  # the one money format (lib/core/fmt.py), under the name screens use


def seconds(ms: int | None) -> str:
    """A duration for display."""
    return "—" if ms is None else f"{ms / 1000:.1f} s"
