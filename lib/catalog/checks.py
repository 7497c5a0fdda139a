"""Model checks: ask each provider for its model list or lookup (``lib/providers/
discovery.py``), keep the outcome in ``model_checks``, and do it daily by itself for every
provider with a key.

"Check models" on Admin → Models runs :func:`check_now` at once; :class:`Checker` (a thread
the engine starts with its workers, every ``PROMPTBOARD_MODEL_CHECK_HOURS``, 0 = never)
runs :func:`run_due`. With several processes on one PostgreSQL database each provider is
checked by whichever process claims it first (:func:`claim`, one guarded write), so the
providers see one call a day, not one per process. A check never enables anything: it
lists what is new and what vanished, and an admin decides (``store.enable``).
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from lib.core.context import Services
from lib.providers import discovery, registry
from lib.providers.base import Provider
from lib.providers.errors import ProviderError
from lib.providers.http import redact

log = logging.getLogger(__name__)

CHECK_TIMEOUT_S = 20.0
MAX_IDS = 2000  # a hostile or enormous list is cut to this many ids when kept


@dataclass(frozen=True)
class LastCheck:
    """The outcome of a provider's latest check."""

    provider: str
    checked_at: datetime
    listed: int | None  # None: no list (or the check failed: see ``error``)
    new: tuple[str, ...]
    gone: tuple[str, ...]
    error: str
    deprecated: tuple[str, ...] = ()  # marked deprecated by the provider (fal's lookup)


def lists_models(cls: type[Provider]) -> bool:
    """True when the provider's API has a model list or a model lookup Promptboard reads."""
    return (cls.list_models is not Provider.list_models
            or cls.lookup_models is not Provider.lookup_models)


def check_now(svc: Services, provider_id: str, today: date,
              timeout: float = CHECK_TIMEOUT_S) -> discovery.Discovery | str:
    """The provider's list against this database's catalog, or a message saying why it could
    not be checked; never raises, never shows a key. The outcome is kept (``latest``)."""
    cls = registry.get(provider_id)
    if not registry.is_configured(cls):
        return f"{cls.label} is not configured. {cls.configure_hint()}"
    key = os.environ.get(cls.key_env or "", "").strip() or None
    found: discovery.Discovery | str
    try:
        provider = svc.provider(provider_id)
        provider.timeout = min(provider.timeout, timeout)
        found = discovery.check(provider, today)
    except ProviderError as exc:
        found = redact(str(exc), key)
    except Exception as exc:  # noqa: BLE001 - a button and a thread must answer, whatever
        log.warning("model check of %s failed unexpectedly: %s", provider_id,
                    redact(repr(exc), key))
        found = (f"Checking {cls.label}'s models failed unexpectedly "
                 f"({type(exc).__name__}); the server log has details.")
    record(svc, provider_id, found)
    return found


def _ids(ids: tuple[str, ...]) -> str:
    return "\n".join(i.replace("\n", " ")[:200] for i in ids[:MAX_IDS])


def record(svc: Services, provider_id: str, found: discovery.Discovery | str) -> None:
    """Keep the outcome of a check as the provider's latest."""
    now = svc.clock.now()
    if isinstance(found, str):
        values = [now, None, "", "", found[:1000], ""]
    else:
        listed = None if found.listed is None else str(len(found.listed))
        values = [now, listed, _ids(found.new), _ids(found.gone), "", _ids(found.deprecated)]
    with svc.db.write() as cur:
        cur.execute("DELETE FROM model_checks WHERE provider=?", [provider_id])
        cur.execute("INSERT INTO model_checks (provider, checked_at, listed, new_ids, gone_ids, "
                    "error, deprecated_ids) VALUES (?,?,?,?,?,?,?)", [provider_id, *values])


def latest(svc: Services) -> dict[str, LastCheck]:
    """Each provider's latest check."""
    out: dict[str, LastCheck] = {}
    for pid, at, listed, new, gone, error, deprecated in svc.db.fetchall(
            "SELECT provider, checked_at, listed, new_ids, gone_ids, error, deprecated_ids "
            "FROM model_checks"):
        out[pid] = LastCheck(pid, at, None if listed is None else int(listed), _split(new),
                             _split(gone), str(error), _split(deprecated))
    return out


def _split(ids: object) -> tuple[str, ...]:
    return tuple(x for x in str(ids or "").split("\n") if x)


def claim(svc: Services, provider_id: str, every: timedelta) -> bool:
    """Take the provider's next check when it is due: True for exactly one caller per period,
    whichever process asks first (the write lock serialises the test and the mark)."""
    now = svc.clock.now()
    with svc.db.write() as cur:
        row = cur.execute("SELECT checked_at FROM model_checks WHERE provider=?",
                          [provider_id]).fetchone()
        if row is not None and row[0] > now - every:
            return False
        if row is None:
            cur.execute("INSERT INTO model_checks (provider, checked_at) VALUES (?,?)",
                        [provider_id, now])
        else:
            cur.execute("UPDATE model_checks SET checked_at=? WHERE provider=?",
                        [now, provider_id])
    return True


def run_due(svc: Services, every: timedelta) -> list[str]:
    """Check every configured provider with a model list whose last check is older than
    ``every``; return the ids checked."""
    done = []
    for cls in registry.PROVIDERS.values():
        if lists_models(cls) and registry.is_configured(cls) and claim(svc, cls.id, every):
            check_now(svc, cls.id, svc.clock.now().date())
            done.append(cls.id)
    return done


class Checker:
    """A daemon thread running :func:`run_due` about hourly; ``stop`` ends it."""

    def __init__(self, svc: Services, every: timedelta, tick_s: float = 3600.0,
                 errors: list[BaseException] | None = None) -> None:
        self.svc, self.every, self.tick_s = svc, every, tick_s
        self.errors: list[BaseException] = [] if errors is None else errors
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="promptboard-model-checks",
                                        daemon=True)

    def start(self) -> Checker:
        """Start the thread."""
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop after the current check."""
        self._stop.set()
        self._thread.join(timeout)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                run_due(self.svc, self.every)
            except Exception as exc:  # noqa: BLE001 - the thread must outlive one bad round
                if self._stop.is_set():
                    return
                log.exception("a model check round failed; trying again in an hour")
                self.errors.append(exc)
            self._stop.wait(self.tick_s)
