"""The one request check: a GenerationRequest against its model's Capabilities.

:meth:`Provider.check <lib.providers.base.Provider.check>` runs it, so it runs both before a
job is queued (``preflight``, from ``lib.jobs``) and before every provider call
(``generate``). Order: the model's shutdown date, the provider's own special rules
(``check_special``: its wording for sizes, presets, models), then these, each a
:class:`~lib.providers.errors.Rejected`::

    model          not in caps.models nor retiring (before its shutdown), unless open_models
    prompt         empty, or longer than caps.max_prompt_chars
    n              outside 1..caps.max_n
    references     more than caps.max_reference_images
    width/height   only one of them; not in caps.sizes when the sizes are a closed list
    aspect ratio   not in caps.aspect_ratios when the ratios are a closed list
    quality        not in caps.qualities (case-insensitive) when the model lists any
    seed           outside 0..caps.max_seed when the model takes a seed
    style preset   not in caps.style_presets when the model lists any

For a provider's own numeric fields (``extra``: cfg_scale, steps, strength) ``number`` and
``whole_number`` parse and bound a value the same way everywhere.

A setting the model has no field for (a seed for OpenAI, a negative prompt for Gemini,
a quality for Stability) is not refused: it is simply not sent, as before, because
styles and reused jobs carry them across providers. ``caps.open_sizes`` marks models
that take any size or ratio (their lists are only the form's presets).
"""

from __future__ import annotations

import math
from collections.abc import Collection
from typing import TYPE_CHECKING, Any

from lib.providers import errors

if TYPE_CHECKING:
    from lib.providers.types import Capabilities, GenerationRequest


def check_request(caps: Capabilities, req: GenerationRequest, label: str,
                  retiring: Collection[str] = ()) -> None:
    """Raise Rejected for the first thing in ``req`` that ``caps`` excludes.

    ``retiring`` are models no longer offered but still run until their shutdown date.
    """
    known = req.model in caps.models or req.model in retiring
    if caps.models and not known and not caps.open_models:
        raise errors.Rejected(f"{label} has no model {req.model!r}; choose one of "
                              f"{', '.join(caps.models)}.")
    if not (req.prompt or "").strip():
        raise errors.Rejected("The prompt is empty. Describe the image you want.")
    if len(req.prompt) > caps.max_prompt_chars:
        raise errors.Rejected(f"The prompt has {len(req.prompt):,} characters; {label} takes at "
                              f"most {caps.max_prompt_chars} characters. Shorten it.")
    if not 1 <= req.n <= caps.max_n:
        raise errors.Rejected(f"{label} makes 1 to {caps.max_n} images per job, not {req.n}.")
    _check_references(caps, req)
    _check_size(caps, req)
    _check_choice(req.quality, caps.qualities, f"{label} quality")
    if req.seed is not None and caps.seed and not 0 <= req.seed <= caps.max_seed:
        raise errors.Rejected(f"A {label} seed is between 0 and {caps.max_seed:,}, "
                              f"not {req.seed}.")
    _check_choice(req.style_preset, caps.style_presets, f"{label} style preset")


def _check_references(caps: Capabilities, req: GenerationRequest) -> None:
    count, most = len(req.reference_images), caps.max_reference_images
    if count > most:
        if not most:
            raise errors.Rejected(f"{req.model} takes no reference image.")
        raise errors.Rejected(f"{req.model} takes at most {most} reference images, not "
                              f"{count}. Remove some.")


def _check_size(caps: Capabilities, req: GenerationRequest) -> None:
    if (req.width is None) != (req.height is None):
        raise errors.Rejected("Set both width and height, or neither.")
    if req.size and caps.sizes and not caps.open_sizes and req.size not in caps.sizes:
        raise errors.Rejected(f"{req.model} makes {', '.join(caps.sizes)} images, not "
                                  f"{req.size}.")
    ratio = (req.aspect_ratio or "").replace(" ", "")
    if ratio and caps.aspect_ratios and not caps.open_sizes and ratio not in caps.aspect_ratios:
        raise errors.Rejected(f"{req.model} does not make {req.aspect_ratio} images; it takes "
                              f"the aspect ratios {', '.join(caps.aspect_ratios)}.")


def _check_choice(value: str | None, allowed: tuple[str, ...], what: str) -> None:
    if value and allowed and value.strip().lower() not in {a.lower() for a in allowed}:
        raise errors.Rejected(f"{what} must be one of {', '.join(allowed)}, not {value!r}.")


def number(value: Any, name: str, low: float, high: float) -> float:
    """``value`` as a float within ``low..high``, or Rejected naming the field."""
    try:
        parsed = float(value)
    except (TypeError, ValueError):
        parsed = math.nan
    if not low <= parsed <= high:
        raise errors.Rejected(f"{name} must be a number from {low:g} to {high:g}, not {value!r}.")
    return parsed


def whole_number(value: Any, name: str, low: int, high: int) -> int:
    """``value`` as an int within ``low..high``, or Rejected naming the field."""
    try:
        parsed = int(value)
    except (TypeError, ValueError):
        parsed = low - 1
    if not low <= parsed <= high:
        raise errors.Rejected(
            f"{name} must be a whole number from {low} to {high}, not {value!r}.")
    return parsed
