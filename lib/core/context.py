"""What the lower layers may use of the running process: the ``Services`` protocol.

The job queue, the pipeline, the worker pool, the storage clean-ups and the style
previews need the database, the storage, the clock, the settings and a provider by id;
the queue also nudges idle workers after a submit. They depend on this small protocol
instead of on :class:`lib.engine.Engine`, which satisfies it, so nothing below the engine
imports it (not even for type checking) and tests may pass any object with these parts.
The process lifecycle (closing, the list of internal errors) is not part of it: that
belongs to the engine and to the worker pool it starts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from lib.core.clock import Clock
    from lib.core.config import Settings
    from lib.db.database import Database
    from lib.jobs.retry import RetryPolicy
    from lib.providers.base import Provider
    from lib.storage.base import Storage


class Services(Protocol):
    """The parts of the process a job, a queue verb or a clean-up works with."""

    settings: Settings
    db: Database
    storage: Storage
    clock: Clock
    retry_policy: RetryPolicy

    def provider(self, provider_id: str) -> Provider:
        """A provider instance for one call."""
        ...

    def wake_workers(self) -> None:
        """Tell idle workers there may be work (a submit, a retry); a no-op without workers."""
        ...
