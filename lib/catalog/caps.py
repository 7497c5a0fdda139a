"""What a model takes, as admins change it (Admin → Models → Capabilities).

A model's capabilities start from the shipped ``lib/providers/capabilities.csv`` (or the
provider's generic settings for an id enabled from a model check); an admin may narrow them
(a team that only wants square images) or widen a generically enabled id to what its maker
documents. An edit never reaches past what the provider's wire format can carry: the
*envelope*, the union of the provider's own capabilities and every shipped row of it. A
reset puts the model back on the file. Edits live in ``models.caps`` (migration 020).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING

from lib.audit import Action, record
from lib.catalog.store import CatalogError, ModelRow
from lib.providers import catalog_caps, registry
from lib.providers.base import Provider
from lib.providers.types import GENERIC, ModelCaps

if TYPE_CHECKING:
    from lib.db.database import Database


def _union(*groups: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(item for g in groups for item in g))


def envelope(cls: type[Provider]) -> ModelCaps:
    """The most any model of ``cls`` may be said to take."""
    shipped = [c for (pid, _), c in catalog_caps.rows().items() if pid == cls.id]
    every = [ModelCaps.of(cls.caps), *shipped]
    return ModelCaps(
        sizes=_union(*(c.sizes for c in every)),
        aspect_ratios=_union(*(c.aspect_ratios for c in every)),
        qualities=_union(*(c.qualities for c in every)),
        max_n=max(c.max_n for c in every),
        max_reference_images=max(c.max_reference_images for c in every),
        seed=any(c.seed for c in every), negative_prompt=any(c.negative_prompt for c in every),
        style_presets=any(c.style_presets for c in every),
        open_sizes=any(c.open_sizes for c in every))


def current(row: ModelRow) -> tuple[ModelCaps, str]:
    """What the row's model takes now, and whence: an admin's edit, the shipped row, or the
    generic settings of an id enabled from a model check."""
    cls = registry.get(row.provider)
    if row.caps is not None:
        return row.caps, f"edited by {row.caps_by or 'an admin'}"
    if row.origin == GENERIC:
        return ModelCaps.of(cls.generic_caps()), "basic (enabled from a model check)"
    shipped = catalog_caps.of(row.provider, row.model)
    return (shipped or ModelCaps.of(cls.caps)), "shipped"


def takes(row: ModelRow) -> str:
    """One line for the Models table: what the model takes, and whence."""
    found, whence = current(row)
    return f"{found.describe()} ({whence})"


def problems(cls: type[Provider], want: ModelCaps) -> list[str]:
    """Sentences saying what in ``want`` the provider cannot take (empty: it can)."""
    top, out = envelope(cls), []
    for name, asked, allowed in (("size", want.sizes, top.sizes),
                                 ("aspect ratio", want.aspect_ratios, top.aspect_ratios),
                                 ("quality", want.qualities, top.qualities)):
        if extra := [a for a in asked if a not in allowed]:
            offer = ", ".join(allowed) if allowed else "none"
            out.append(f"{cls.label} takes no {name} {', '.join(extra)} (it takes: {offer}).")
    if not want.sizes and not want.aspect_ratios:
        out.append("Keep at least one size or aspect ratio, or nobody can choose one.")
    if top.qualities and not want.qualities:
        out.append("Keep at least one quality.")
    if not 1 <= want.max_n <= top.max_n:
        out.append(f"Images per job must be 1 to {top.max_n} for {cls.label}.")
    if not 0 <= want.max_reference_images <= top.max_reference_images:
        out.append(f"Reference images must be 0 to {top.max_reference_images} for {cls.label}.")
    for flag, label in (("seed", "seed"), ("negative_prompt", "negative prompt"),
                        ("style_presets", "style presets")):
        if getattr(want, flag) and not getattr(top, flag):
            out.append(f"{cls.label} takes no {label}.")
    if want.open_sizes and not top.open_sizes:
        out.append(f"{cls.label} takes any size only for models whose API says so; it has "
                   "none here.")
    return out


def set_caps(db: Database, who: str, provider: str, model: str, want: ModelCaps | None,
             now: datetime) -> None:
    """Keep an admin's capabilities for a model (``None``: back to the shipped ones);
    CatalogError, with every reason, when the provider cannot take them."""
    cls = registry.get(provider)
    if want is not None and (found := problems(cls, want)):
        raise CatalogError(" ".join(found))
    text = None if want is None else json.dumps(want.to_dict(), sort_keys=True)
    with db.write() as cur:
        row = cur.execute("SELECT 1 FROM models WHERE provider=? AND model=?",
                          [provider, model]).fetchone()
        if row is None:
            raise CatalogError(f"{provider} has no model {model!r} in the catalog.")
        cur.execute("UPDATE models SET caps=?, caps_by=?, caps_at=? WHERE provider=? AND model=?",
                    [text, who if want is not None else None,
                     now if want is not None else None, provider, model])
        record(cur, Action.MODEL_CAPS, f"{provider}/{model}",
               {"takes": want.describe() if want is not None else "the shipped settings"},
               at=now, actor=who)
