"""Compare: a grid of prompt variants (rows) against settings (columns), as pure logic.

A :class:`Grid` is rows (prompts, typed, pasted one per line, or one prompt with a
search-and-replace list) and columns (any mix of provider/model, style, quality, size and
seed: the product of the chosen :class:`Axis` values). :func:`expand` turns it into one
:class:`Cell` per row and column, each with the :class:`~lib.jobs.model.JobSpec` it will run.

Seed rules: the whole grid uses one seed (``Grid.seed``), or the column's own when a seed
axis sets one, wherever the model takes a seed, so differences come from the axes. A model
without seeds gets none and its cells say so. A provider that is not configured is not
submitted: its cells carry the sentence that says how to set it up.

Size guard: a grid of more than ``PROMPTBOARD_COMPARE_CONFIRM_CELLS`` cells needs an
explicit confirmation before it runs (:func:`needs_confirmation`).
"""

from __future__ import annotations

import itertools
import json
import random
from dataclasses import asdict, dataclass, field, replace
from datetime import date
from typing import Any

from lib.catalog import book as catalog
from lib.catalog import lifecycle
from lib.core import config
from lib.core.errors import PromptboardError
from lib.jobs.model import JobSpec
from lib.providers import registry, sizing
from lib.providers.types import Capabilities

MAX_ROWS = 50
MAX_COLUMNS = 12
MAX_PROMPT_FILE_BYTES = 1024 * 1024
AXIS_KINDS = ("model", "style", "quality", "size", "seed")


class CompareError(PromptboardError, ValueError):
    """A grid we refuse to build or run; the message says how to fix it."""


class NeedsConfirmation(CompareError):
    """The grid is larger than the confirmation threshold and was not confirmed."""


@dataclass(frozen=True)
class Column:
    """The settings of one column; None means the grid's base setting."""

    provider: str | None = None
    model: str | None = None
    style: str | None = None
    quality: str | None = None
    size: str | None = None  # "WxH" or an aspect ratio "W:H"
    seed: int | None = None

    @property
    def label(self) -> str:
        """A heading: the values this column sets, in axis order."""
        parts = []
        if self.provider:
            parts.append(f"{self.provider}/{self.model}" if self.model else self.provider)
        parts += [str(v) for v in (self.style, self.quality, self.size) if v]
        if self.seed is not None:
            parts.append(f"seed {self.seed}")
        return " · ".join(parts) or "default"


@dataclass(frozen=True)
class Axis:
    """One column axis: a kind (see AXIS_KINDS) and its values."""

    kind: str
    values: tuple[str, ...]

    def __post_init__(self) -> None:
        """Refuse unknown kinds and bad seeds early."""
        if self.kind not in AXIS_KINDS:
            raise CompareError(f"Unknown axis {self.kind!r}; use one of {', '.join(AXIS_KINDS)}.")
        if self.kind == "seed":
            for v in self.values:
                if not str(v).isdigit() or not 0 <= int(v) < 2**31:
                    raise CompareError(f"A seed is a whole number from 0 to 2147483647, "
                                       f"not {v!r}.")

    def apply(self, column: Column, value: str) -> Column:
        """The column with this axis set to ``value``."""
        if self.kind == "model":
            provider, _, model = value.partition("/")
            return replace(column, provider=provider, model=model or None)
        if self.kind == "seed":
            return replace(column, seed=int(value))
        if self.kind == "style":
            return replace(column, style=value)
        if self.kind == "quality":
            return replace(column, quality=value)
        if self.kind == "size":
            return replace(column, size=value)
        raise CompareError(f"Unknown axis {self.kind!r}; use one of {', '.join(AXIS_KINDS)}.")


def columns_from_axes(axes: list[Axis]) -> tuple[Column, ...]:
    """Every combination of the axes' values, one column each (one default column if none)."""
    used = [a for a in axes if a.values]
    if not used:
        return (Column(),)
    count = 1
    for a in used:
        count *= len(a.values)
    if count > MAX_COLUMNS:
        raise CompareError(f"These axes make {count} columns; a comparison has at most "
                           f"{MAX_COLUMNS}. Pick fewer values.")
    out = []
    for combo in itertools.product(*(a.values for a in used)):
        col = Column()
        for axis, value in zip(used, combo, strict=True):
            col = axis.apply(col, value)
        out.append(col)
    return tuple(out)


def _check_rows(rows: list[str]) -> tuple[str, ...]:
    if not rows:
        raise CompareError("There are no prompts: type one per line, or paste or upload a list.")
    if len(rows) > MAX_ROWS:
        raise CompareError(f"There are {len(rows)} prompts; a comparison takes at most "
                           f"{MAX_ROWS} rows. Split the list.")
    return tuple(rows)


def rows_from_text(text: str) -> tuple[str, ...]:
    """Prompts from typed, pasted or uploaded text: one per non-empty line."""
    return _check_rows([line.strip() for line in text.splitlines() if line.strip()])


def rows_from_file(data: bytes) -> tuple[str, ...]:
    """Prompts from an uploaded text file (UTF-8, one per line)."""
    if len(data) > MAX_PROMPT_FILE_BYTES:
        raise CompareError("That file is too large for a prompt list (1 MB at most).")
    try:
        return rows_from_text(data.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise CompareError("That file is not UTF-8 text: save it as plain text.") from None


def rows_from_replace(prompt: str, token: str, replacements: str) -> tuple[str, ...]:
    """One prompt per replacement of ``token`` (replacements one per line)."""
    if not token:
        raise CompareError("Say which word or phrase to replace.")
    if token not in prompt:
        raise CompareError(f"The prompt does not contain {token!r}, so nothing would change.")
    values = [v.strip() for v in replacements.splitlines() if v.strip()]
    if not values:
        raise CompareError("Give at least one replacement, one per line.")
    return _check_rows([prompt.replace(token, v) for v in values])


def random_seed() -> int:
    """A fresh seed for a grid whose user left it at 0 (recorded, so the grid is repeatable)."""
    return random.randint(1, 2**31 - 1)


@dataclass(frozen=True)
class Grid:
    """Rows x columns over base settings, with one seed for the whole grid."""

    rows: tuple[str, ...]
    columns: tuple[Column, ...]
    base: Column = field(default_factory=lambda: Column(provider="sandbox"))
    seed: int = 1

    def __post_init__(self) -> None:
        """The grid's limits hold whichever way it was built."""
        _check_rows(list(self.rows))
        if not 1 <= len(self.columns) <= MAX_COLUMNS:
            raise CompareError(f"A comparison has 1 to {MAX_COLUMNS} columns.")

    @property
    def size(self) -> int:
        """The number of cells (one image each)."""
        return len(self.rows) * len(self.columns)

    def to_json(self) -> str:
        """The axes as stored with a saved comparison."""
        return json.dumps({"rows": list(self.rows), "columns": [asdict(c) for c in self.columns],
                           "base": asdict(self.base), "seed": self.seed})

    @classmethod
    def from_json(cls, text: str) -> Grid:
        """The grid a saved comparison was built from."""
        data: dict[str, Any] = json.loads(text)
        return cls(rows=tuple(data["rows"]),
                   columns=tuple(Column(**c) for c in data["columns"]),
                   base=Column(**data["base"]), seed=int(data["seed"]))


@dataclass(frozen=True)
class Cell:
    """One row x column: the job it runs, or why it cannot run, and notes for its label."""

    row: int
    col: int
    spec: JobSpec | None
    notes: tuple[str, ...] = ()
    blocked: str | None = None  # the provider is not configured: how to set it up


def confirm_cells() -> int:
    """Grids with more cells than this ask for confirmation before they run."""
    return max(1, config.env_int("PROMPTBOARD_COMPARE_CONFIRM_CELLS"))


def needs_confirmation(grid: Grid) -> bool:
    """True when the grid is above the size that asks for confirmation."""
    return grid.size > confirm_cells()


def fit_size(caps: Capabilities, size: str | None
             ) -> tuple[int | None, int | None, str | None, str | None]:
    """(width, height, aspect ratio, note) for a wanted size on a model with these caps."""
    if not size:
        if caps.default_size:
            w, h = (int(x) for x in caps.default_size.split("x"))
            return w, h, None, None
        return None, None, None, None
    if "x" in size and caps.sizes:  # pixel sizes; an unlisted one is checked by the provider
        w, h = (int(x) for x in size.split("x"))
        return w, h, None, None
    if ":" in size and size in caps.aspect_ratios:
        return None, None, size, None
    options = caps.aspect_ratios or caps.sizes
    if not options:
        return None, None, None, f"no size setting (asked {size})"
    want = sizing.ratio_of(size.replace("x", ":"))
    nearest = sizing.nearest(want, 1, options)  # log distance, as every provider measures it
    if ":" in nearest:
        return None, None, nearest, f"{size} → {nearest}"
    w, h = (int(x) for x in nearest.split("x"))
    return w, h, None, f"{size} → {nearest}"


def _quality(caps: Capabilities, quality: str | None) -> tuple[str | None, str | None]:
    if not caps.qualities:
        return None, (f"no quality setting (asked {quality})" if quality else None)
    if quality is None or quality in caps.qualities:
        return quality or caps.default_quality, None
    return caps.default_quality, f"quality {quality} not offered → {caps.default_quality}"


def merged(grid: Grid, column: Column) -> Column:
    """The column's settings over the grid's base settings."""
    base = grid.base
    provider = column.provider or base.provider or "sandbox"
    model = column.model if column.provider else (column.model or base.model)
    return Column(provider=provider, model=model, style=column.style or base.style,
                  quality=column.quality or base.quality, size=column.size or base.size,
                  seed=column.seed if column.seed is not None else base.seed)


def expand(grid: Grid, comparison_id: str | None = None,
           book: catalog.Book = catalog.SHIPPED) -> list[Cell]:
    """One cell per row x column (row-major), each with its JobSpec (batch = comparison id);
    default models and what each takes come from ``book`` (the database's catalog)."""
    cells: list[Cell] = []
    for c, column in enumerate(grid.columns):
        settings = merged(grid, column)
        try:
            cls = registry.get(str(settings.provider))
        except registry.UnknownProvider as exc:
            cells += [Cell(r, c, None, blocked=str(exc)) for r in range(len(grid.rows))]
            continue
        if not registry.is_configured(cls):
            hint = f"{cls.label} is not set up. {cls.configure_hint()}"
            cells += [Cell(r, c, None, blocked=hint) for r in range(len(grid.rows))]
            continue
        model = settings.model or book.line(cls.id).default
        caps = book.caps(cls.id, model)
        notes: list[str] = []
        w, h, aspect, size_note = fit_size(caps, settings.size)
        quality, quality_note = _quality(caps, settings.quality)
        notes += [n for n in (size_note, quality_note) if n]
        seed: int | None = settings.seed if settings.seed is not None else grid.seed
        if not caps.seed:
            seed = None
            notes.append(f"no fixed seed: {cls.label} does not take one")
        for r, prompt in enumerate(grid.rows):
            spec = JobSpec(prompt=prompt, provider=cls.id, model=model, style=settings.style,
                           width=w, height=h, aspect_ratio=aspect, quality=quality, seed=seed,
                           n=1, batch_id=comparison_id,
                           client_token=f"cmp:{comparison_id}:{r}:{c}" if comparison_id else None)
            cells.append(Cell(r, c, spec, tuple(notes)))
    cells.sort(key=lambda cell: (cell.row, cell.col))
    return cells


def column_notes(cells: list[Cell]) -> dict[int, str]:
    """Per column: why it will not run, or what differs from what was asked (first row's)."""
    out: dict[int, str] = {}
    for cell in cells:
        if cell.row == 0 and (cell.blocked or cell.notes):
            out[cell.col] = cell.blocked or "; ".join(cell.notes)
    return out


def model_choices(today: date, book: catalog.Book = catalog.SHIPPED
                  ) -> list[tuple[str, str, bool]]:
    """(``provider/model`` value, label, configured) for every model ``book`` offers on
    ``today`` (none its maker has shut down), sandbox first."""
    out = []
    for status in registry.statuses():
        cls = registry.get(status.id)
        if not book.line(cls.id).offered:
            continue  # nothing of it is offered (or allowed: lib.grants.rules.book_for)
        for model in book.live(cls.id, today) or (book.line(cls.id).default,):
            label = f"{cls.label}: {model}" + ("" if status.configured else " (not set up)")
            if ends := lifecycle.warning(cls.id, model, today, book=book):
                verb = "shut down" if ends.past(today) else "shuts down"
                label += f" ({verb} {ends.on.isoformat()})"
            out.append((f"{cls.id}/{model}", label, status.configured))
    return out


def size_choices(provider_ids: list[str]) -> list[str]:
    """Sizes and aspect ratios the chosen providers offer (all known ones when none chosen)."""
    ids = provider_ids or list(registry.PROVIDERS)
    seen: dict[str, None] = {}
    for pid in ids:
        caps = registry.get(pid).caps
        for value in (*caps.sizes, *caps.aspect_ratios):
            seen.setdefault(value, None)
    return list(seen)


def quality_choices(provider_ids: list[str]) -> list[str]:
    """Qualities the chosen providers offer."""
    ids = provider_ids or list(registry.PROVIDERS)
    seen: dict[str, None] = {}
    for pid in ids:
        for value in registry.get(pid).caps.qualities:
            seen.setdefault(value, None)
    return list(seen)
