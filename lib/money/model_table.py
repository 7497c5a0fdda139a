"""Every provider x model Promptboard runs or ran: capabilities, lifecycle and shipped prices.

The README's table of models is this module's output (``python -m lib.money.model_table``
prints it; a test keeps the README equal to it), so it cannot drift from what the code
offers and what ``lib/money/prices/*.csv`` seeds. ``problems`` lists the seed's gaps: a model
that was offered without a price row, or a price row that names no model of its provider.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from lib.money import costs
from lib.providers import catalog_seed, registry
from lib.providers.base import Capabilities, Provider
from lib.providers.types import ModelCaps

PROVIDERS_MD_CHECKED = "2026-08"  # providers.md: "Facts were gathered ... in August 2026"
_CHECKED = re.compile(r"checked (\d{4}-\d{2}-\d{2})")
_TOKEN_UNITS = {"input_tokens": "input", "input_text_tokens": "text in",
                "input_image_tokens": "image in", "output_image_tokens": "image out",
                "output_text_tokens": "text out"}
PER_UNIT = {"images": "image", "gpu_seconds": "GPU-second", "predict_seconds": "second",
            "megapixels": "megapixel", "extra_megapixels": "further megapixel",
            "credits": "credit", "billable_units": "unit the provider reports billing"}


@dataclass(frozen=True)
class ModelRow:
    """One line of the table."""

    provider: str
    model: str
    capabilities: str
    lifecycle: str
    prices: str
    sources: str
    checked: str


def models_of(cls: type[Provider]) -> list[tuple[str, bool]]:
    """(model, offered) for every model of the shipped catalog (``lib/providers/models.csv``),
    in its order; a provider with no rows there (a configured endpoint) lists its own."""
    shipped = catalog_seed.of(cls.id)
    if shipped:
        return [(r.model, r.offered) for r in shipped]
    return [(m, True) for m in cls.caps.models]


def capabilities(caps: Capabilities) -> str:
    """A short summary of what a model takes."""
    return ModelCaps.of(caps).describe()


def lifecycle(cls: type[Provider], model: str, offered: bool) -> str:
    """Released, deprecated and shutdown, as announced: absolute dates, so the table does
    not age."""
    row = next((r for r in catalog_seed.of(cls.id) if r.model == model), None)
    parts = []
    if row is not None and row.released:
        parts.append(f"released {row.released.isoformat()}")
    if row is not None and row.deprecated:
        parts.append(f"deprecated {row.deprecated.isoformat()}"
                     + (f" → {row.replacement}" if row.replacement and not row.shutdown else ""))
    ends = cls.shutdowns.get(model)
    if ends is None:
        parts.append("no shutdown announced")
        return "; ".join(parts)
    parts.append(f"shutdown {ends.on.isoformat()} → {ends.replacement}")
    said = "; ".join(parts)
    return said if offered else f"{said} (never offered here: refused by name)"


def _money(value: Decimal) -> str:
    text = f"{value.normalize():f}"
    return f"${text}"


def prices(rows: Sequence[dict[str, str]]) -> str:
    """Each unit's newest price (a range when it differs by size or quality)."""
    by_unit: dict[str, list[Decimal]] = {}
    newest: dict[tuple[str, str], str] = {}
    for r in rows:  # the newest row per (unit, variant) is what applies today
        key = (r["unit"], r["variant"])
        if key not in newest or r["effective_from"] > newest[key]:
            newest[key] = r["effective_from"]
    for r in rows:
        if newest[(r["unit"], r["variant"])] == r["effective_from"]:
            by_unit.setdefault(r["unit"], []).append(Decimal(r["usd_per_unit"]))
    parts: list[str] = []
    for unit, values in by_unit.items():
        low, high = min(values), max(values)
        if unit in _TOKEN_UNITS:
            parts.append(f"{_money(low * 1_000_000)}/1M {_TOKEN_UNITS[unit]} tokens")
            continue
        span = _money(low) if low == high else f"{_money(low)}–{_money(high)}"
        by = " by size/quality" if low != high else ""
        parts.append(f"{span} per {PER_UNIT.get(unit, unit)}{by}")
    return "; ".join(parts)


def sources(rows: Iterable[dict[str, str]]) -> tuple[str, str]:
    """(where the prices come from, when they were last checked)."""
    origins: list[str] = []
    checked: list[str] = []
    for r in rows:
        src = r["source"]
        origin = ("UNVERIFIED" if src.startswith("UNVERIFIED")
                  else re.split(r"[:\[(,]", src, maxsplit=1)[0].strip())
        if origin not in origins:
            origins.append(origin)
        found = _CHECKED.findall(src)
        if found:
            checked.extend(found)
        elif src.startswith("providers.md"):
            checked.append(PROVIDERS_MD_CHECKED)
    unverified = all(r["source"].startswith("UNVERIFIED") for r in rows)
    return "; ".join(origins), max(checked) if checked else (
        "unverified" if unverified else "—")


def rows() -> list[ModelRow]:
    """The table, provider by provider in the registry's order (the shipped providers: a
    configured OpenAI-compatible endpoint is this installation's, and ships no price)."""
    seed = costs.seed_rows()
    out: list[ModelRow] = []
    for pid, cls in registry.BUILT_IN.items():
        for model, offered in models_of(cls):
            own = [r for r in seed if r["provider"] == pid and r["model"] in (model, "*")]
            exact = [r for r in own if r["model"] == model] or own
            src, checked = sources(exact)
            runs = offered and model not in cls.shutdowns  # a retiring id: refused by date
            out.append(ModelRow(pid, model,
                                capabilities(cls.model_caps(model)) if runs else "—",
                                lifecycle(cls, model, offered),
                                prices(exact) or "no price (cost unknown)", src or "—",
                                checked if exact else "—"))
        if cls.caps.open_models:
            anyone = [r for r in seed if r["provider"] == pid and r["model"] == "*"]
            src, checked = sources(anyone)
            out.append(ModelRow(pid, "any other id", "as the model takes", "the maker's",
                                prices(anyone) or "cost unknown until an admin adds a price",
                                src or "—", checked if anyone else "—"))
    return out


def markdown() -> str:
    """The README's table."""
    head = ("| Provider | Model | Capabilities | Lifecycle | Price (unit) | Source | Checked |\n"
            "|---|---|---|---|---|---|---|\n")
    return head + "".join(
        f"| `{r.provider}` | `{r.model}` | {r.capabilities} | {r.lifecycle} | {r.prices} | "
        f"{r.sources} | {r.checked} |\n" for r in rows())


REPORTED_UNITS = frozenset({"credits", "billable_units"})  # price a provider's own figure only


def problems() -> list[str]:
    """What the seed gets wrong: offered models without a price (a row pricing only the
    provider's own figure, such as BFL's credits, does not count), prices of no model."""
    every = costs.seed_rows()
    seed = [r for r in every if r["unit"] not in REPORTED_UNITS]
    found: list[str] = []
    for pid, cls in registry.BUILT_IN.items():
        known = {m for m, _ in models_of(cls)}
        for model, offered in models_of(cls):
            if offered and not any(r["provider"] == pid and r["model"] in (model, "*")
                                   for r in seed):
                found.append(f"{pid}/{model} is offered but has no price row")
        for r in seed:
            if r["provider"] == pid and r["model"] != "*" and r["model"] not in known \
                    and not cls.caps.open_models:
                found.append(f"a {pid} price row names {r['model']!r}, which {pid} does not have")
    providers = set(registry.BUILT_IN)
    found += [f"a price row names the provider {p!r}, which does not exist"
              for p in sorted({r["provider"] for r in every} - providers)]
    return found


if __name__ == "__main__":
    print(markdown(), end="")
