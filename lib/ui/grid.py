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

_HTML = '<div class="pb-grid"></div>'

_CSS = """
.pb-grid {
  display: grid; gap: 1rem;
  grid-template-columns: repeat(auto-fill, minmax(min(100%, 12rem), 1fr));
}
@media (max-width: 640px) {  /* a phone: two columns of smaller tiles */
  .pb-grid { gap: .5rem; grid-template-columns: repeat(2, minmax(0, 1fr)); }
  .pb-tile { padding: .35rem; }
}
.pb-tile {
  display: flex; flex-direction: column; gap: .4rem; padding: .5rem; margin: 0;
  font: inherit; text-align: left; cursor: pointer; min-width: 0;
  color: var(--st-text-color, inherit);
  background: var(--st-background-color, transparent);
  border: 1px solid var(--st-border-color, rgba(128, 128, 128, .3));
  border-radius: var(--st-base-radius, .5rem);
}
.pb-tile:hover { border-color: var(--st-primary-color, #ff4b4b); }
.pb-tile:focus-visible { outline: 2px solid var(--st-primary-color, #ff4b4b); outline-offset: 2px; }
.pb-tile img {
  display: block; width: 100%; aspect-ratio: 1 / 1; object-fit: cover;
  border-radius: calc(var(--st-base-radius, .5rem) * .6);
  background: var(--st-secondary-background-color, rgba(128, 128, 128, .1));
}
.pb-cap { font-size: .8rem; line-height: 1.35; opacity: .75; overflow-wrap: anywhere; }
.pb-badge { font-size: .8rem; font-weight: 600; color: var(--st-primary-color, inherit); }
"""

_JS = """
// What a compact tile stands for: the same rules as describe() in lib/ui/grid.py.
function describe(d, q) {
  const batch = Boolean(d.batch);
  const src = d.src || `/api/v1/images/${d.id}/thumbnail?${q}&sig=${d.sig}`;
  const short = d.prompt.length <= 68 ? d.prompt : d.prompt.slice(0, 67) + "\u2026";
  return {
    id: d.id, src: src, prompt: d.prompt, caption: d.facts + " \u2014 " + short,
    badge: batch ? `Batch of ${d.n} images` : "",
    label: (batch ? `Open batch of ${d.n}: ` : "Open image: ") + d.prompt,
    event: batch ? "batch" : "open", target: batch ? d.batch : d.id,
  };
}

export default function ({ parentElement, data, setTriggerValue }) {
  const root = parentElement.querySelector(".pb-grid");
  const text = typeof data === "string" ? data : new TextDecoder().decode(data);
  if (root.dataset.payload === text) return;  // same page of tiles: keep the DOM as it is
  root.dataset.payload = text;
  const page = JSON.parse(text);
  root.replaceChildren(...page.tiles.map((d) => {
    const t = describe(d, page.q);
    const tile = document.createElement("button");
    tile.type = "button";
    tile.className = "pb-tile";
    tile.dataset.id = t.id;
    tile.setAttribute("aria-label", t.label);
    tile.title = t.prompt;
    const img = document.createElement("img");
    img.src = t.src;
    img.alt = t.prompt;
    img.loading = "lazy";
    tile.append(img);
    if (t.badge) {
      const badge = document.createElement("span");
      badge.className = "pb-badge";
      badge.textContent = t.badge;
      tile.append(badge);
    }
    const cap = document.createElement("span");
    cap.className = "pb-cap";
    cap.textContent = t.caption;
    tile.append(cap);
    tile.addEventListener("click", () => setTriggerValue(t.event, t.target));
    return tile;
  }));
}
"""

_GRID = st.components.v2.component("promptboard.gallery_grid", html=_HTML, css=_CSS, js=_JS)


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
