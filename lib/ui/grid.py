"""The Gallery's thumbnail grid: one custom component instead of 24 sets of elements.

Each tile as Streamlit elements (a bordered container, an image with its caption, an Open
button) cost about 0.3 ms of every rerun and sent three elements to the browser; a page of 24
made the Gallery half as slow again as an empty one. Here the whole page of tiles is one
``st.components.v2`` element: the browser builds the tiles from the data (text set with
``textContent``, never parsed as markup), and a click on a tile sends one trigger back.

A tile is a real ``<button>``: reachable with Tab, opened with Enter or Space, and named for
screen readers ("Open image: <prompt>" or "Open batch of N: <prompt>").
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import streamlit as st

from lib.core.text import shorten
from lib.web import assets

# The script and style are files served by serve.py (lib/web/assets.py), cached by the
# browser: the element carries a few bytes of loader, not 3 KB of code on every run.
_HTML = f'<link rel="stylesheet" href="{assets.url("grid.css")}"><div class="pb-grid"></div>'
# (The loader runs from a blob: URL, so the path is resolved against the page's.)
_JS = f"""const grid = import(new URL("{assets.url("grid.js")}", window.location.href).href);
export default async function (component) {{ (await grid).default(component); }}
"""
_GRID = st.components.v2.component("promptboard.gallery_grid", html=_HTML, js=_JS)


@dataclass(frozen=True)
class Tile:
    """One tile: what it shows and what a click on it opens."""

    id: str  # the image's id
    src: str  # thumbnail URL (signed link, presigned or data:)
    prompt: str  # plain text; the browser sets it as text, never as markup
    facts: str  # the caption before the prompt: model, cost, duration, rating
    batch_id: str | None = None  # set: the tile stands for a batch (of batch_size), opens it
    batch_size: int = 1

    def payload(self) -> dict[str, Any]:
        """What travels to the browser each run: each text once (the caption, the accessible
        name and the click's target are derived there, by :func:`describe`'s rules)."""
        compact: dict[str, Any] = {"id": self.id, "src": self.src, "prompt": self.prompt,
                                   "facts": self.facts}
        if self.batch_id is not None:
            compact.update(batch=self.batch_id, n=self.batch_size)
        return compact


_SIGNED = re.compile(r"/api/v1/images/([^/?]+)/thumbnail\?(.+)&sig=([0-9a-f]+)")


def pack(entries: list[dict[str, Any]]) -> dict[str, Any]:
    """The page's payload: the tiles, with what their signed links share (user, session,
    expiry) said once as ``q``, each tile keeping only its signature."""
    shared = ""
    tiles = []
    for entry in entries:
        m = _SIGNED.fullmatch(entry["src"])
        if m and m.group(1) == entry["id"] and m.group(2) == (shared or m.group(2)):
            shared = m.group(2)
            entry = {k: v for k, v in entry.items() if k != "src"} | {"sig": m.group(3)}
        tiles.append(entry)
    return {"q": shared, "tiles": tiles}


def describe(compact: dict[str, Any], q: str = "") -> dict[str, Any]:
    """What a tile's payload shows and does in the browser (the component's ``describe``
    in JavaScript follows the same rules): its image, caption, badge, accessible name,
    click; ``q`` is the page's shared link parameters (see :func:`pack`)."""
    batch = bool(compact.get("batch"))
    prompt, n = str(compact["prompt"]), compact.get("n", 1)
    src = compact.get("src") or f"/api/v1/images/{compact['id']}/thumbnail?{q}&sig={compact['sig']}"
    return {**compact, "src": src,
            "caption": f"{compact['facts']} — {shorten(prompt, 68)}",
            "badge": f"Batch of {n} images" if batch else "",
            "label": (f"Open batch of {n}: " if batch else "Open image: ") + prompt,
            "event": "batch" if batch else "open",
            "target": compact["batch"] if batch else compact["id"]}


@dataclass(frozen=True)
class Click:
    """What the viewer clicked in this run: an image to open, or a batch to show."""

    image_id: str | None = None
    batch_id: str | None = None


def grid(tiles: list[Tile], *, key: str) -> Click:
    """Draw the tiles; return what was clicked in the run this click caused (else empty)."""
    # JSON as bytes, not a dict or a str: Streamlit passes bytes through and hashes them once,
    # where it would serialise a dict (or escape a str) and then do it again for the hash.
    payload = json.dumps(pack([t.payload() for t in tiles]), separators=(",", ":")).encode()
    result = _GRID(key=key, data=payload, on_open_change=_noop, on_batch_change=_noop)
    return Click(image_id=_text(result.get("open")), batch_id=_text(result.get("batch")))


def _text(value: object) -> str | None:
    """A trigger's value as a non-empty string: values arrive from the browser, unchecked."""
    return value if isinstance(value, str) and value else None


def _noop() -> None:
    """Trigger callbacks are what registers the events; the value is read from the result."""
