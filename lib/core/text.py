"""Untrusted text inside Streamlit Markdown: shown as the characters typed, never as markup.

``st.markdown``, ``st.caption``, alert bodies and image captions all render Markdown (GFM plus
Streamlit's ``:color[...]`` directives, ``:material/...:`` icons and ``$...$`` LaTeX). A prompt,
a model id, a person's name or a provider's error text put there unescaped could draw a heading,
a link, an image fetched from anywhere (a tracking pixel) or a fake status. :func:`plain` makes
such text inert: every character that can open markup is backslash-escaped (CommonMark allows
that for any ASCII punctuation), a line cannot start a block (heading, list, quote, rule, code),
and direction controls that could reorder the text around it (the "Trojan Source" trick) are
dropped. tests/reliability/test_hostile_input.py checks this against a CommonMark parser.
"""

from __future__ import annotations

import re
import unicodedata

# The punctuation that can start markup anywhere in a line (CommonMark lets a backslash escape
# any ASCII punctuation; the rest, like ' . , - ? @ {}, stays as typed so text reads well).
_PUNCT = re.compile(r"([\\`*_\[\]()<>#+!|~:$&])")
# ... and what only starts a block at the beginning of a line: - = (lists, rules, setext
# headings) and the dot or parenthesis of "1." / "1)" (ordered lists).
_LINE_START = re.compile(r"^([-=])|^(\d+)([.)])")
# C0/C1 controls except tab and newlines, and the explicit bidi embeddings/overrides/isolates.
_INVISIBLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u061c]")
_SPACES = re.compile(r"[ \t\r\f\v\u00a0\u2028\u2029]+")
_FSI, _PDI = "\u2068", "\u2069"  # first-strong isolate: RTL text can't reorder what follows


def _escape_start(m: re.Match[str]) -> str:
    return "\\" + m.group(1) if m.group(1) else f"{m.group(2)}\\{m.group(3)}"


def _has_rtl(text: str) -> bool:
    if text.isascii():  # the common case, without a Unicode lookup per character
        return False
    return any(unicodedata.bidirectional(c) in ("R", "AL") for c in text)


def plain(text: object, *, one_line: bool = True) -> str:
    """``text`` as Markdown that renders exactly as these characters, with no markup at all.

    ``one_line`` folds newlines into spaces (labels, captions); otherwise each line break is
    kept as a hard break. Lines never start a block (heading, list, quote, code).
    """
    raw = _INVISIBLE.sub("", str(text))
    lines = [" ".join(_SPACES.sub(" ", line).split()) for line in raw.splitlines()]
    if one_line:
        lines = [" ".join(line for line in lines if line)]
    escaped = "  \n".join(
        _LINE_START.sub(_escape_start, _PUNCT.sub(r"\\\1", line)) for line in lines)
    return f"{_FSI}{escaped}{_PDI}" if _has_rtl(raw) else escaped


_UNSTORABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff]")


def bad_character(text: str) -> str | None:
    """Why this text can't be kept, or None: NUL and other C0 controls (tab and newlines are
    fine) break PNG metadata and most APIs; a lone surrogate can't be stored as UTF-8 at all."""
    found = _UNSTORABLE.search(text)
    if found is None:
        return None
    return (f"contains an invisible control character (U+{ord(found.group()):04X}) at position "
            f"{found.start() + 1}: delete it (retyping the text removes it) and try again")


def shorten(text: str, limit: int) -> str:
    """At most ``limit`` characters, with an ellipsis when cut (apply before :func:`plain`)."""
    return text if len(text) <= limit else text[: limit - 1] + "…"
