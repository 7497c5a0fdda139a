"""Who may see and change a board, and what a board's name and description may hold.

Rights, from most to least (:func:`right_of`)::

    manage   the owner, and admins: rename, describe, visibility, members, archive, delete
    edit     a named editor: add and remove images
    view     a named viewer; every signed-in user on a ``team`` board: look only

Visibility: ``private`` (the owner and admins only: named members are kept but count for
nothing), ``team`` (every signed-in user views; named editors edit) or ``members`` (only the
named members, as viewer or editor). A board you cannot view is "not found", in the same
words as one that does not exist (:class:`BoardMissing`); one you may view but not change is
:class:`BoardDenied`. Analysts look at boards but never change one (they make no images).

Images on a board (the isolation rule): a board never grants sight of an image. Its grid,
count, cost and date range hold only the images the viewer could see in the gallery anyway
(``lib.gallery.queries.visible_where``): another member's private image on a team board
stays invisible to you, and to make it shown its owner shares it. An editor adds only
images they can see. So no page, URL or API call reaches an image through a board.

Names and descriptions are hostile text: NFKC, trimmed, at most :data:`MAX_NAME` and
:data:`MAX_DESCRIPTION` characters, control, format and bidi characters refused (newlines
are allowed in a description); the pages show them with ``plain()``.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from lib.auth.access import Viewer
from lib.core.errors import PromptboardError

MAX_NAME = 80
MAX_DESCRIPTION = 1000
MAX_MEMBERS = 200
MAX_IMAGES = 1000  # images one call may add or remove
VISIBILITIES = ("private", "team", "members")
ACCESS = ("viewer", "editor")
RIGHTS = ("view", "edit", "manage")
_REFUSED = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}


class BoardError(PromptboardError, ValueError):
    """A board name, description, visibility or member list that cannot be kept."""


class BoardDenied(PromptboardError, PermissionError):
    """A board the viewer may see but not change this way."""


class BoardMissing(PromptboardError, LookupError):
    """No such board, or not one the viewer may see (the same words for both)."""


def missing(board_id: str) -> BoardMissing:
    """The one "not found" of a board."""
    return BoardMissing(f"Board {str(board_id)[:40]!r} was not found, or you cannot see it.")


def clean_text(raw: object, what: str, cap: int, *, lines: bool = False) -> str:
    """``raw`` NFKC and trimmed, or :class:`BoardError` saying what to change."""
    if not isinstance(raw, str):
        raise BoardError(f"A board's {what} is text, not {type(raw).__name__}.")
    text = unicodedata.normalize("NFKC", raw).strip()
    for pos, char in enumerate(text, 1):
        if lines and char == "\n":
            continue
        if unicodedata.category(char) in _REFUSED:
            raise BoardError(f"A board's {what} cannot hold the invisible or control character "
                             f"U+{ord(char):04X} (at position {pos}): type it again without it.")
    if len(text) > cap:
        raise BoardError(f"A board's {what} is at most {cap} characters, not {len(text)}.")
    return text


def clean_name(raw: object) -> str:
    """A board name: 1 to :data:`MAX_NAME` characters, inner runs of spaces made one."""
    name = " ".join(clean_text(raw, "name", MAX_NAME).split())
    if not name:
        raise BoardError("A board needs a name: type a word or two.")
    return name


def clean_visibility(raw: object) -> str:
    """One of :data:`VISIBILITIES`."""
    if raw not in VISIBILITIES:
        raise BoardError(f"A board's visibility is one of {', '.join(VISIBILITIES)}, "
                         f"not {str(raw)[:40]!r}.")
    return str(raw)


def visible_sql(viewer: Viewer, alias: str = "b") -> tuple[str, list[Any]]:
    """THE board visibility rule: a WHERE fragment over boards ``alias`` and its parameters."""
    if viewer.role == "admin":
        return "TRUE", []
    return (f"({alias}.owner = ? OR {alias}.visibility = 'team' OR ({alias}.visibility = "
            f"'members' AND {alias}.id IN (SELECT board_id FROM board_members WHERE "
            f"username = ?)))", [viewer.username, viewer.username])


def right_of(viewer: Viewer, owner: str, visibility: str, access: str | None) -> str | None:
    """The viewer's right on a board (``access``: their member row's, if any), or None."""
    if viewer.role == "admin" or viewer.username == owner:
        return "manage"
    if visibility == "private":
        return None
    if access is not None:
        return "edit" if access == "editor" and viewer.role != "analyst" else "view"
    return "view" if visibility == "team" else None
