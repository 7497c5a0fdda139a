"""What a provider takes and gives back, as data: capabilities, the request, the result,
the job context a provider reports to, and a model's shutdown date.

Plain values with no lib imports, so the request check (``checks``), the model tables
(``gemini_models``) and the base can all name them; ``lib.providers.base`` re-exports them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import date
from typing import Any, Protocol


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
    # what the provider itself says it billed, in its own units (BFL: {"credits": 4.5}),
    # priced like usage and recorded beside the computed cost (jobs.provider_cost_usd)
    reported_usage: dict[str, float] = field(default_factory=dict)


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


@dataclass(frozen=True)
class Shutdown:
    """The maker shuts a model down ``on`` this date; ``replacement`` is the one to use.
    ``offered`` is False for an id Promptboard never ran (known only to refuse it by name),
    which therefore needs no price rows."""

    on: date
    replacement: str
    offered: bool = True



@dataclass(frozen=True)
class ModelCaps:
    """What one model takes, as the catalog says it (``lib/providers/capabilities.csv``, or an
    admin's edit in the ``models`` table): the part of ``Capabilities`` that differs between
    models of one provider. ``apply`` lays it over the provider's own capabilities, which keep
    what is per provider (prompt length, seed range, the style preset names, defaults)."""

    sizes: tuple[str, ...] = ()
    aspect_ratios: tuple[str, ...] = ()
    qualities: tuple[str, ...] = ()
    max_n: int = 1
    max_reference_images: int = 0
    seed: bool = False
    negative_prompt: bool = False
    style_presets: bool = False
    open_sizes: bool = False

    def apply(self, base: Capabilities) -> Capabilities:
        """``base`` with this model's values; a default not among them moves to the first."""
        size = base.default_size if base.default_size in self.sizes else (
            self.sizes[0] if self.sizes else None)
        quality = base.default_quality if base.default_quality in self.qualities else (
            self.qualities[0] if self.qualities else None)
        return replace(base, sizes=self.sizes, aspect_ratios=self.aspect_ratios,
                       qualities=self.qualities, max_n=self.max_n,
                       max_reference_images=self.max_reference_images, seed=self.seed,
                       negative_prompt=self.negative_prompt, open_sizes=self.open_sizes,
                       style_presets=base.style_presets if self.style_presets else (),
                       default_size=size, default_quality=quality)

    @classmethod
    def of(cls, caps: Capabilities) -> ModelCaps:
        """The per-model part of ``caps``."""
        return cls(caps.sizes, caps.aspect_ratios, caps.qualities, caps.max_n,
                   caps.max_reference_images, caps.seed, caps.negative_prompt,
                   bool(caps.style_presets), caps.open_sizes)

    def describe(self) -> str:
        """A short summary: "sizes 1024x1024 +2; quality low/high; up to 4 per job; …"."""
        parts: list[str] = []
        if self.sizes:
            more = f" +{len(self.sizes) - 1}" if len(self.sizes) > 1 else ""
            parts.append(f"any size (presets {self.sizes[0]}{more})" if self.open_sizes
                         else f"sizes {self.sizes[0]}{more}")
        elif self.aspect_ratios:
            parts.append(f"{len(self.aspect_ratios)} aspect ratios")
        if self.qualities:
            parts.append("quality " + "/".join(self.qualities))
        parts.append(f"up to {self.max_n} per job")
        if self.max_reference_images:
            parts.append(f"{self.max_reference_images} reference image"
                         + ("s" if self.max_reference_images > 1 else ""))
        extras = [name for name, on in (("seed", self.seed),
                                        ("negative prompt", self.negative_prompt)) if on]
        if extras:
            parts.append(", ".join(extras))
        return "; ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (the ``models.caps`` column)."""
        return {f.name: list(v) if isinstance(v := getattr(self, f.name), tuple) else v
                for f in fields(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelCaps:
        """From ``to_dict``'s shape; unknown keys are ignored, missing ones take defaults."""
        kept: dict[str, Any] = {}
        for f in fields(cls):
            if f.name in data:
                v = data[f.name]
                kept[f.name] = tuple(str(x) for x in v) if isinstance(v, list) else v
        return cls(**kept)


GENERIC = "generic"  # ModelLine.origins value: enabled by an admin from a model check
# What a provider's model lookup says of an id (``Provider.lookup_models``)
LIVE, DEPRECATED, MISSING = "live", "deprecated", "missing"


@dataclass(frozen=True)
class ModelLine:
    """What the catalog says about one provider's models: the ones offered (in order), the
    default, the announced shutdowns, and the ids an admin enabled from a model check, which
    get conservative generic capabilities (``Provider.generic_caps``).

    Providers start from the shipped catalog (``lib/providers/models.csv``); an engine hands
    each instance the line of its database (``lib/catalog/book.py``), admins' changes included.
    """

    offered: tuple[str, ...]
    default: str
    shutdowns: Mapping[str, Shutdown] = field(default_factory=dict)
    generic: frozenset[str] = frozenset()
    disabled: frozenset[str] = frozenset()  # turned off by an admin: refused, even where any
    # id is taken (Replicate, fal, AUTOMATIC1111), until turned on again
    caps: Mapping[str, ModelCaps] = field(default_factory=dict)  # admins' capability edits

    def live(self, today: date) -> tuple[str, ...]:
        """The offered models not shut down on ``today``."""
        return tuple(m for m in self.offered
                     if (ends := self.shutdowns.get(m)) is None or today < ends.on)

    def known(self, model: str) -> bool:
        """Offered, or known by its shutdown (refused by date, not as unknown)."""
        return model in self.offered or model in self.shutdowns

    def default_on(self, today: date) -> str:
        """The default, or the first live model when the default is shut down."""
        live = self.live(today)
        return self.default if self.default in live or not live else live[0]

    def notice(self, model: str, today: date, vendor: str) -> str | None:
        """A sentence about the model's shutdown (past or coming), or None if it has none."""
        ends = self.shutdowns.get(model)
        if ends is None:
            return None
        verb = "shut down" if today >= ends.on else "shuts down"
        return (f"{vendor} {verb} {model} on {ends.on.isoformat()}; "
                f"use {ends.replacement} instead.")
