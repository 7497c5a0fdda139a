"""The engine: settings, database, storage, providers, workers and the webhook dispatcher,
wired once per process.

The dashboard builds one in ``st.cache_resource``; the CLI and the tests build
their own. Everything is injectable (storage, clock, provider factory) so
tests can swap parts without patching.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from datetime import timedelta

from lib import audit, replica
from lib import storage as storage_mod
from lib.catalog import book as catalog
from lib.catalog import checks
from lib.catalog import store as catalog_store
from lib.core import config
from lib.core.clock import Clock
from lib.core.fsperm import private_dir
from lib.db.database import Database
from lib.jobs.claim import recover
from lib.jobs.retry import RetryPolicy
from lib.jobs.worker import WorkerPool
from lib.money import costs
from lib.providers import registry
from lib.providers.base import Provider
from lib.styles import library as styles
from lib.webhooks import Dispatcher
from lib.webhooks import Policy as WebhookPolicy

log = logging.getLogger(__name__)


class Engine:
    """Everything a page, the CLI or a worker needs, for one data dir."""

    def __init__(
        self,
        settings: config.Settings | None = None,
        *,
        storage: storage_mod.Storage | None = None,
        clock: Clock | None = None,
        provider_factory: Callable[[str], Provider] | None = None,
        retry_policy: RetryPolicy | None = None,
        webhook_policy: WebhookPolicy | None = None,
    ) -> None:
        self.settings = settings or config.load()
        private_dir(self.settings.data_dir)  # hashes, prompts, keys: 0700 (finding 14)
        self.db = Database(self.settings.database)
        self.storage = storage or storage_mod.from_settings(self.settings)
        self.clock = clock or Clock()
        self._provider_factory = provider_factory or self._registry_provider
        self.retry_policy = retry_policy or RetryPolicy()
        self.internal_errors: list[BaseException] = []
        self.pool: WorkerPool | None = None
        self.webhook_policy = webhook_policy or WebhookPolicy()
        self.webhooks: Dispatcher | None = None  # started with the workers
        self.model_checks: checks.Checker | None = None  # likewise, unless turned off
        if self.settings.replica:
            try:
                replica.check(self, os.environ.get("PROMPTBOARD_COOKIE_KEY", "").strip())
            except BaseException:
                self.db.close()
                raise
        costs.seed_prices(self.db)
        catalog_store.sync_seed(self.db, self.clock.now())
        styles.seed(self.db, self.clock.now())
        pruned = audit.prune(self.db, self.clock.now(), self.settings.audit_retention_days)
        if pruned:
            log.info("audit log: pruned %d rows older than %d days", pruned,
                     self.settings.audit_retention_days)

    def models(self) -> catalog.Book:
        """The model catalog of this database (offered models, defaults, shutdowns)."""
        return catalog.book(self.db)

    def provider(self, provider_id: str) -> Provider:
        """A provider instance for one call, with this database's models and shutdowns."""
        made = self._provider_factory(provider_id)
        if provider_id in registry.PROVIDERS:
            made.line = self.models().line(provider_id)
        return made

    def _registry_provider(self, provider_id: str) -> Provider:
        """The registry's provider, judging model shutdowns by this engine's clock."""
        return registry.create(provider_id, clock=self.clock)

    def start_workers(
        self, threads: int | None = None, only: frozenset[str] | None = None
    ) -> WorkerPool | None:
        """Recover jobs a dead process left running (on PostgreSQL: those whose lease ran
        out), then start the worker threads and the webhook dispatcher (it sends what a
        previous process left pending, too). With no threads (``PROMPTBOARD_WORKERS=0`` on
        PostgreSQL) this process runs no jobs: ``lib.cli work`` processes do."""
        threads = self.settings.workers if threads is None else threads
        if self.pool is None and threads > 0:
            recover(self)
            self.pool = WorkerPool(self, threads, only, errors=self.internal_errors).start()
        if self.webhooks is None:
            self.webhooks = Dispatcher(self, self.webhook_policy,
                                       errors=self.internal_errors).start()
        if self.model_checks is None and self.settings.model_check_hours > 0:
            every = timedelta(hours=self.settings.model_check_hours)
            self.model_checks = checks.Checker(self, every, errors=self.internal_errors).start()
        return self.pool

    def wake_workers(self) -> None:
        """Nudge idle workers after a submit or a retry."""
        if self.pool is not None:
            self.pool.wake()

    def close(self, wait_s: float = 5.0) -> None:
        """Stop workers and the dispatcher and release the database file; running jobs resume
        and pending webhooks are sent at the next start."""
        if self.webhooks is not None:
            self.webhooks.stop(wait_s)
            self.webhooks = None
        if self.model_checks is not None:
            self.model_checks.stop(wait_s)
            self.model_checks = None
        if self.pool is not None:
            self.pool.stop(wait_s)
            self.pool = None
        self.db.close()
