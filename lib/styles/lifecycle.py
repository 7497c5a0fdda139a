"""Styles that suggest a model its maker shuts down soon (or has shut down), and the one-click
move of such a style to the replacement the maker names."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from typing import TYPE_CHECKING

from lib.catalog import book as catalog
from lib.catalog import lifecycle
from lib.catalog.lifecycle import ShutdownWarning
from lib.db.database import Database
from lib.styles import library
from lib.styles.library import Style, StyleError

if TYPE_CHECKING:
    from lib.auth.accounts import User


def warning_for(style: Style, today: date,
                book: catalog.Book = catalog.SHIPPED) -> ShutdownWarning | None:
    """The shutdown warning of the provider and model the style suggests, if any, by
    ``book`` (the database's catalog)."""
    return lifecycle.warning(style.settings.get("provider", ""), style.settings.get("model"),
                             today, book=book)


def flagged(db: Database, today: date) -> list[tuple[Style, ShutdownWarning]]:
    """Every style (proposals included) whose suggested model is retiring or retired."""
    book = catalog.book(db)
    return [(s, w) for s in library.list_styles(db, include_proposed=True, include_archived=True)
            if (w := warning_for(s, today, book)) is not None]


def move_to_replacement(db: Database, admin: User, style_id: str, now: datetime) -> Style:
    """Suggest the replacement model instead (an admin's edit; quality and size stay, and
    Generate fits them to the new model as it does any suggestion)."""
    style = library.find(db, style_id)
    if style is None:
        raise StyleError(f"There is no style {style_id!r}.")
    found = warning_for(style, now.date(), catalog.book(db))
    if found is None:
        raise StyleError(f"“{style.label}” suggests no model that is being shut down.")
    return library.save(db, admin, replace(style, settings={**style.settings,
                                                            "model": found.replacement}), now)
