"""What a tag is: its one normal form, what is refused, and the SQL that filters by tags.

A tag is free text a person types, so it is hostile input. It is kept in one normal form,
which is also how it is shown and matched (there is no separate display form):

- Unicode NFKC (a full-width ``ｆｏｘ`` is ``fox``), then case-folded (``Fox`` is ``fox``);
- spaces trimmed at both ends and runs of spaces inside made one;
- refused with a sentence saying why (:class:`TagError`): empty, over :data:`MAX_LEN`
  characters, a comma (commas separate tags where several are typed at once), or any
  control, format or unassigned character: tabs and newlines, NUL, zero-width characters
  and the bidi overrides that reorder text ("Trojan Source"). Right-to-left letters are
  letters and stay; Markdown, HTML and ``=cmd()`` stay as typed, so every place that shows a
  tag shows it inert (``lib.core.text.plain`` on the pages, ``lib.core.csvsafe`` in files).

An image holds at most :data:`MAX_PER_IMAGE` tags. Filtering by several tags matches an
image carrying *any* of them, or with ``match_all`` *all* of them. Who may tag, and the
writes: :mod:`lib.gallery.tags`.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from typing import Any

from lib.core.errors import PromptboardError

MAX_LEN = 40  # characters, after normalising
MAX_PER_IMAGE = 20
TABLE = "image_tags"
# The tags of image ``{a}`` as one sorted array (NULL for none): a column of a gallery query.
TAGS_OF = "(SELECT array_agg(t.tag ORDER BY t.tag) FROM image_tags t WHERE t.image_id = {a}.id)"
_REFUSED = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}  # controls, format, unassigned, breaks


class TagError(PromptboardError, ValueError):
    """A tag that cannot be kept (empty, too long, a control character), or too many."""


def match_key(raw: str) -> str:
    """``raw`` in the normal form, without refusing anything: what a filter or a prefix is
    compared with (a refused string simply matches no tag)."""
    return " ".join(unicodedata.normalize("NFKC", str(raw)).casefold().split())


def normalise(raw: object) -> str:
    """``raw`` as a tag in its normal form, or :class:`TagError` saying what to change."""
    if not isinstance(raw, str):
        raise TagError(f"A tag is text, not {type(raw).__name__}.")
    text = unicodedata.normalize("NFKC", raw)
    for pos, char in enumerate(text, 1):
        if unicodedata.category(char) in _REFUSED:  # spaces of any width are Zs: kept
            raise TagError(f"A tag cannot hold the invisible or control character "
                           f"U+{ord(char):04X} (at position {pos}): type it again without it.")
    tag = " ".join(text.casefold().split())
    if not tag:
        raise TagError("A tag cannot be empty: type a word or two.")
    if "," in tag:
        raise TagError(f"A tag cannot hold a comma (commas separate tags): {_said(tag)}.")
    if len(tag) > MAX_LEN:
        raise TagError(f"A tag is at most {MAX_LEN} characters; {_said(tag)} has {len(tag)}.")
    return tag


def normalise_all(raws: Iterable[object]) -> list[str]:
    """Each of ``raws`` normalised, duplicates once, in the order given."""
    return list(dict.fromkeys(normalise(r) for r in raws))


def _said(tag: str) -> str:
    """A tag quoted in a message, cut short: the message must stay readable."""
    return repr(tag if len(tag) <= 48 else tag[:47] + "…")


def filter_sql(tags: Iterable[str], match_all: bool, alias: str = "i") -> tuple[str, list[Any]]:
    """A WHERE fragment keeping images ``alias`` that carry any (or all) of ``tags``."""
    keys = list(dict.fromkeys(match_key(t) for t in tags))
    marks = ",".join("?" * len(keys))
    having = f" GROUP BY image_id HAVING count(*) = {len(keys)}" if match_all else ""
    return (f"{alias}.id IN (SELECT image_id FROM {TABLE} WHERE tag IN ({marks}){having})",
            keys)


def text_sql(alias: str = "i") -> str:
    """A WHERE fragment for the search box over tags: one parameter, an escaped ILIKE
    pattern (the one the prompt search uses)."""
    return f"{alias}.id IN (SELECT image_id FROM {TABLE} WHERE tag ILIKE ? ESCAPE '\\')"
