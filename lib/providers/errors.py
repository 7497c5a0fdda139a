"""The provider errors: anything that goes wrong in a provider becomes one of these.

A :class:`ProviderError`'s message is shown to the user as is::

    ProviderError                 not retryable unless said otherwise
    ├── NeedsKey                  no key / bad key: "set OPENAI_API_KEY in ..."
    ├── Rejected                  the request itself is wrong (400/404/413/422)
    │   └── SafetyBlocked         a moderation or safety refusal
    ├── QuotaExhausted            billing or daily quota gone
    ├── RateLimited               retryable, may carry retry_after seconds
    ├── Unavailable               retryable: 5xx, timeout, reset, refused
    ├── BadResponse               the reply could not be read (malformed, no image)
    ├── Uncertain                 a paid request may have started; never retried blindly
    └── Cancelled                 the user cancelled a running job

Each error has a short ``error_type`` code that is stored on the job row. Providers
import this module (``from lib.providers import errors``); the names stay importable
from ``lib.providers.base`` too.
"""

from __future__ import annotations

from typing import ClassVar

from lib.core.errors import PromptboardError


class ProviderError(PromptboardError):
    """An error whose message is shown to the user as is."""

    retryable: ClassVar[bool] = False
    error_type: ClassVar[str] = "provider_error"

    def __init__(self, message: str, *, retry_after: float | None = None,
                 usage: dict[str, float] | None = None, resumable: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after
        # raw usage the provider billed before this error (a filtered image, the images of a
        # job cancelled halfway): the failed job records its cost instead of nothing
        self.usage = dict(usage) if usage else None
        # a retry resumes the billed work instead of paying for it again (saved task ids)
        self.resumable = resumable

    def __str__(self) -> str:
        return self.message


class NeedsKey(ProviderError):
    """The provider is not configured, or its key was refused."""

    error_type = "needs_key"


class Rejected(ProviderError):
    """The provider refused the request as invalid (bad size, unknown model, ...)."""

    error_type = "rejected"


class SafetyBlocked(Rejected):
    """The provider's safety system refused the prompt or the output."""

    error_type = "safety"


class QuotaExhausted(ProviderError):
    """Credits, billing limit or a daily quota are used up; retrying will not help."""

    error_type = "quota"


class RateLimited(ProviderError):
    """Too many requests right now; retry after ``retry_after`` seconds if given."""

    retryable = True
    error_type = "rate_limited"


class Unavailable(ProviderError):
    """The provider is down, slow or unreachable (5xx, timeout, reset, refused)."""

    retryable = True
    error_type = "unavailable"


class BadResponse(ProviderError):
    """The provider answered, but not with anything we can use."""

    error_type = "bad_response"


class Uncertain(ProviderError):
    """The request may have reached the provider and started a billed run; not retried."""

    error_type = "uncertain"


class Cancelled(ProviderError):
    """The job was cancelled while the provider was working on it."""

    error_type = "cancelled"


ERROR_TYPES: dict[str, type[ProviderError]] = {
    cls.error_type: cls
    for cls in (
        NeedsKey,
        Rejected,
        SafetyBlocked,
        QuotaExhausted,
        RateLimited,
        Unavailable,
        BadResponse,
        Uncertain,
        Cancelled,
    )
}


def status_error(status: int, label: str, detail: str, retry_after: float | None = None,
                 *, name: str = "") -> ProviderError:
    """The default error for an HTTP error status; providers intercept only their own codes.

    ``detail`` is the provider's own words, already redacted and clipped; ``name`` is its
    name for the status, if any ("INTERNAL"), shown next to the number. The retryable
    statuses follow providers.md §0, and every retryable one carries ``retry_after``::

        401                  NeedsKey
        402                  QuotaExhausted
        429                  RateLimited     retry_after
        408, 409, 5xx        Unavailable     retry_after
        other 4xx            Rejected
        anything else        BadResponse
    """
    if status == 401:
        return NeedsKey(f"{label} refused the key (HTTP 401): {detail}")
    if status == 402:
        return QuotaExhausted(f"{label} says the account is out of credit (HTTP 402): {detail}")
    if status == 429:
        return RateLimited(f"{label} is rate limiting this account: {detail}",
                           retry_after=retry_after)
    if status in (408, 409) or status >= 500:
        what = f"HTTP {status} {name}".strip()
        if detail and detail != f"HTTP {status}":
            what = f"{what}: {detail}"
        return Unavailable(f"{label} is having trouble ({what}). Try again later if it "
                           "persists.", retry_after=retry_after)
    if 400 <= status < 500:
        return Rejected(f"{label} refused the request: {detail} (HTTP {status})")
    return BadResponse(f"{label} answered with an unexpected HTTP {status}: {detail}")
