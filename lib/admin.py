"""What the Admin page shows beyond ``lib.auth``: providers, a connection test, storage, users.

No Streamlit here. Every message returned is meant for a person and never holds a key:
``test_provider`` runs the text of any failure through ``lib.providers.http.redact``.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import pandas as pd

from lib.auth import accounts as auth
from lib.catalog import book as catalog
from lib.core.fmt import plural
from lib.db.database import Database
from lib.providers import registry
from lib.providers.errors import ProviderError
from lib.providers.http import redact
from lib.providers.types import ModelLine
from lib.storage.base import StorageError

if TYPE_CHECKING:
    from lib.core.context import Services

log = logging.getLogger(__name__)

TEST_TIMEOUT_S = 10.0
USER_COLUMNS = ("Username", "Name", "E-mail", "Role", "Status", "Sign-in", "Last sign-in (UTC)",
                "Created")


@dataclass(frozen=True)
class ProviderRow:
    """One provider as the Admin page lists it."""

    id: str
    label: str
    configured: bool
    hint: str
    description: str
    models: int
    default_model: str
    open_models: bool
    images: int  # images the team has made with it

    @property
    def detail(self) -> str:
        """Models and use when configured, else how to configure it."""
        if not self.configured:
            return self.hint
        models = "any model id" if self.open_models else plural(self.models, "model")
        return f"{models}, default {self.default_model} · {plural(self.images, 'image')} made"


def provider_rows(engine: Services) -> list[ProviderRow]:
    """Every registered provider, sandbox first, with its models and how much it was used."""
    used = dict(engine.db.fetchall("SELECT provider, count(*) FROM images GROUP BY provider"))
    rows = []
    for status in registry.statuses():
        cls = registry.get(status.id)
        line, today = catalog.book(engine.db).line(status.id), engine.clock.now().date()
        rows.append(ProviderRow(
            status.id, status.label, status.configured, status.hint, cls.description,
            len(line.live(today)), line.default_on(today), cls.caps.open_models,
            int(used.get(status.id, 0))))
    return rows


def test_provider(provider_id: str, timeout: float = TEST_TIMEOUT_S,
                  line: ModelLine | None = None) -> tuple[bool, str]:
    """(ok, message) from the provider's own cheap check (with ``line``, the database's
    models: Gemini and OpenAI look up its default); never raises, never shows a key."""
    try:
        cls = registry.get(provider_id)
    except registry.UnknownProvider as exc:
        return False, str(exc)
    if not registry.is_configured(cls):
        return False, f"{cls.label} is not configured. {cls.configure_hint()}"
    key = os.environ.get(cls.key_env or "", "").strip() or None
    try:
        made = registry.create(provider_id, timeout=timeout)
        if line is not None:
            made.line = line
        return True, redact(made.test_connection(), key)
    except ProviderError as exc:
        return False, redact(str(exc), key)
    except Exception as exc:  # noqa: BLE001 - a test button must answer, whatever went wrong
        log.warning("connection test of %s failed unexpectedly: %s", provider_id,
                    redact(repr(exc), key))
        return False, (f"The connection test of {cls.label} failed unexpectedly "
                       f"({type(exc).__name__}); the server log has details.")


@dataclass(frozen=True)
class StorageSummary:
    """Where images go and how much is there."""

    where: str
    objects: int | None  # None when the store could not be read
    bytes: int | None
    image_rows: int
    image_bytes: int  # originals of generated (not demo) images, as recorded on their rows
    error: str | None = None
    demo_rows: int = 0  # demo images: their rows share a few sample files (lib/demo.py)

    @property
    def bytes_per_image(self) -> float | None:
        """Stored bytes (originals, thumbnails, references, previews) per generated image
        (demo images share sample files, so they are left out of this)."""
        real = self.image_rows - self.demo_rows
        if self.bytes is None or real <= 0:
            return None
        return self.bytes / real


def storage_summary(engine: Services) -> StorageSummary:
    """Counts from the store itself and from the images table; a store error is reported."""
    rows, image_bytes, demo_rows = engine.db.fetchone(
        "SELECT count(*), coalesce(sum(CASE WHEN demo THEN 0 ELSE bytes END), 0), "
        "count(*) FILTER (WHERE demo) FROM images") or (0, 0, 0)
    objects = size = error = None
    try:
        objects, size = engine.storage.usage()
    except StorageError as exc:
        error = str(exc)
    return StorageSummary(engine.storage.describe(), objects, size, int(rows), int(image_bytes),
                          error, int(demo_rows))


def human_size(n: float | None) -> str:
    """Bytes for people, in powers of 1000: "0 B", "950 B", "1.2 MB"."""
    if n is None:
        return "—"
    value = float(n)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(value) < 1000 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")


def _status(user: auth.User, now: datetime) -> str:
    if user.disabled:
        return "disabled"
    if user.is_locked(now) and user.locked_until is not None:
        return f"locked until {user.locked_until:%H:%M} UTC"
    return "active"


def user_label(user: auth.User) -> str:
    """"ann · Ann Lee · member" for pickers (the name only when it says more than the username)."""
    name = f" · {user.name}" if user.name != user.username else ""
    return f"{user.username}{name} · {user.role}" + (" · disabled" if user.disabled else "")


def _when(at: datetime | None) -> str:
    return "never" if at is None else f"{at:%Y-%m-%d %H:%M}"


def user_rows(db: Database, now: datetime) -> pd.DataFrame:
    """Every account for display: no hashes, a plain status, sign-in method and UTC times."""
    data = [(u.username, u.name, u.email or "", u.role, _status(u, now),
             "password" if u.has_password else "identity provider", _when(u.last_login_at),
             f"{u.created_at:%Y-%m-%d}") for u in auth.list_users(db)]
    return pd.DataFrame(data, columns=list(USER_COLUMNS))
