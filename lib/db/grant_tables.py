"""Migration 022: who may use which models (``lib/grants``): a role's or a user's allow-list
of provider × model pairs, and a user's daily image cap."""

from __future__ import annotations

from lib.db.cursor import Cursor


def create_tables(cur: Cursor) -> None:
    """Migration 022: ``grant_lists`` (a role or user whose models are listed: absent means
    every model), ``model_grants`` (its pairs; model ``*`` is every model of the provider)
    and ``image_caps`` (images a user may ask for per UTC day)."""
    cur.execute(
        "CREATE TABLE grant_lists (scope TEXT NOT NULL, subject TEXT NOT NULL, "
        "set_by TEXT NOT NULL, set_at TIMESTAMP NOT NULL, PRIMARY KEY (scope, subject))")
    cur.execute(
        "CREATE TABLE model_grants (scope TEXT NOT NULL, subject TEXT NOT NULL, "
        "provider TEXT NOT NULL, model TEXT NOT NULL, "
        "PRIMARY KEY (scope, subject, provider, model))")
    cur.execute(
        "CREATE TABLE image_caps (username TEXT PRIMARY KEY, daily_images INTEGER NOT NULL, "
        "set_by TEXT NOT NULL, set_at TIMESTAMP NOT NULL)")
