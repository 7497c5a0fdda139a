"""The shipped capabilities: ``lib/providers/capabilities.csv``, one row per provider × model
of ``models.csv``, saying what each model takes and where that was read.

Columns (lists are space-separated; yes/no flags)::

    sizes           WxH sizes offered (empty when the API takes aspect ratios)
    aspect_ratios   ratios offered ("16:9")
    qualities       quality or image-size values ("high", "2K")
    max_images      images one call may ask for
    max_references  reference images one call may carry (0: none)
    seed            yes: a seed makes a run repeatable
    negative_prompt yes: a negative prompt is sent
    style_presets   yes: the provider's style presets apply to this model
    any_size        yes: any valid size or ratio is taken; the lists are presets
    source          the page the row was read from

Provider classes keep what is per provider (prompt length, seed range, preset names,
defaults); ``Provider.model_caps`` lays a row over them, and an admin's edit in the
``models`` table (Admin → Models) lays over the row (``lib/catalog/caps.py``).
"""

from __future__ import annotations

import csv
import re
from functools import cache
from pathlib import Path

from lib.providers import catalog_seed as seed
from lib.providers.types import ModelCaps

CAPS_FILE = Path(__file__).with_name("capabilities.csv")
COLUMNS = ("provider", "model", "sizes", "aspect_ratios", "qualities", "max_images",
           "max_references", "seed", "negative_prompt", "style_presets", "any_size", "source")
SIZE = re.compile(r"[1-9][0-9]{1,4}x[1-9][0-9]{1,4}")
RATIO = re.compile(r"[1-9][0-9]?:[1-9][0-9]?")
QUALITY = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,31}")
MAX_IMAGES, MAX_REFERENCES = 16, 32  # sanity bounds for a row; providers cap lower


def _list(text: str, pattern: re.Pattern[str], what: str, where: str) -> tuple[str, ...]:
    items = tuple(text.split())
    for item in items:
        if not pattern.fullmatch(item):
            raise seed.SeedError(f"{where}: {item!r} is not a valid {what}")
    if len(set(items)) != len(items):
        raise seed.SeedError(f"{where}: a {what} is listed twice")
    return items


def _count(text: str, low: int, high: int, what: str, where: str) -> int:
    try:
        value = int(text.strip())
    except ValueError:
        raise seed.SeedError(f"{where}: {what} {text!r} is not a whole number") from None
    if not low <= value <= high:
        raise seed.SeedError(f"{where}: {what} must be {low} to {high}, not {value}")
    return value


def _flag(text: str, what: str, where: str) -> bool:
    value = text.strip().lower()
    if value not in ("yes", "no"):
        raise seed.SeedError(f"{where}: {what} must be yes or no, not {text!r}")
    return value == "yes"


def parse(path: Path, catalog: tuple[seed.SeedModel, ...]) -> dict[tuple[str, str], ModelCaps]:
    """Every row, checked: known columns, valid values, each model of ``catalog`` exactly
    once and nothing else, and something to choose (a size or a ratio)."""
    out: dict[tuple[str, str], ModelCaps] = {}
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        if tuple(reader.fieldnames or ()) != COLUMNS:
            raise seed.SeedError(f"{path.name}: the header must be {','.join(COLUMNS)}")
        for line, r in enumerate(reader, start=2):
            where = f"{path.name} line {line}"
            key = (r["provider"].strip(), r["model"].strip())
            if key in out:
                raise seed.SeedError(f"{where}: {key[0]}/{key[1]} is listed twice")
            caps = ModelCaps(
                sizes=_list(r["sizes"], SIZE, "size (WxH)", where),
                aspect_ratios=_list(r["aspect_ratios"], RATIO, "aspect ratio (W:H)", where),
                qualities=_list(r["qualities"], QUALITY, "quality", where),
                max_n=_count(r["max_images"], 1, MAX_IMAGES, "max_images", where),
                max_reference_images=_count(r["max_references"], 0, MAX_REFERENCES,
                                            "max_references", where),
                seed=_flag(r["seed"], "seed", where),
                negative_prompt=_flag(r["negative_prompt"], "negative_prompt", where),
                style_presets=_flag(r["style_presets"], "style_presets", where),
                open_sizes=_flag(r["any_size"], "any_size", where))
            if not caps.sizes and not caps.aspect_ratios:
                raise seed.SeedError(f"{where}: list at least one size or aspect ratio")
            if not r["source"].strip():
                raise seed.SeedError(f"{where}: name the page the row was read from")
            out[key] = caps
    models = {(m.provider, m.model) for m in catalog}
    if missing := sorted(models - out.keys()):
        raise seed.SeedError(f"{path.name}: no capabilities for "
                             f"{', '.join('/'.join(k) for k in missing)}")
    if extra := sorted(out.keys() - models):
        raise seed.SeedError(f"{path.name}: {', '.join('/'.join(k) for k in extra)} "
                             "is not in models.csv")
    return out


@cache
def rows() -> dict[tuple[str, str], ModelCaps]:
    """The shipped capabilities (read once)."""
    return parse(CAPS_FILE, seed.rows())


def of(provider: str, model: str) -> ModelCaps | None:
    """The shipped capabilities of one model, or None for an id the file does not ship."""
    return rows().get((provider, model))
