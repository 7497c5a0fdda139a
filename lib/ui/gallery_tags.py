"""Tags on the Gallery page: the filter's choices, the detail dialog's editor, bulk tagging.

Every change goes through ``lib.gallery.tags`` with the signed-in viewer (owner or admin;
all or nothing), and every tag drawn in Markdown goes through ``plain``: tags are typed by
people, so they are hostile input. Choices are the team's tags on images this viewer can
see (``tags.suggestions``), most used first; a new tag is typed into the same box
(``accept_new_options``).
"""

from __future__ import annotations

import streamlit as st

from lib.auth.access import Viewer
from lib.core.text import plain
from lib.engine import Engine
from lib.gallery import queries as gallery
from lib.gallery import tags
from lib.gallery.tagnames import MAX_PER_IMAGE, TagError
from lib.ui import toasts
from lib.ui.guard import authed_callback

CHOICES = 200  # tags offered in the filter and the editors
BULK = "bulk-tags"
_SAID = "gal_tags_said"  # a refusal of the last change, shown where the change was made
# A change made a tag the Filters do not offer yet: the whole page runs again (a dialog or the
# results fragment reruns alone, and the filter's choices were sent with the page).
_NEW = "gal_tags_new"
MATCH_HELP = ("Off: images carrying any of the chosen tags. On: only images carrying all of "
              "them.")


@st.cache_data(max_entries=16, show_spinner=False)
def _suggest(_eng: Engine, db_label: str, version: tuple[int, ...], viewer: Viewer,
             limit: int) -> list[str]:
    """``tags.suggestions`` (names only), cached until images or tags change."""
    return [tag for tag, _ in tags.suggestions(_eng.db, viewer, "", limit)]


def choices(eng: Engine, viewer: Viewer, keep: list[str] | tuple[str, ...] = ()) -> list[str]:
    """The team's tags this viewer can see, most used first, and ``keep`` (chosen already)."""
    version = eng.db.tables_version("images", "image_tags")
    found = _suggest(eng, eng.db.label, version, viewer, CHOICES)
    return [*found, *(t for t in keep if t not in found)]


def filter_widgets(eng: Engine, viewer: Viewer) -> tuple[tuple[str, ...], bool]:
    """The Filters expander's tag filter: which tags, and whether an image needs all."""
    chosen = st.session_state.get("gal_tags") or []
    picked = st.multiselect("Tags", choices(eng, viewer, chosen), key="gal_tags",
                            placeholder="Any tag", help=MATCH_HELP)
    match_all = st.toggle("Match all tags", key="gal_tags_all", help=MATCH_HELP)
    return tuple(picked), match_all


def shown(tag_list: tuple[str, ...] | list[str]) -> str:
    """Tags as inert Markdown, one after another."""
    return " · ".join(plain(t) for t in tag_list)


def _refused(where: str, exc: Exception) -> None:
    st.session_state[_SAID] = (where, str(exc))


def _say(where: str) -> None:
    said = st.session_state.get(_SAID)
    if said and said[0] == where:
        st.error(plain(said[1]), icon=":material/block:")
        st.session_state.pop(_SAID, None)


@authed_callback
def _on_edit(eng: Engine, viewer: Viewer, image_id: str, key: str) -> None:
    """The dialog's tag box changed: save its tags (normalised), or say why not."""
    known = set(choices(eng, viewer))
    try:
        saved = tags.set_tags(eng.db, viewer, image_id, st.session_state.get(key) or [],
                              eng.clock.now())
        if set(saved) - known:
            st.session_state[_NEW] = image_id
    except (TagError, gallery.GalleryError) as exc:
        _refused(key, exc)
        img = gallery.get_image(eng.db, viewer, image_id)
        saved = list(img.tags) if img else []
    st.session_state[key] = saved  # shown as kept: lower case, spaces collapsed


def editor(eng: Engine, viewer: Viewer, img: gallery.ImageDetail) -> None:
    """The detail dialog's tags: a box to add and remove them (owner or admin), or a line."""
    mine = img.user_id == viewer.username or viewer.role == "admin"
    if not mine:
        st.caption(f"Tags: {shown(img.tags)}" if img.tags else "No tags.")
        return
    key = f"dlg-tags-{img.id}"
    st.session_state[key] = list(img.tags)  # what is kept now (a bulk or API change too)
    st.multiselect("Tags", choices(eng, viewer, img.tags), key=key,
                   accept_new_options=True, max_selections=MAX_PER_IMAGE,
                   placeholder="Add a tag: pick one or type a new one",
                   on_change=_on_edit, args=(eng, viewer, img.id, key),
                   help=f"At most {MAX_PER_IMAGE} tags of up to 40 characters; kept in lower "
                        "case. Everyone who can see this image sees its tags.")
    _say(key)
    if st.session_state.pop(_NEW, None) == img.id:  # the Filters must offer the new tag
        st.session_state["gal_open"] = img.id  # and this dialog stays open
        st.rerun()


@authed_callback
def _bulk(eng: Engine, viewer: Viewer, ids: list[str], adding: bool) -> None:
    """Add or remove the bulk box's tags on every ticked image (all or nothing)."""
    chosen = st.session_state.get(BULK) or []
    if not chosen:
        _refused(BULK, TagError("Choose or type a tag first."))
        return
    try:
        n = tags.change(eng.db, viewer, ids, add=chosen if adding else (),
                        remove=() if adding else chosen, now=eng.clock.now())
    except (TagError, gallery.GalleryError) as exc:
        _refused(BULK, exc)
        return
    st.session_state[BULK] = []
    st.session_state[_NEW] = BULK  # the whole page: the Filters' tags follow (and the toast)
    toasts.later(f"{'Tagged' if adding else 'Untagged'} {n:,} image{'s' if n != 1 else ''}.",
                 ":material/sell:")


def bulk_row(eng: Engine, viewer: Viewer, ids: list[str]) -> None:
    """Tag or untag the ticked images: a tag box and two buttons, under the bulk bar."""
    box, add, remove = st.columns([4, 1, 1], vertical_alignment="bottom")
    box.multiselect("Tags for the selection", choices(eng, viewer, st.session_state.get(BULK)
                                                      or []),
                    key=BULK, accept_new_options=True, placeholder="Pick or type tags")
    add.button("Tag", key="bulk-tag", icon=":material/sell:", on_click=_bulk,
               args=(eng, viewer, ids, True), help="Add these tags to every selected image.")
    remove.button("Untag", key="bulk-untag", on_click=_bulk, args=(eng, viewer, ids, False),
                  help="Remove these tags from every selected image.")
    _say(BULK)
    if st.session_state.pop(_NEW, None) == BULK:
        st.rerun()
