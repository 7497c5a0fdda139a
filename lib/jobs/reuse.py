"""Reuse settings: a past job as the Generate form's state, and what could not come back.

::

    job (History) ─────────┐
    image + its job (Gallery) ──▶ Source ──restore()──▶ Restored
                                                          state:  widget key → value
                                                          reference, logo: bytes to reuse
                                                          notes:  one sentence per setting
                                                                  the form could not take

Every value put in ``state`` is one the form offers for the chosen provider and model;
anything else falls back to the form's default *and* gets a note, so nothing is dropped
silently. The rules that are not obvious:

* The job row stores the negative prompt it ran with, which is the style's own when the
  person left the field empty (``jobs.submit``). Equal to the chosen style's: the field is
  left empty, so the style adds it once, not twice.
* A reference image or watermark logo is the uploader's private input (security review §16):
  only the source's owner gets them back; anyone else gets a note instead.
* A gallery image is made again from its own recorded seed (image i of a job has seed + i
  on providers that number images); a History job from its own, which for a job that asked
  for a random seed is the one it was given (recorded when it ran).

The widget keys mirror screens/generate.py (tests/screens/test_pages_reuse.py drives that page).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

from lib import jobs
from lib.catalog import book as catalog
from lib.core.context import Services
from lib.imaging import images as imaging
from lib.jobs import forms
from lib.jobs.model import Job
from lib.providers import registry
from lib.styles import library as styles

if TYPE_CHECKING:
    from lib.auth.access import Viewer
    from lib.gallery.queries import ImageDetail

OPACITY_MIN, OPACITY_MAX, OPACITY_STEP = 0.1, 1.0, 0.05  # the form's slider
DEFAULT_SCALE = 0.2  # imaging.WatermarkSpec's; the form has no field for it
_INTERNAL_PARAMS = {"styled_prompt", "style_preset"}  # recorded by submit / own field


@dataclass(frozen=True)
class Source:
    """What a job ran with, as stored on its row."""

    owner: str
    provider: str
    model: str
    prompt: str
    negative_prompt: str | None = None  # as run: the style's own when the field was empty
    style: str | None = None
    width: int | None = None
    height: int | None = None
    aspect_ratio: str | None = None
    quality: str | None = None
    seed: int | None = None
    n: int = 1
    params: Mapping[str, Any] = field(default_factory=dict)
    watermark: Mapping[str, Any] | None = None  # WatermarkSpec.to_dict(), the logo as base64
    reference_key: str | None = None

    @classmethod
    def of_job(cls, job: Job, seed: int | None = None) -> Source:
        """A job row; ``seed`` overrides its own (an image's recorded seed)."""
        return cls(
            owner=job.user_id, provider=job.provider, model=job.model, prompt=job.prompt,
            negative_prompt=job.negative_prompt, style=job.style, width=job.width,
            height=job.height, aspect_ratio=job.aspect_ratio, quality=job.quality,
            seed=job.seed if seed is None else seed, n=job.n, params=job.params_dict,
            watermark=json.loads(job.watermark) if job.watermark else None,
            reference_key=job.reference_key)


@dataclass(frozen=True)
class Restored:
    """The Generate form's state to run a job again, and what did not fit."""

    state: dict[str, Any]
    reference: bytes | None = None
    logo: bytes | None = None
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Library:
    """What the form can choose from here: configured providers and active styles."""

    ready: Sequence[str]  # configured provider ids, in the form's order
    styles: Mapping[str, str]  # active style id → its negative prompt ("" when none)
    today: date  # the engine's today: models shut down by then are not offered
    models: catalog.Book = catalog.SHIPPED  # the database's catalog (engine.models())


def _label(provider_id: str) -> str:
    return registry.get(provider_id).label


def restore(src: Source, viewer: str, lib: Library,
            load: Callable[[str], bytes | None]) -> Restored:
    """The form state for ``src`` as ``viewer`` may reuse it; ``load`` reads a stored object
    (None when it is gone)."""
    notes: list[str] = []
    state: dict[str, Any] = {"gen_prompt": src.prompt, "gen_variations": 1}
    provider = src.provider
    if provider not in lib.ready:
        if not lib.ready:
            return Restored({}, notes=("No provider is set up here, so nothing could be "
                                       "restored.",))
        provider = lib.ready[0]
        known = src.provider in registry.PROVIDERS
        notes.append(f"{_label(src.provider) if known else src.provider} is not set up here; "
                     f"using {_label(provider)}.")
    state["gen_provider"] = provider
    model = _model(src, provider, state, notes, lib)
    opts = forms.options(provider, model, lib.today, lib.models)
    _size(src, provider, model, opts, state, notes)
    if opts.qualities:
        quality = src.quality if src.quality in opts.qualities else opts.qualities[
            forms.default_index(opts.qualities, opts.default_quality)]
        if src.quality and src.quality != quality:
            notes.append(f"{model} has no quality {src.quality!r}; using {quality}.")
        state[f"gen_quality_{provider}_{model}"] = quality
    n = min(max(1, src.n), opts.max_n)
    if n != src.n:
        notes.append(f"{model} makes at most {opts.max_n} image(s) per job; using {n}.")
    state["gen_n"] = n
    state["gen_seed"] = src.seed if opts.seed and src.seed else 0
    style = src.style or "none"
    if style not in lib.styles:
        notes.append(f"The style {style!r} is no longer in the library; using none.")
        style = "none"
    state["gen_style"] = style
    own_negative = src.negative_prompt or ""
    if own_negative and own_negative == lib.styles.get(style, ""):
        own_negative = ""  # the style's own: it adds it again when the job runs
    state["gen_negative"] = own_negative
    _params(src, opts, state, notes)
    reference = _reference(src, viewer, opts, load, notes)
    logo = _watermark(src, viewer, state, notes)
    return Restored(state, reference, logo, tuple(notes))


def _model(src: Source, provider: str, state: dict[str, Any], notes: list[str],
           lib: Library) -> str:
    cls, line, today = registry.get(provider), lib.models.line(provider), lib.today
    default = line.default_on(today)
    if provider != src.provider:
        state[f"gen_model_{provider}"] = default
        return default
    if src.model in line.shutdowns and src.model not in line.live(today):
        state[f"gen_model_{provider}"] = default
        notice = lib.models.notice(provider, src.model, today)
        notes.append(f"{notice or src.model + ' is retired.'} Using {default}.")
        return default
    if src.model in line.offered:
        state[f"gen_model_{provider}"] = src.model
        if cls.caps.open_models:
            state[f"gen_model_free_{provider}"] = ""
        return src.model
    state[f"gen_model_{provider}"] = default
    if cls.caps.open_models:  # any id goes in the free-text box
        state[f"gen_model_free_{provider}"] = src.model
        return src.model
    notes.append(f"{src.model} no longer exists; using {default}.")
    return default


def _size(src: Source, provider: str, model: str, opts: forms.FormOptions,
          state: dict[str, Any], notes: list[str]) -> None:
    asked = f"{src.width}x{src.height}" if src.width and src.height else None
    if opts.sizes:  # the form offers pixel sizes (it then shows no aspect ratio)
        default = opts.sizes[forms.default_index(opts.sizes, opts.default_size)]
        size = asked if asked in opts.sizes else default
        if asked and asked != size:
            notes.append(f"{model} has no size {src.width}×{src.height} here; using {default}.")
        elif src.aspect_ratio and not asked:
            notes.append(f"The aspect ratio {src.aspect_ratio} cannot be chosen for {model} "
                         f"in the form; using the size {default}.")
        state[f"gen_size_{provider}_{model}"] = size
    elif opts.aspect_ratios:
        ratio = (src.aspect_ratio if src.aspect_ratio in opts.aspect_ratios
                 else opts.aspect_ratios[0])
        if src.aspect_ratio and src.aspect_ratio != ratio:
            notes.append(f"{model} has no aspect ratio {src.aspect_ratio}; using {ratio}.")
        elif asked:
            notes.append(f"{model} takes an aspect ratio, not a size in pixels "
                         f"({src.width}×{src.height}); using {ratio}.")
        state[f"gen_aspect_{provider}"] = ratio


def _params(src: Source, opts: forms.FormOptions, state: dict[str, Any],
            notes: list[str]) -> None:
    preset = str(src.params.get("style_preset") or "")
    if preset and preset not in opts.style_presets:
        notes.append(f"The style preset {preset!r} is not offered for this model; none is set.")
        preset = ""
    state["gen_preset"] = preset
    extra = sorted(k for k in src.params if k not in _INTERNAL_PARAMS)
    if extra:
        notes.append(f"The form has no field for {', '.join(extra)}; "
                     f"{'it was' if len(extra) == 1 else 'they were'} not restored.")


def _reference(src: Source, viewer: str, opts: forms.FormOptions,
               load: Callable[[str], bytes | None], notes: list[str]) -> bytes | None:
    if not src.reference_key:
        return None
    if src.owner != viewer:
        notes.append(f"The reference image is {src.owner}'s own upload, so it was not "
                     "reused. Upload one of yours if you want one.")
        return None
    if not opts.max_reference_images:
        notes.append("This model takes no reference image, so the job's was left out.")
        return None
    found = load(src.reference_key)
    if found is None:
        notes.append("The job's reference image is no longer stored; upload it again.")
    return found


def _watermark(src: Source, viewer: str, state: dict[str, Any],
               notes: list[str]) -> bytes | None:
    state["gen_wm_kind"] = "Off"
    if not src.watermark:
        return None
    try:
        spec = imaging.WatermarkSpec.from_dict(src.watermark)
    except imaging.ImageError as exc:
        notes.append(f"The watermark could not be restored: {exc}")
        return None
    logo = spec.logo
    if logo and src.owner != viewer:
        notes.append(f"The watermark logo is {src.owner}'s own upload, so it was not reused.")
        logo = None
    if logo and spec.text:
        notes.append("The watermark had both text and a logo; the form takes one, so the "
                     "logo is used.")
    if not logo and not spec.text:
        return None
    state["gen_wm_kind"] = "Logo" if logo else "Text"
    if not logo:
        state["gen_wm_text"] = spec.text
    state["gen_wm_pos"] = spec.position
    steps = round((min(max(spec.opacity, OPACITY_MIN), OPACITY_MAX) - OPACITY_MIN)
                  / OPACITY_STEP)
    opacity = round(OPACITY_MIN + steps * OPACITY_STEP, 2)
    if abs(opacity - spec.opacity) > 1e-9:
        notes.append(f"The watermark opacity {spec.opacity:g} is set to {opacity:g}, the "
                     "nearest the form offers.")
    state["gen_wm_opacity"] = opacity
    if abs(spec.scale - DEFAULT_SCALE) > 1e-9:
        notes.append(f"The watermark width ({spec.scale:.0%} of the image) cannot be set in "
                     f"the form; it uses {DEFAULT_SCALE:.0%}.")
    return logo


# --------------------------------------------------------------------------- from the app


def library(engine: Services) -> Library:
    """Configured providers and active styles, as the Generate form lists them now."""
    return Library(ready=registry.available(),
                   styles={s.id: s.negative for s in styles.list_styles(engine.db)},
                   today=engine.clock.now().date(), models=catalog.book(engine.db))


def _loader(engine: Services) -> Callable[[str], bytes | None]:
    def load(key: str) -> bytes | None:
        return engine.storage.get(key) if engine.storage.exists(key) else None
    return load


def for_job(engine: Services, viewer: str, job: Job) -> Restored:
    """A History row: the job's settings and seed (a random one is recorded once it ran)."""
    return restore(Source.of_job(job), viewer, library(engine), _loader(engine))


def for_image(engine: Services, viewer: Viewer, img: ImageDetail) -> Restored:
    """A Gallery image the viewer can see: its job's settings with the image's own seed."""
    job = jobs.get(engine, img.job_id)
    src = (Source.of_job(job, img.seed) if job is not None else Source(
        owner=img.user_id, provider=img.provider, model=img.model, prompt=img.prompt,
        negative_prompt=img.negative_prompt, style=img.style, width=img.width,
        height=img.height, quality=img.quality, seed=img.seed))
    return restore(src, viewer.username, library(engine), _loader(engine))
