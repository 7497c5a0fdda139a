"""Shared pieces of the hostile-input, upload, auth-attack and secrets tests.

Not a conftest: plain functions and constants the test modules import.
"""

from __future__ import annotations

import os
import re
from html.parser import HTMLParser
from typing import Any

from hypothesis import settings
from markdown_it import MarkdownIt

from tests.helpers import run_next, wait_until

SOAK = os.environ.get("PROMPTBOARD_SOAK") == "1"
# Modest by default (the suite's time budget), thorough with PROMPTBOARD_SOAK=1.
settings.register_profile("hostile", max_examples=40, deadline=None)
settings.register_profile("hostile-soak", max_examples=1000, deadline=None)
PROFILE = "hostile-soak" if SOAK else "hostile"

MARKER = "EVIL"
# Text a person could type into any field. Every active part carries MARKER, so finding the
# marker inside rendered markup (a tag, an attribute, a heading...) proves the text was live.
HOSTILE_TEXTS: dict[str, str] = {
    "html": f"<script>alert('{MARKER}')</script> <img src=x onerror={MARKER}> <b>{MARKER}</b>",
    "md_links": f"![{MARKER}](http://tracker.example/{MARKER}.png) [{MARKER}](javascript:alert(1))",
    "md_blocks": f"# {MARKER} heading\n- {MARKER}\n> {MARKER}\n\n    {MARKER}\n---",
    "streamlit": (f":red[{MARKER}] :material/warning: ${MARKER}^2$ **{MARKER}** `{MARKER}` "
                  f"~~{MARKER}~~"),
    "entities": f"&lt;script&gt;{MARKER} &#x3C;img&#x3E; &amp;",
    "rtl": f"{MARKER} \u202egnp.exe \u05e9\u05dc\u05d5\u05dd \u0645\u0631\u062d\u0628\u0627",
    "emoji": f"{MARKER} 🦊🏳️‍🌈 👩🏽‍🚀 \u200b\u200d",
    "whitespace": f"  {MARKER}\t\t spaced   out \n\n\n end  ",
}
_DIRECTIVE = re.compile(r"(?<!\\):[a-z-]+\[[^\]]*" + MARKER)  # :red[EVIL]
_MATH = re.compile(r"(?<!\\)\$[^$]*" + MARKER + r"[^$]*(?<!\\)\$")  # $EVIL$
_PLAIN_TAGS = {"p", "br"}

_md = MarkdownIt("commonmark", {"html": True}).enable(["strikethrough", "table"])


def render(markdown: str) -> str:
    """HTML a CommonMark (+ strikethrough, tables) renderer makes of this Markdown."""
    return _md.render(markdown)


class _Finder(HTMLParser):
    """Marker text found inside any element but a paragraph, or in any attribute."""

    def __init__(self, marker: str) -> None:
        super().__init__(convert_charrefs=True)
        self.marker, self.stack, self.found = marker, [], []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if any(self.marker in (v or "") for _, v in attrs):
            self.found.append(f"<{tag}> attribute")
        if tag not in ("br", "img", "hr"):
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in self.stack:
            del self.stack[len(self.stack) - 1 - self.stack[::-1].index(tag):]

    def handle_data(self, data: str) -> None:
        live = [t for t in self.stack if t not in _PLAIN_TAGS]
        if self.marker in data and live:
            self.found.append(f"text inside <{'><'.join(live)}>")


def markup_around(body: str, marker: str = MARKER) -> list[str]:
    """How this Markdown would render the marker as markup rather than as typed text."""
    if marker not in body:
        return []
    finder = _Finder(marker)
    finder.feed(render(body))
    found = finder.found
    found += [f"streamlit directive in {body[:80]!r}" for _ in _DIRECTIVE.finditer(body)]
    found += [f"math in {body[:80]!r}" for _ in _MATH.finditer(body)]
    return found


def finish_all(engine: Any) -> None:
    """Run every queued job to its end (the dashboard's own worker threads may take some)."""
    def finished() -> bool:
        while run_next(engine) is not None:  # what a worker thread holds, wait for
            pass
        return not engine.db.scalar(
            "SELECT count(*) FROM jobs WHERE status IN ('queued', 'running')")

    wait_until(finished, what="every queued job to end")


def markdown_bodies(at: Any) -> list[str]:
    """Every string an AppTest run rendered as Markdown (text, captions, alerts, image captions,
    titles and headers, toasts)."""
    bodies: list[str] = []
    for kind in ("markdown", "caption", "title", "header", "subheader", "error", "warning",
                 "info", "success", "toast"):
        bodies += [str(e.value) for e in at.get(kind)]
    for img in at.get("image"):
        bodies += [i.caption for i in img.proto.imgs]
    return bodies


def unsafe_markup(at: Any) -> list[str]:
    """Markup the marker got rendered as, plus any element that allows raw HTML with it."""
    found = [m for body in markdown_bodies(at) for m in markup_around(body)]
    for el in at.get("markdown"):
        if getattr(el.proto, "allow_html", False) and MARKER in el.value:
            found.append(f"unsafe_allow_html: {el.value[:80]}")
    bidi = [b for b in markdown_bodies(at) if MARKER in b and "\u202e" in b]
    return found + [f"bidi override shown: {b[:60]!r}" for b in bidi]
