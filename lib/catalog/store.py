"""The ``models`` table: the catalog in the database, started from the shipped file and
changed by admins (Admin → Providers → Models) or by enabling an id a model check found.

A row follows the shipped file (``lib/providers/models.csv``) until an admin edits it
(``edited_by`` set): a release that moves a shutdown date reaches untouched rows at the
next start, and never overwrites an admin's choice. Rows are never deleted: a disabled
model's history stays readable, and its prices keep pricing its old jobs.

``origin`` is ``seed`` for shipped rows and ``generic`` for ids an admin enabled from a
model check: they run with the provider's conservative generic capabilities
(``Provider.generic_caps``) and cost unknown until a price row is added.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING

from lib.audit import Action, record
from lib.core.errors import PromptboardError
from lib.db.cursor import Cursor
from lib.providers import catalog_seed as seed
from lib.providers.types import GENERIC, ModelCaps

if TYPE_CHECKING:  # lib.db.database runs the migrations, which name create_tables
    from lib.db.database import Database

log = logging.getLogger(__name__)

SEED = "seed"
MODEL_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,199}")  # what a model id may look like


class CatalogError(PromptboardError, ValueError):
    """A change an admin asked for that the catalog cannot take; the message says why."""


@dataclass(frozen=True)
class ModelRow:
    """One row of the ``models`` table."""

    provider: str
    model: str
    enabled: bool
    is_default: bool
    released: date | None
    deprecated: date | None
    shutdown: date | None
    replacement: str
    origin: str
    source: str
    position: int
    edited_by: str | None
    edited_at: datetime | None
    caps: ModelCaps | None = None  # an admin's edit of what it takes (None: shipped/generic)
    caps_by: str | None = None


_COLUMNS = ("provider, model, enabled, is_default, released, deprecated, shutdown, "
            "replacement, origin, source, position, edited_by, edited_at")


def _caps(text: object) -> ModelCaps | None:
    """The ``caps`` column; text that is no longer readable counts as no edit (logged)."""
    if not text:
        return None
    try:
        found = json.loads(str(text))
        return ModelCaps.from_dict(found) if isinstance(found, dict) else None
    except (ValueError, TypeError):
        log.warning("models.caps holds unreadable text; the shipped capabilities apply")
        return None


def _day(value: object) -> date | None:
    if value is None or isinstance(value, date) and not isinstance(value, datetime):
        return value
    return value.date() if isinstance(value, datetime) else date.fromisoformat(str(value))


def rows(db: Database) -> list[ModelRow]:
    """Every row, by provider then position."""
    found = db.fetchall(f"SELECT {_COLUMNS}, caps, caps_by FROM models "
                        "ORDER BY provider, position, model")
    return [ModelRow(r[0], r[1], bool(r[2]), bool(r[3]), _day(r[4]), _day(r[5]), _day(r[6]),
                     r[7], r[8], r[9], int(r[10]), r[11], r[12], _caps(r[13]), r[14])
            for r in found]


def sync_seed(db: Database, now: datetime) -> int:
    """Bring the table up to the shipped file; return how many rows changed.

    * A row the file adds is inserted; an id enabled from a model check that the file now
      ships becomes a shipped row (its real capabilities replace the generic ones).
    * Released, deprecated, source and position always follow the file (admins do not edit
      them). Offered, shutdown and replacement follow it on rows nobody edited; on an edited
      row a shutdown date the file adds is taken when the admin set none.
    * The default follows the file only while no row of that provider was edited, so an
      admin's default is never overridden and a provider never has two; a shipped row the
      file no longer lists is turned off unless an admin edited it.
    """
    shipped = seed.rows()
    changed = 0
    with db.write() as cur:
        have = {(r[0], r[1]): r[2:] for r in cur.execute(
            "SELECT provider, model, edited_by, enabled, is_default, released, deprecated, "
            "shutdown, replacement, source, position, origin FROM models").fetchall()}
        touched = {pid for (pid, _), r in have.items() if r[0] is not None}
        for pos, s in enumerate(shipped):
            old = have.get((s.provider, s.model))
            if old is None:
                default = s.default and s.provider not in touched
                cur.execute(f"INSERT INTO models ({_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                            [s.provider, s.model, s.offered, default, s.released,
                             s.deprecated, s.shutdown, s.replacement, SEED, s.source, pos,
                             None, None])
                changed += 1
                continue
            edited = old[0] is not None
            enabled, default = bool(old[1]), bool(old[2])
            shutdown, replacement = _day(old[5]), str(old[6])
            if not edited:
                enabled, shutdown, replacement = s.offered, s.shutdown, s.replacement
            elif shutdown is None and s.shutdown is not None and not default:
                shutdown, replacement = s.shutdown, s.replacement
            if s.provider not in touched:
                default = s.default
            want = (enabled, default, s.released, s.deprecated, shutdown, replacement,
                    s.source, pos, SEED)
            now_row = (bool(old[1]), bool(old[2]), _day(old[3]), _day(old[4]), _day(old[5]),
                       str(old[6]), str(old[7]), int(old[8]), str(old[9]))
            if want != now_row:
                cur.execute("UPDATE models SET enabled=?, is_default=?, released=?, "
                            "deprecated=?, shutdown=?, replacement=?, source=?, position=?, "
                            "origin=? WHERE provider=? AND model=?",
                            [*want, s.provider, s.model])
                changed += 1
        listed = {(s.provider, s.model) for s in shipped}
        for (pid, model), r in have.items():
            if (pid, model) not in listed and r[0] is None and r[9] == SEED and r[1]:
                cur.execute("UPDATE models SET enabled=FALSE WHERE provider=? AND model=?",
                            [pid, model])  # dropped from the file: no longer offered
                changed += 1
    return changed


def _get(cur: Cursor, provider: str, model: str) -> tuple[bool, bool, str] | None:
    found = cur.execute("SELECT enabled, is_default, origin FROM models "
                        "WHERE provider=? AND model=?", [provider, model]).fetchone()
    return None if found is None else (bool(found[0]), bool(found[1]), str(found[2]))


def update(db: Database, who: str, provider: str, model: str, *, enabled: bool,
           is_default: bool, shutdown: date | None, replacement: str, now: datetime) -> None:
    """An admin's change to one model: offered or not, the default, its shutdown date and
    replacement. The default must stay offered and live; a shutdown needs a replacement
    that is another model of the same provider."""
    replacement = replacement.strip()
    if shutdown is not None and not replacement:
        raise CatalogError(f"Name the model that replaces {model} from {shutdown.isoformat()}.")
    if replacement == model:
        raise CatalogError(f"{model} cannot replace itself.")
    if is_default and not enabled:
        raise CatalogError(f"The default model must be offered: turn {model} on first.")
    if is_default and shutdown is not None:
        raise CatalogError(f"{model} is the default: make another model the default before "
                           "you date its shutdown.")
    with db.write() as cur:
        row = _get(cur, provider, model)
        if row is None:
            raise CatalogError(f"{provider} has no model {model!r} in the catalog.")
        if shutdown is not None:
            instead = cur.execute("SELECT enabled, shutdown FROM models WHERE provider=? "
                                  "AND model=?", [provider, replacement]).fetchone()
            if instead is None:
                raise CatalogError(f"{replacement!r} is not a model of {provider}; add it "
                                   "first.")
            ends = _day(instead[1])
            if not instead[0] or (ends is not None and ends <= shutdown):
                raise CatalogError(f"{replacement} cannot replace {model}: it is not offered "
                                   "here after that date.")
        if row[1] and not is_default:
            raise CatalogError(f"{model} is {provider}'s default: make another model the "
                               "default instead.")
        if is_default:  # the old default only loses the mark: not an edit of that row
            cur.execute("UPDATE models SET is_default=FALSE WHERE provider=? AND model<>? "
                        "AND is_default", [provider, model])
        cur.execute("UPDATE models SET enabled=?, is_default=?, shutdown=?, replacement=?, "
                    "edited_by=?, edited_at=? WHERE provider=? AND model=?",
                    [enabled, is_default, shutdown, replacement, who, now, provider, model])
        record(cur, Action.MODEL_UPDATE, f"{provider}/{model}", {
            "enabled": enabled, "default": is_default, "replacement": replacement,
            "shutdown": shutdown.isoformat() if shutdown else None}, at=now, actor=who)


def enable(db: Database, who: str, provider: str, model: str, now: datetime) -> bool:
    """Offer an id a model check found, with generic capabilities and no price; True when it
    was added, False when it was known and is now turned on."""
    if not MODEL_ID.fullmatch(model):
        raise CatalogError("That does not look like a model id (letters, digits and . _ : / "
                           "@ + -, at most 200).")
    with db.write() as cur:
        row = _get(cur, provider, model)
        record(cur, Action.MODEL_ENABLE, f"{provider}/{model}", {"known": row is not None},
               at=now, actor=who)
        if row is not None:
            cur.execute("UPDATE models SET enabled=TRUE, edited_by=?, edited_at=? "
                        "WHERE provider=? AND model=?", [who, now, provider, model])
            return False
        last = cur.execute("SELECT coalesce(max(position), 0) FROM models").fetchone()
        cur.execute(f"INSERT INTO models ({_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    [provider, model, True, False, None, None, None, "", GENERIC,
                     f"enabled from {provider}'s model list by {who}",
                     int(last[0] if last else 0) + 1, who, now])
        return True
