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

Model lifecycle: a provider's models, default and shutdowns (date and replacement) come from
the shipped catalog (``lib/providers/models.csv``) as class attributes, and each instance
carries a :class:`ModelLine` (``Provider.line``): an engine hands it its database's catalog,
admins' edits included (``lib/catalog``). From a model's shutdown date
:meth:`Provider.refuse_if_shut_down` refuses it, naming the replacement; the date is the
engine clock's (:meth:`Provider.on_date`), so tests move a FakeClock across it. Old jobs and
images of a shut-down model stay readable.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any, ClassVar, Self

import requests

from lib.providers import catalog_caps, checks, http
from lib.providers.errors import (  # re-exported (__all__): many modules import them here
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
from lib.providers.types import (  # re-exported (__all__): providers import them here
    NULL_CONTEXT,
    Capabilities,
    GeneratedImage,
    GenerationRequest,
    GenerationResult,
    JobContext,
    ModelLine,
    NullContext,
    Shutdown,
)

__all__ = [
    "BadResponse",
    "Cancelled",
    "Capabilities",
    "DEFAULT_TIMEOUT",
    "ERROR_TYPES",
    "GeneratedImage",
    "GenerationRequest",
    "GenerationResult",
    "JobContext",
    "ModelLine",
    "NULL_CONTEXT",
    "NeedsKey",
    "NullContext",
    "Provider",
    "ProviderError",
    "QuotaExhausted",
    "RateLimited",
    "Rejected",
    "SafetyBlocked",
    "Shutdown",
    "Unavailable",
    "Uncertain",
    "utc_today",
]

# --------------------------------------------------------------------------- provider

DEFAULT_TIMEOUT = 120.0



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
    # False where a key travels in a header of the provider's own (BFL's x-key): requests
    # keeps such headers on a redirect to another host, so a 3xx is refused instead
    follow_redirects: ClassVar[bool] = True

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
        self.line: ModelLine = self.seed_line()  # an engine gives it its database's line

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
        """Capabilities of one shipped model: its row of ``capabilities.csv`` over the class's
        own; the class's alone for an id the file does not ship."""
        row = catalog_caps.of(cls.id, model)
        return row.apply(cls.caps) if row is not None else cls.caps

    @classmethod
    def caps_on(cls, model: str, line: ModelLine) -> Capabilities:
        """What ``model`` takes by ``line`` (an admin's edit, else generic for an id enabled
        from a model check, else the shipped row), listing the line's models and default."""
        edit = line.caps.get(model)
        if edit is not None:
            caps = edit.apply(cls.caps)
        elif model in line.generic:
            caps = cls.generic_caps()
        else:
            caps = cls.model_caps(model)
        return dataclasses.replace(caps, models=line.offered, default_model=line.default)

    def on_date(self, today: Callable[[], date]) -> Self:
        """Judge model shutdowns by ``today`` (the engine's clock), not the real date."""
        self.today = today
        return self

    @classmethod
    def seed_line(cls) -> ModelLine:
        """The models of the shipped catalog (``lib/providers/models.csv``), as the class has
        them."""
        return ModelLine(cls.caps.models, cls.caps.default_model, dict(cls.shutdowns))

    @classmethod
    def generic_caps(cls) -> Capabilities:
        """Conservative capabilities for a model an admin enabled from a model check, before
        anyone says what it takes: one image at the default size, ratio and quality, no
        reference image, negative prompt, seed or style preset."""
        c = cls.caps
        return dataclasses.replace(
            c, max_n=1, sizes=(c.default_size,) if c.default_size else c.sizes[:1],
            aspect_ratios=("1:1",) if "1:1" in c.aspect_ratios else c.aspect_ratios[:1],
            qualities=(c.default_quality,) if c.default_quality else c.qualities[:1],
            open_sizes=False, max_reference_images=0, negative_prompt=False, seed=False,
            style_presets=())

    def caps_for(self, model: str) -> Capabilities:
        """What ``model`` takes by this instance's line."""
        return self.caps_on(model, self.line)

    def shutdown_notice(self, model: str, today: date | None = None) -> str | None:
        """A sentence about the model's shutdown (past or coming), or None if it has none."""
        return self.line.notice(model, today or self.today(), self.vendor or self.label)

    def refuse_if_shut_down(self, model: str, today: date) -> None:
        """Raise Rejected, naming the replacement, from the model's shutdown date on."""
        ends = self.line.shutdowns.get(model)
        if ends is not None and today >= ends.on:
            raise Rejected(self.shutdown_notice(model, today) or "")

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
        if req.model in self.line.disabled:
            raise Rejected(f"{req.model} is turned off here (Admin → Models); choose one of "
                           f"{', '.join(self.line.live(self.today()))}.")
        self.check_special(req)
        retiring = {m: s for m, s in self.line.shutdowns.items() if s.offered}  # not turned off
        caps = dataclasses.replace(self.caps_for(req.model),  # a refusal names the live ones
                                   models=self.line.live(self.today()))
        checks.check_request(caps, req, self.short_label or self.label, retiring=retiring)

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

    def list_models(self) -> list[str] | None:
        """The image models the provider's own API lists for this key (``lib/providers/
        discovery.py`` compares them with ours), or None when it has no such list."""
        return None

    def lookup_models(self, ids: Sequence[str]) -> dict[str, str] | None:
        """What the provider's own API says of each of ``ids`` (at most ``discovery.
        MAX_LOOKUPS``), where it looks models up one by one instead of listing them all:
        ``LIVE``, ``DEPRECATED`` or ``MISSING`` (it does not know the id); an id it cannot
        look up (malformed) is left out. None when it has no such lookup."""
        return None

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
        kw.setdefault("allow_redirects", self.follow_redirects)
        return http.send(self.session, method, url, label=self.short_label or self.label,
                         timeout=self.timeout if timeout is None else timeout, hint=self.hint,
                         headers=headers, **kw)
