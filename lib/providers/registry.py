"""The provider registry: every image API Promptboard knows, in one place.

To add a provider: write ``lib/providers/<name>.py`` with a ``Provider``
subclass (see ``base.py``), add it to ``_CLASSES`` below, document it in
README.md, and add its fake server and tests under ``tests/``.

OpenAI-compatible endpoints (``compat-<name>``, ``lib/providers/compatible.py``) come from
configuration, not code: :func:`reload` reads it (``lib/providers/endpoints.py``) at import
and appends one class per valid endpoint to ``PROVIDERS``; what was wrong with the others is
logged and kept for Admin → Providers (:func:`endpoint_problems`).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import requests

from lib.core.clock import Clock
from lib.core.errors import PromptboardError
from lib.providers import endpoints
from lib.providers.a1111 import A1111Provider
from lib.providers.base import DEFAULT_TIMEOUT, ModelLine, Provider
from lib.providers.bfl import BFLProvider
from lib.providers.fal import FalProvider
from lib.providers.gemini import GeminiProvider
from lib.providers.openai_images import OpenAIImagesProvider
from lib.providers.replicate import ReplicateProvider
from lib.providers.sandbox import SandboxProvider
from lib.providers.stability import StabilityProvider

_CLASSES: tuple[type[Provider], ...] = (
    SandboxProvider,
    GeminiProvider,
    OpenAIImagesProvider,
    StabilityProvider,
    A1111Provider,
    ReplicateProvider,
    BFLProvider,
    FalProvider,
)
BUILT_IN: dict[str, type[Provider]] = {cls.id: cls for cls in _CLASSES}
PROVIDERS: dict[str, type[Provider]] = dict(BUILT_IN)  # plus the configured endpoints
_problems: list[str] = []
log = logging.getLogger(__name__)


def reload() -> list[str]:
    """Read the endpoints configuration again: ``PROVIDERS`` becomes the built-in providers
    plus one class per valid endpoint (changed in place; built-in ids never disappear, even
    for a moment). Returns, logs and keeps the problems with the other entries."""
    loaded = endpoints.load()
    fresh = {cls.id: cls for cls in loaded.classes if cls.id not in BUILT_IN}
    for stale in [pid for pid in PROVIDERS if pid not in BUILT_IN and pid not in fresh]:
        del PROVIDERS[stale]
    PROVIDERS.update(fresh)
    _problems[:] = loaded.problems
    for problem in loaded.problems:
        log.warning("OpenAI-compatible endpoints: %s", problem)
    return list(loaded.problems)


def endpoint_problems() -> list[str]:
    """What was wrong with the endpoints configuration at the last :func:`reload`."""
    return list(_problems)


class UnknownProvider(PromptboardError, KeyError):
    """No provider has that id."""

    def __str__(self) -> str:
        return f"Unknown provider {self.args[0]!r}; known: {', '.join(sorted(PROVIDERS))}."


def get(provider_id: str) -> type[Provider]:
    """The provider class for an id."""
    try:
        return PROVIDERS[provider_id]
    except KeyError:
        raise UnknownProvider(provider_id) from None


def _env(name: str | None) -> str | None:
    if not name:
        return None
    value = os.environ.get(name, "").strip()
    return value or None


def is_configured(cls: type[Provider]) -> bool:
    """True when the provider has what it needs (a key, or a server address)."""
    if cls.key_env:
        return _env(cls.key_env) is not None
    if cls.base_url_env and not cls.default_base_url:
        return _env(cls.base_url_env) is not None
    return True


def create(
    provider_id: str,
    session: requests.Session | None = None,
    timeout: float | None = None,
    clock: Clock | None = None,
) -> Provider:
    """An instance with key, base URL and timeout read from the environment now.

    ``clock`` is the engine's: the provider's idea of today (model shutdown dates) follows it.
    """
    cls = get(provider_id)
    if timeout is None:
        timeout = float(os.environ.get("PROMPTBOARD_HTTP_TIMEOUT") or DEFAULT_TIMEOUT)
    made = cls(
        session=session,
        base_url=_env(cls.base_url_env) or cls.default_base_url,
        timeout=timeout,
        api_key=_env(cls.key_env),
    )
    return made if clock is None else made.on_date(lambda: clock.now().date())


def bare(provider_id: str, clock: Clock, line: ModelLine | None = None) -> Provider:
    """An instance without key or URL, for preflight checks and estimates, on ``clock``,
    with the models of ``line`` (a database's catalog; the shipped one without)."""
    made = get(provider_id)().on_date(lambda: clock.now().date())
    if line is not None:
        made.line = line
    return made


@dataclass(frozen=True)
class ProviderStatus:
    """What the UI shows about one provider."""

    id: str
    label: str
    configured: bool
    hint: str


def statuses() -> list[ProviderStatus]:
    """Every provider, configured or not, sandbox first."""
    return [
        ProviderStatus(cls.id, cls.label, is_configured(cls), cls.configure_hint())
        for cls in PROVIDERS.values()
    ]


def available() -> list[str]:
    """Ids of the providers that can run now."""
    return [s.id for s in statuses() if s.configured]


reload()
