"""What a page rendered from hostile data: every Markdown string, table cell and chart string.

For the markup tests of test_hostile_input.py. ``page_findings(at)`` walks a whole AppTest
run (main area, sidebar, dialogs, toasts) and returns how hostile text came out live:

- every string Streamlit renders as Markdown (bodies, captions, alerts, titles, toasts,
  widget and expander/tab labels, tooltips, progress texts, radio and segmented-control
  options, image captions) and every ``st.table`` cell is parsed with markdown-it-py; a
  link or image of any kind, a heading, list, quote, code or raw HTML holding the marker,
  bold or emphasis made of a payload's own text, or a live ``:color[...]`` directive or
  ``$...$`` formula is a finding;
- every Plotly figure (``st.plotly_chart``): every string taken from data (trace names,
  category values, ``customdata``, ticktext) must be HTML-escaped, and hover templates
  may hold no tag but our ``<br>`` and ``<extra>``;
- every ``st.dataframe`` (whose toolbar offers "Download as CSV"): no text cell may start a
  spreadsheet formula.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any

from google.protobuf.message import Message

from lib.core import csvsafe
from tests.reliability._hostile_helpers import HOSTILE_TEXTS, MARKER, render

# The brief's payloads: a tracking pixel, two links (Markdown and HTML), a colour, bold.
LINKS_AND_COLOURS: dict[str, str] = {
    "pixel": "![x](http://127.0.0.1:9/px)",
    "md_link": "[x](https://evil.example)",
    "html_link": '<a href="https://evil.example">x</a>',
    "colour": ":red[x]",
    "bold": "**b**",
}
PAYLOADS: dict[str, str] = {**LINKS_AND_COLOURS, **HOSTILE_TEXTS}
# Text a payload wraps in markup: found as the whole of a bold/emphasis/code element, it was
# live (our own templates bold a whole value, e.g. **{plain(label)}**, never a piece of it).
TOKENS = {MARKER, "x", "b"}
_LIVE_ALWAYS = {"a", "img"}  # the dashboard's own Markdown has no links or images at all
_WRAPPERS = {"strong", "em", "code"}
_PLAIN = {"p", "br"}
_DIRECTIVE = re.compile(r"(?<!\\):[a-z-]+\[(?:x\]|" + MARKER + ")")  # :red[x], :red[EVIL
_MATH = re.compile(r"(?<!\\)\$" + MARKER)
# Proto fields Streamlit renders as Markdown (by name, anywhere in an element's message).
_MARKDOWN_FIELDS = {"body", "label", "help", "caption", "text", "content", "options"}
_PLAIN_TEXT_ELEMENTS = {"code", "text", "json", "selectbox", "multiselect", "text_input",
                        "text_area", "bidi_component", "exception"}


class _Live(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, list[str]]] = []
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _LIVE_ALWAYS:
            self.found.append(f"<{tag} {' '.join(f'{k}={v}' for k, v in attrs)}>")
        elif any(MARKER in (v or "") for _, v in attrs):
            self.found.append(f"<{tag}> attribute")
        if tag not in ("br", "img", "hr"):
            self.stack.append((tag, []))

    def handle_endtag(self, tag: str) -> None:
        while self.stack:
            name, text = self.stack.pop()
            inner = "".join(text)
            if name in _WRAPPERS and inner.strip() in TOKENS:
                self.found.append(f"<{name}>{inner}</{name}>")
            if self.stack:
                self.stack[-1][1].append(inner)
            if name == tag:
                break

    def handle_data(self, data: str) -> None:
        if self.stack:
            self.stack[-1][1].append(data)
        live = [t for t, _ in self.stack if t not in _PLAIN | _WRAPPERS]
        if MARKER in data and live:
            self.found.append(f"marker inside <{'><'.join(live)}>")


def live_markup(body: str) -> list[str]:
    """How hostile text in this Markdown renders as markup rather than as typed."""
    parser = _Live()
    parser.feed(render(body))
    parser.close()
    found = parser.found
    found += [f"live directive {m.group()!r}" for m in _DIRECTIVE.finditer(body)]
    found += [f"live math {m.group()!r}" for m in _MATH.finditer(body)]
    return found


def _nodes(node: Any) -> Iterator[Any]:
    yield node
    for child in getattr(node, "children", {}).values():
        yield from _nodes(child)


def _strings(msg: Message, path: str) -> Iterator[tuple[str, str]]:
    for field, value in msg.ListFields():
        values = list(value) if type(value).__name__.startswith("Repeated") else [value]
        for v in values:
            if isinstance(v, Message):
                yield from _strings(v, f"{path}.{field.name}")
            elif isinstance(v, str) and field.name in _MARKDOWN_FIELDS:
                yield f"{path}.{field.name}", v


def markdown_strings(at: Any) -> list[tuple[str, str]]:
    """(where, text) of every string the last run renders as Markdown, table cells too."""
    out: list[tuple[str, str]] = []
    for node in _nodes(at._tree):
        kind = str(getattr(node, "type", ""))
        proto = getattr(node, "proto", None)
        if kind in _PLAIN_TEXT_ELEMENTS or not isinstance(proto, Message):
            continue
        if kind == "table":  # st.table renders Markdown in every cell and header
            df = node.value
            out += [("table.header", str(c)) for c in df.columns]
            out += [("table.cell", str(v)) for v in df.astype(str).to_numpy().ravel()]
            continue
        if kind in ("dataframe", "plotly_chart"):
            continue
        out += list(_strings(proto, kind))
    return out


def _figure_strings(fig: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(where, text) of every string in a figure's traces and tick texts."""
    def walk(value: Any, where: str) -> Iterator[tuple[str, str]]:
        if isinstance(value, str):
            yield where, value
        elif isinstance(value, dict):
            for k, v in value.items():
                yield from walk(v, f"{where}.{k}")
        elif isinstance(value, list):
            for v in value:
                yield from walk(v, where)

    for i, trace in enumerate(fig.get("data", [])):
        for key in ("name", "x", "y", "text", "customdata", "legendgroup", "hovertemplate",
                    "hovertext", "labels"):
            if key in trace:
                yield from walk(trace[key], f"trace{i}.{key}")
    for axis, spec in fig.get("layout", {}).items():
        if isinstance(spec, dict) and "ticktext" in spec:
            yield from walk(spec["ticktext"], f"{axis}.ticktext")


_OUR_TAGS = re.compile(r"<br>|</?extra>")


def plotly_leaks(fig: dict[str, Any]) -> list[str]:
    """Strings of a figure that Plotly would render as HTML: unescaped data, or a hover
    template with a tag of its own."""
    found = []
    for where, text in _figure_strings(fig):
        if where.endswith("hovertemplate"):
            if "<" in _OUR_TAGS.sub("", text):
                found.append(f"{where}: {text[:80]!r}")
        elif html.escape(html.unescape(text)) != text or "%{" in text:
            found.append(f"{where}: {text[:80]!r}")
    return found


def figures(at: Any) -> list[dict[str, Any]]:
    """The figures of every ``st.plotly_chart`` in the last run."""
    return [json.loads(el.proto.spec) for el in at.get("plotly_chart")]


def dataframe_formulas(at: Any) -> list[str]:
    """Text cells of ``st.dataframe`` tables that would start a formula in their CSV."""
    found = []
    for el in at.get("dataframe"):
        df = el.value
        for col in df.columns:
            for v in df[col]:
                if isinstance(v, str) and csvsafe.risky(v):
                    found.append(f"dataframe {col}: {v[:60]!r}")
    return found


def page_findings(at: Any) -> tuple[list[str], int]:
    """Every way hostile text came out live in this run, and how many strings were read."""
    strings = markdown_strings(at)
    found = [f"{where}: {issue} in {text[:80]!r}" for where, text in strings
             for issue in live_markup(text)]
    figs = figures(at)
    found += [leak for fig in figs for leak in plotly_leaks(fig)]
    found += dataframe_formulas(at)
    return found, len(strings) + len(figs) + len(at.get("dataframe"))
