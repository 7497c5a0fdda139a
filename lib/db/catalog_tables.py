"""Migrations 019–021: the model catalog (``lib/catalog/store.py`` reads and writes it), the
outcome of each provider's model checks (``lib/catalog/checks.py``), an admin's edit of what
a model takes (``lib/catalog/caps.py``), and the ids a check found deprecated by the provider
(fal's model search says so)."""

from __future__ import annotations

from lib.db.cursor import Cursor


def create_tables(cur: Cursor) -> None:
    """Migration 019: the model catalog and the outcome of each provider's model checks."""
    cur.execute(
        "CREATE TABLE models (provider TEXT NOT NULL, model TEXT NOT NULL, "
        "enabled BOOLEAN NOT NULL, is_default BOOLEAN NOT NULL, released DATE, "
        "deprecated DATE, shutdown DATE, replacement TEXT NOT NULL DEFAULT '', "
        "origin TEXT NOT NULL, source TEXT NOT NULL DEFAULT '', position INTEGER NOT NULL, "
        "edited_by TEXT, edited_at TIMESTAMP, PRIMARY KEY (provider, model))"
    )
    cur.execute(
        "CREATE TABLE model_checks (provider TEXT PRIMARY KEY, checked_at TIMESTAMP NOT NULL, "
        "listed TEXT, new_ids TEXT NOT NULL DEFAULT '', gone_ids TEXT NOT NULL DEFAULT '', "
        "error TEXT NOT NULL DEFAULT '')"
    )


def model_caps(cur: Cursor) -> None:
    """Migration 020: ``models.caps``, an admin's edit of what the model takes (JSON of
    ``ModelCaps``); NULL follows the shipped ``capabilities.csv`` (or generic settings)."""
    cur.execute("ALTER TABLE models ADD COLUMN caps TEXT")
    cur.execute("ALTER TABLE models ADD COLUMN caps_by TEXT")
    cur.execute("ALTER TABLE models ADD COLUMN caps_at TIMESTAMP")


def check_deprecated(cur: Cursor) -> None:
    """Migration 021: the ids a model check found deprecated by the provider."""
    cur.execute("ALTER TABLE model_checks ADD COLUMN deprecated_ids TEXT DEFAULT ''")
