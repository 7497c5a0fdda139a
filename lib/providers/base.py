"""The provider interface: one image API behind one small class.

A provider turns a :class:`GenerationRequest` into HTTP and back into a
:class:`GenerationResult` (image bytes plus *raw usage*; money is computed in
``lib.money.costs``, never here). Anything that goes wrong becomes a
:class:`ProviderError` (the tree is in ``lib/providers/errors.py``; the names are
re-exported here).

The base enforces what every provider shares, so a provider is its capabilities, a request
builder, a response reader and its special errors:

* :meth:`Provider.check`: the shutdown date, the provider's :meth:`Provider.check_special`,
  then ``checks.check_request`` against :meth:`Provider.model_caps`. ``preflight`` runs it
  before a job is queued and ``generate`` before its first call.
* :meth:`Provider._send`: every call, with the provider's session, timeout, label, hint and
  :meth:`Provider.auth_headers`; error replies end in ``errors.status_error``, the default
  status map (Retry-After on 429 and on every retryable status).
* ``lib/providers/sizing.py``: the one nearest-ratio metric and size-for-ratio rule.

Model lifecycle: a provider lists the models its maker shuts down in ``shutdowns``
(date and replacement). From that date :meth:`Provider.refuse_if_shut_down` refuses
them, naming the replacement; the date is the engine clock's (:meth:`Provider.on_date`),
so tests move a FakeClock across it. Old jobs and images of a shut-down model stay readable.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, ClassVar, Protocol, Self

import requests

from lib.providers import checks, http
from lib.providers.errors import (  # noqa: F401 - re-exported: many modules import them here
    ERROR_TYPES,
    BadResponse,
    Cancelled,
    NeedsKey,
    ProviderError,
    QuotaExhausted,
    RateLimited,
    Rejected,
    SafetyBlocked,
    Unavailable,
    Uncertain,
)

# --------------------------------------------------------------------------- data


@dataclass(frozen=True)
class Capabilities:
    """What a provider can do; the Generate form is built from this."""

    models: tuple[str, ...]
    default_model: str
    open_models: bool = False  # any model id is accepted (e.g. Replicate)
    sizes: tuple[str, ...] = ()  # "WxH" strings; empty when the API takes aspect ratios
    aspect_ratios: tuple[str, ...] = ()  # "16:9" strings
    default_size: str | None = None
    qualities: tuple[str, ...] = ()
    default_quality: str | None = None
    max_n: int = 1
    open_sizes: bool = False  # any size or ratio is taken; sizes/aspect_ratios are presets
    max_reference_images: int = 0
    negative_prompt: bool = False
    seed: bool = False
    max_seed: int = 2**32 - 1  # the largest seed the model takes (0 is the smallest)
    max_prompt_chars: int = 4000
    style_presets: tuple[str, ...] = ()
    reports_progress: bool = False  # real progress from the provider
    cancellable: bool = False  # the provider has a cancel call


@dataclass(frozen=True)
class GenerationRequest:
    """One call to a provider; the prompt already has the style template applied."""

    prompt: str
    model: str
    width: int | None = None
    height: int | None = None
    aspect_ratio: str | None = None
    quality: str | None = None
    n: int = 1
    seed: int | None = None
    negative_prompt: str | None = None
    style_preset: str | None = None
    reference_images: tuple[bytes, ...] = ()  # PNG bytes, validated by lib.imaging.images
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def size(self) -> str | None:
        """``"WxH"`` when both sides are set."""
        if self.width and self.height:
            return f"{self.width}x{self.height}"
        return None


@dataclass(frozen=True)
class GeneratedImage:
    """One image as the provider returned it."""

    data: bytes
    mime_type: str = "image/png"
    seed: int | None = None


@dataclass
class GenerationResult:
    """Images plus the raw usage the provider reported (tokens, images, credits, seconds)."""

    images: list[GeneratedImage]
    usage: dict[str, float] = field(default_factory=dict)
    request_id: str | None = None
    seed: int | None = None
    model: str | None = None


class JobContext(Protocol):
    """What a running job offers a provider: progress, cancellation and resumable state.

    ``state`` is what the provider saved with :meth:`save_state` during an earlier
    attempt of the same job (e.g. a Replicate prediction id), so a retry or a restart
    after a crash resumes that run instead of paying for a new one.
    """

    @property
    def attempt(self) -> int:
        """Which attempt of the job this is (1 for the first)."""

    @property
    def state(self) -> dict[str, Any]:
        """What an earlier attempt saved; providers read it, never assign it."""

    def save_state(self, state: dict[str, Any]) -> None:
        """Persist small JSON-safe provider state on the job row, at once."""

    def report_progress(self, fraction: float, note: str | None = None) -> None:
        """Record real progress (0..1) with an optional short note."""

    def cancel_requested(self) -> bool:
        """True once the user has asked to cancel this job."""


class NullContext:
    """A context for calls outside a job (CLI checks, tests): nothing to resume, ever.

    It is one shared object, so it must keep no state: a second call resuming the
    first call's run (a Replicate prediction) would return someone else's images.
    """

    attempt = 1

    @property
    def state(self) -> dict[str, Any]:
        """Always empty: there is no earlier attempt outside a job."""
        return {}

    def save_state(self, state: dict[str, Any]) -> None:
        """Nothing is kept outside a job."""
        return None

    def report_progress(self, fraction: float, note: str | None = None) -> None:
        return None

    def cancel_requested(self) -> bool:
        return False


NULL_CONTEXT = NullContext()

# --------------------------------------------------------------------------- provider

DEFAULT_TIMEOUT = 120.0


@dataclass(frozen=True)
class Shutdown:
    """The maker shuts a model down ``on`` this date; ``replacement`` is the one to use."""

    on: date
    replacement: str


def utc_today() -> date:
    """Today in UTC: the default until an engine points a provider at its clock."""
    return datetime.now(UTC).date()


class Provider(ABC):
    """One image API. Subclasses translate a GenerationRequest to HTTP and back."""

    id: ClassVar[str]
    label: ClassVar[str]
    short_label: ClassVar[str] = ""  # the name in messages ("OpenAI"; label when empty)
    hint: ClassVar[str] = ""  # appended to connection errors ("Check OPENAI_BASE_URL ...")
    key_env: ClassVar[str | None] = None  # None: needs no key
    base_url_env: ClassVar[str | None] = None
    default_base_url: ClassVar[str | None] = None
    caps: ClassVar[Capabilities]
    description: ClassVar[str] = ""
    guess_seconds: ClassVar[float] = 20.0  # a rough duration until the team has history
    vendor: ClassVar[str] = ""  # who shuts models down, for notices ("Google", "OpenAI")
    shutdowns: ClassVar[Mapping[str, Shutdown]] = {}  # model -> its announced shutdown

    def __init__(
        self,
        session: requests.Session | None = None,
        base_url: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        api_key: str | None = None,
    ) -> None:
        self._session = session  # made on first use: most instances only preflight or estimate
        self.base_url = (base_url or self.default_base_url or "").rstrip("/")
        self.timeout = timeout
        self.api_key = api_key
        self.today: Callable[[], date] = utc_today  # on_date() points it at an engine clock

    @property
    def session(self) -> requests.Session:
        """The HTTP session, created on first use."""
        if self._session is None:
            self._session = requests.Session()
        return self._session

    # -- what the registry and the UI ask -------------------------------------------

    @classmethod
    def configure_hint(cls) -> str:
        """A sentence telling the user how to set this provider up."""
        if cls.key_env:
            return (
                f"Set {cls.key_env} in the environment or in .streamlit/secrets.toml, "
                "then restart Promptboard."
            )
        if cls.base_url_env:
            return f"Set {cls.base_url_env} to the server's address, then restart Promptboard."
        return ""

    @classmethod
    def model_caps(cls, model: str) -> Capabilities:
        """Capabilities of one model (override when models differ, e.g. sizes)."""
        return cls.caps

    def on_date(self, today: Callable[[], date]) -> Self:
        """Judge model shutdowns by ``today`` (the engine's clock), not the real date."""
        self.today = today
        return self

    @classmethod
    def shutdown_notice(cls, model: str, today: date | None = None) -> str | None:
        """A sentence about the model's shutdown (past or coming), or None if it has none."""
        ends = cls.shutdowns.get(model)
        if ends is None:
            return None
        verb = "shut down" if (today or utc_today()) >= ends.on else "shuts down"
        return (f"{cls.vendor or cls.label} {verb} {model} on {ends.on.isoformat()}; "
                f"use {ends.replacement} instead.")

    @classmethod
    def live_models(cls, today: date) -> tuple[str, ...]:
        """The models to offer on ``today``: every listed one its maker has not shut down."""
        return tuple(m for m in cls.caps.models
                     if (ends := cls.shutdowns.get(m)) is None or today < ends.on)

    @classmethod
    def refuse_if_shut_down(cls, model: str, today: date) -> None:
        """Raise Rejected, naming the replacement, from the model's shutdown date on."""
        ends = cls.shutdowns.get(model)
        if ends is not None and today >= ends.on:
            raise Rejected(cls.shutdown_notice(model, today) or "")

    def require_key(self) -> str:
        """The API key, or a NeedsKey error that says how to set it."""
        if not self.api_key:
            raise NeedsKey(f"{self.label} is not configured. {self.configure_hint()}")
        return self.api_key

    def expected_seconds(self, req: GenerationRequest) -> float:
        """A rough duration for a request like this, before there is any history."""
        return self.guess_seconds

    def preflight(self, req: GenerationRequest) -> None:
        """Refuse, before it is queued, a request this provider cannot run (raise Rejected)."""
        self.check(req)

    def check(self, req: GenerationRequest) -> None:
        """Raise Rejected unless the model can run ``req``; ``generate`` calls it first too.

        The shutdown date, then :meth:`check_special`, then the capability check of
        ``lib/providers/checks.py`` against :meth:`model_caps`.
        """
        self.refuse_if_shut_down(req.model, self.today())
        self.check_special(req)
        checks.check_request(self.model_caps(req.model), req, self.short_label or self.label,
                             retiring=self.shutdowns)

    def check_special(self, req: GenerationRequest) -> None:
        """The provider's own rules beyond its capabilities (override; they run first)."""
        return None

    def typical_usage(self, req: GenerationRequest) -> dict[str, float]:
        """Usage a request like this usually reports, for cost estimates before a run."""
        return {"images": float(req.n)}

    @abstractmethod
    def generate(
        self, req: GenerationRequest, ctx: JobContext = NULL_CONTEXT
    ) -> GenerationResult:
        """Return images and raw usage, or raise a ProviderError."""

    def test_connection(self) -> str:
        """A cheap check that key and URL work; returns a short message or raises."""
        return "No connection check for this provider."

    # -- HTTP ---------------------------------------------------------------------------

    def auth_headers(self, url: str) -> dict[str, str]:
        """Headers that authenticate a call to ``url`` (override; none by default)."""
        return {}

    def _send(self, method: str, url: str, *, timeout: float | None = None,
              **kw: Any) -> requests.Response:
        """One call through ``http.send`` with this provider's session, timeout, label, hint
        and :meth:`auth_headers`; ``url`` may be a path below ``base_url``, and headers given
        here are added to the auth ones. Any status returns; transport trouble raises."""
        if not url.startswith(("http://", "https://")):
            url = f"{self.base_url}{url}"
        headers = {**self.auth_headers(url), **kw.pop("headers", {})}
        return http.send(self.session, method, url, label=self.short_label or self.label,
                         timeout=self.timeout if timeout is None else timeout, hint=self.hint,
                         headers=headers, **kw)
