"""The job model: states, the legal moves between them, the job row and the job spec.

::

    submit ──▶ queued ──claim──▶ running ──▶ succeeded
                 │  ▲               │ ├───▶ failed
                 │  └──retry/recover┘ └───▶ cancelled
                 └──────cancel─────────────▶ cancelled

A running job may also move to running: that is a cancel request, which sets the
job's cooperative flag (its worker stops at the next check) and leaves an event.
The moves are made by ``jobs.store.transition``, the one guarded write of a status.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field, fields
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from lib.core.errors import PromptboardError
from lib.core.text import bad_character

if TYPE_CHECKING:
    from lib.imaging import images as imaging  # a spec's watermark, named in annotations

QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED = (
    "queued",
    "running",
    "succeeded",
    "failed",
    "cancelled",
)
STATUSES = (QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED)
TERMINAL = frozenset({SUCCEEDED, FAILED, CANCELLED})
ACTIVE = frozenset({QUEUED, RUNNING})
TRANSITIONS: dict[str, frozenset[str]] = {
    QUEUED: frozenset({RUNNING, CANCELLED}),
    RUNNING: frozenset({SUCCEEDED, FAILED, CANCELLED, QUEUED}),
    SUCCEEDED: frozenset(),
    FAILED: frozenset(),
    CANCELLED: frozenset(),
}
HARD_PROMPT_LIMIT = 32_000
DEDUPE_WINDOW_S = 5.0  # the same client token within this many seconds is one job
REQUEST_KEY_WINDOW_S = 24 * 3600.0  # a client-chosen request key (Idempotency-Key) names one
# job (or batch) for as long as the API keeps its answer
SUBMITTED = "submitted"  # the detail of a plain submit's event (its row is the record)


class IllegalTransition(RuntimeError):
    """The job was not in a state that allows this move."""


class SubmitError(PromptboardError, ValueError):
    """A request we refuse before queueing; the message says how to fix it."""


class OverBudget(SubmitError):
    """The request would take a monthly budget over its limit."""


class NotAllowed(SubmitError):
    """The model is not on the user's allow-list (``lib.grants``)."""


@dataclass(frozen=True)
class JobSpec:
    """What a user asks for: everything needed to run and to reproduce it."""

    prompt: str
    provider: str = "sandbox"
    model: str | None = None
    negative_prompt: str | None = None
    style: str | None = None
    width: int | None = None
    height: int | None = None
    aspect_ratio: str | None = None
    quality: str | None = None
    seed: int | None = None
    n: int = 1
    reference: bytes | None = None  # the raw upload; validated and stored at submit
    watermark: imaging.WatermarkSpec | None = None
    params: dict[str, Any] = field(default_factory=dict)
    client_token: str | None = None  # same token within token_window_s = one job (double clicks)
    token_window_s: float = DEDUPE_WINDOW_S  # REQUEST_KEY_WINDOW_S for a request key's token
    batch_id: str | None = None
    override_budget: bool = False  # honoured for admins only


@dataclass(frozen=True)
class Job:
    """One row of the jobs table."""

    id: str
    batch_id: str | None
    user_id: str
    provider: str
    model: str
    prompt: str
    negative_prompt: str | None
    style: str | None
    width: int | None
    height: int | None
    aspect_ratio: str | None
    quality: str | None
    seed: int | None
    n: int
    reference_key: str | None
    watermark: str | None
    params: str | None
    client_token: str | None
    provider_state: str | None
    worker_id: str | None
    status: str
    attempts: int
    max_attempts: int
    next_run_at: datetime
    cancel_requested: bool
    progress: float | None
    progress_note: str | None
    error_type: str | None
    error_message: str | None
    request_id: str | None
    usage: str | None
    estimated_cost_usd: Decimal | None
    cost_usd: Decimal | None
    duration_ms: int | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    demo: bool
    updated_at: datetime
    price_ids: str | None = None  # JSON list of the price rows that priced it
    provider_cost_usd: Decimal | None = None  # what the provider said it cost, if it says

    @property
    def params_dict(self) -> dict[str, Any]:
        """Provider-specific extras as a dict."""
        return json.loads(self.params) if self.params else {}

    @property
    def size(self) -> str | None:
        """``WxH`` when the job asked for pixel sizes."""
        return f"{self.width}x{self.height}" if self.width and self.height else None

    @property
    def done(self) -> bool:
        """True in a terminal state."""
        return self.status in TERMINAL


JOB_COLUMNS = ", ".join(f.name for f in fields(Job))

# 32 bits: what Stability and AUTOMATIC1111 take, and image i of a job gets seed + i, which the
# BIGINT seed columns must still hold (a seed near 2**63 overflowed there: found by hypothesis).
MAX_SEED = 2**32 - 1
_TEXT_FIELDS = {"prompt": "prompt", "negative_prompt": "negative prompt", "model": "model",
                "style": "style", "quality": "quality", "aspect_ratio": "aspect ratio"}


def check_fields(spec: JobSpec) -> None:
    """SubmitError unless every field has a usable type and value (the form can't send others)."""
    for name, label in _TEXT_FIELDS.items():
        value = getattr(spec, name)
        if value is not None and not isinstance(value, str):
            raise SubmitError(f"The {label} must be text.")
        if value and (why := bad_character(value)):
            raise SubmitError(f"The {label} {why}.")
    for name, label in (("n", "number of images"), ("width", "width"), ("height", "height"),
                        ("seed", "seed")):
        value = getattr(spec, name)
        if (value is not None or name == "n") and (type(value) is not int):
            raise SubmitError(f"The {label} must be a whole number.")
    if spec.seed is not None and not 0 <= spec.seed <= MAX_SEED:
        raise SubmitError(f"The seed must be between 0 and {MAX_SEED:,}; leave it empty for a "
                          "random one.")
    try:
        json.dumps(spec.params, allow_nan=False)
    except (TypeError, ValueError):
        raise SubmitError("The extra parameters must be plain text, numbers, true/false or "
                          "lists of them.") from None


def new_id() -> str:
    """A fresh id for a job (or a comparison): 16 hex digits of a random UUID."""
    return uuid.uuid4().hex[:16]
