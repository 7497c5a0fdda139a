"""The shipped model catalog: ``lib/providers/models.csv``, one row per provider × model.

Which models Promptboard offers, which is each provider's default, and each model's
lifecycle (released, deprecated, shutdown date, replacement) with the page it came from
and the date it was checked. Provider classes build their model lists and shutdowns from
these rows at import, so code keeps only wire formats and error mapping; the database's
``models`` table starts from them and holds what admins change (``lib/catalog/store.py``).

Columns::

    offered      yes: Promptboard runs (or ran) it and has price rows for it;
                 no: known only to refuse it by name after its shutdown
    default      yes on exactly one offered row per provider
    shutdown     the maker's shutdown date; from it on the model is refused, naming
    replacement  the model to use instead (required with a shutdown date)

This module imports nothing from ``lib`` but plain types, so every provider can use it.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path

from lib.providers.types import Shutdown

SEED_FILE = Path(__file__).with_name("models.csv")
COLUMNS = ("provider", "model", "offered", "default", "released", "deprecated", "shutdown",
           "replacement", "source", "checked")


class SeedError(ValueError):
    """The catalog file is malformed; the message names the line."""


@dataclass(frozen=True)
class SeedModel:
    """One row of the shipped catalog."""

    provider: str
    model: str
    offered: bool
    default: bool
    released: date | None
    deprecated: date | None
    shutdown: date | None
    replacement: str
    source: str
    checked: date | None


def _day(text: str, where: str) -> date | None:
    text = text.strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise SeedError(f"{where}: {text!r} is not a date (YYYY-MM-DD)") from None


def _flag(text: str, where: str) -> bool:
    value = text.strip().lower()
    if value not in ("yes", "no", ""):
        raise SeedError(f"{where}: {text!r} must be yes, no or empty")
    return value == "yes"


def parse(path: Path) -> tuple[SeedModel, ...]:
    """Every row of a catalog file, checked: known columns, dates, one default per
    provider, a replacement with every shutdown date, no duplicate provider × model."""
    rows: list[SeedModel] = []
    seen: set[tuple[str, str]] = set()
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        if tuple(reader.fieldnames or ()) != COLUMNS:
            raise SeedError(f"{path.name}: the header must be {','.join(COLUMNS)}")
        for line, r in enumerate(reader, start=2):
            where = f"{path.name} line {line}"
            pid, model = r["provider"].strip(), r["model"].strip()
            if not pid or not model:
                raise SeedError(f"{where}: provider and model are required")
            if (pid, model) in seen:
                raise SeedError(f"{where}: {pid}/{model} is listed twice")
            seen.add((pid, model))
            row = SeedModel(pid, model, _flag(r["offered"], where), _flag(r["default"], where),
                            _day(r["released"], where), _day(r["deprecated"], where),
                            _day(r["shutdown"], where), r["replacement"].strip(),
                            r["source"].strip(), _day(r["checked"], where))
            if row.shutdown and not row.replacement:
                raise SeedError(f"{where}: a shutdown date needs a replacement")
            if row.shutdown and row.default:
                raise SeedError(f"{where}: the default model has a shutdown date; make "
                                "another the default")
            rows.append(row)
    for pid in dict.fromkeys(r.provider for r in rows):
        defaults = [r.model for r in rows if r.provider == pid and r.default and r.offered]
        if len(defaults) != 1:
            raise SeedError(f"{path.name}: {pid} needs exactly one offered default model, "
                            f"has {len(defaults)}")
    return tuple(rows)


@cache
def rows() -> tuple[SeedModel, ...]:
    """The shipped catalog (read once)."""
    return parse(SEED_FILE)


def of(provider: str) -> tuple[SeedModel, ...]:
    """The shipped rows of one provider, in file order."""
    return tuple(r for r in rows() if r.provider == provider)


def offered(provider: str) -> tuple[str, ...]:
    """Models Promptboard offers (or offered, before their shutdown), in file order."""
    return tuple(r.model for r in of(provider) if r.offered)


def default(provider: str) -> str:
    """The provider's default model."""
    return next(r.model for r in of(provider) if r.default and r.offered)


def shutdowns(provider: str) -> dict[str, Shutdown]:
    """Model → its announced shutdown, for every row with a date."""
    return {r.model: Shutdown(r.shutdown, r.replacement, offered=r.offered)
            for r in of(provider) if r.shutdown is not None}
