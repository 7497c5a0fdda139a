"""Gallery widgets: a tile, the detail dialog and the bulk-action bar.

Every read and write goes through ``lib.gallery.queries`` with the signed-in viewer, so a
member can only ever see or touch what the visibility rule allows, whatever ids
arrive from the URL or a stale session.
"""

from __future__ import annotations

import streamlit as st

from lib import jobs
from lib.auth import accounts as auth
from lib.auth.access import Viewer
from lib.core.fmt import shown, usage
from lib.core.text import plain, shorten
from lib.engine import Engine
from lib.gallery import downloads as gallery_zip
from lib.gallery import queries as gallery
from lib.gallery import selection as gallery_select
from lib.gallery import variations
from lib.imaging.files import download_name
from lib.jobs import batches, reuse
from lib.styles import library as styles
from lib.ui import board_picker, gallery_tags, grid, media, toasts
from lib.ui import generate_form as reuse_ui
from lib.ui.display import money, seconds
from lib.ui.guard import authed_callback, authed_dialog
from lib.ui.media import image_src

SELECTED = "gal_selected"
CONFIRM = "gal_confirm_delete"  # set while the bulk delete confirmation is open
DLG_CONFIRM = "gal_dlg_confirm"  # the image whose delete the detail dialog is asking about
ZIP_MAX = 200
TILE_WIDTH = 168  # px: select-mode tiles wrap, two to a row on a 390 px phone
PREVIEW_MAX = 48  # thumbnails drawn in the delete confirmation; the rest are counted


def selected() -> set[str]:
    """Ids ticked for bulk actions in this session.

    The tick boxes' callbacks keep it equal to what is ticked *before* a rerun draws
    anything, so the bar above the tiles, its zip and its delete never lag a tick behind.
    """
    selected: set[str] = st.session_state.setdefault(SELECTED, set())
    return selected


def _tick_key(image_id: str) -> str:
    return f"sel-{image_id}"


@authed_callback
def _on_tick(image_id: str) -> None:
    """A box was ticked or unticked: the selection follows (a callback, before the rerun)."""
    if st.session_state.get(_tick_key(image_id)):
        selected().add(image_id)
    else:
        selected().discard(image_id)


@authed_callback
def clear_selection() -> None:
    """Untick everything: the selection and every tick box's own state (a callback)."""
    selected().clear()
    for key in [k for k in st.session_state if str(k).startswith("sel-")]:
        st.session_state[key] = False
    st.session_state.pop(CONFIRM, None)


@authed_callback
def on_select_mode() -> None:
    """Leaving select mode unticks everything: no hidden selection waits for a later delete."""
    if not st.session_state.get("gal_selecting"):
        clear_selection()


def _images(n: int) -> str:
    return f"{n:,} image" if n == 1 else f"{n:,} images"


def match_line(result: gallery.GalleryPage, grouped: bool) -> str:
    """How much matches: images, and with grouped batches how many tiles hold them."""
    line = f"{_images(result.images)} {'matches' if result.images == 1 else 'match'}"
    if grouped and result.total != result.images:
        line += f", shown as {result.total:,} {'tile' if result.total == 1 else 'tiles'}"
    return line + "."


@st.cache_data(max_entries=64, show_spinner=False)
def search(_eng: Engine, db_label: str, version: tuple[int, ...], viewer: Viewer,
           f: gallery.GalleryFilter) -> gallery.GalleryPage:
    """``gallery.search``, cached until a write changes images, ratings or favourites."""
    return gallery.search(_eng.db, viewer, f)


@st.cache_data(max_entries=16, show_spinner=False)
def facets(_eng: Engine, db_label: str, version: tuple[int, ...],
           viewer: Viewer) -> dict[str, list[str]]:
    """``gallery.facets``, cached the same way."""
    return gallery.facets(_eng.db, viewer)


# What a gallery page reads and can change. The jobs it joins add only their batch id, fixed
# before the job's images exist; so job progress and claims do not empty the cache.
GALLERY_TABLES = ("images", "image_ratings", "favourites", "image_tags", "board_images")


def cached_search(eng: Engine, viewer: Viewer,
                  f: gallery.GalleryFilter) -> gallery.GalleryPage:
    """A page of results; reruns without a write in between cost nothing."""
    return search(eng, eng.db.label, eng.db.tables_version(*GALLERY_TABLES), viewer, f)


def cached_facets(eng: Engine, viewer: Viewer) -> dict[str, list[str]]:
    """Filter choices; reruns without a write in between cost nothing."""
    return facets(eng, eng.db.label, eng.db.tables_version(*GALLERY_TABLES), viewer)


def style_labels(eng: Engine) -> dict[str, str]:
    """Style id → the name Generate shows ("cartoon" → "Cartoon"), for the Style filter."""
    every = styles.list_styles(eng.db, include_proposed=True, include_archived=True)
    return {s.id: s.label for s in every}


def _facts(card: gallery.ImageCard) -> str:
    """A tile's caption, without its prompt: model, cost, duration, rating, demo."""
    stars = f" · {card.avg_rating:.1f}★ ({card.ratings})" if card.ratings else ""
    demo = " · demo" if card.demo else ""
    return (f"{card.model} · {money(card.cost_usd)} · {seconds(card.duration_ms)}"
            f"{stars}{demo}")


def grid_tile(eng: Engine, card: gallery.ImageCard) -> grid.Tile:
    """A card as a tile of the one-element grid (text stays text: the browser sets it so)."""
    return grid.Tile(id=card.id, src=image_src(eng, card.id, card.thumb_key, absolute=False),
                     prompt=card.prompt, facts=_facts(card),
                     batch_id=card.batch_id if card.group_count > 1 else None,
                     batch_size=card.group_count)


def show_batch(batch_id: str | None) -> None:
    """Rerun the Gallery on one batch's images, from its first page (closing any dialog)."""
    st.session_state.update(gal_batch=batch_id, gal_page=0)
    st.session_state.pop("gal_open", None)
    st.rerun()


def tile(eng: Engine, card: gallery.ImageCard) -> None:
    """One thumbnail with its key facts and a tick box, for bulk selection.

    Browsing uses the one-element grid (``grid_tile``); selecting needs a widget per tile. A
    grouped batch gets no tick box (it would tick one image of many), only "Open batch".
    """
    with st.container(border=True, width=TILE_WIDTH):
        prompt = plain(shorten(card.prompt, 68))  # user text: shown as typed, never as markup
        st.image(image_src(eng, card.id, card.thumb_key), width="stretch",
                 caption=f"{plain(_facts(card))} — {prompt}")
        if card.group_count > 1:
            st.caption(f":material/burst_mode: Batch of {card.group_count} images")
            if st.button("Open batch", key=f"batch-{card.id}", icon=":material/photo_library:"):
                show_batch(card.batch_id)
        else:
            key = _tick_key(card.id)
            if st.session_state.get(key) != (card.id in selected()):
                st.session_state[key] = card.id in selected()  # e.g. drawn again after a Clear
            st.checkbox("Select", key=key, on_change=_on_tick, args=(card.id,))


@authed_dialog("Image", width="large")
def detail(eng: Engine, viewer: Viewer, image_id: str) -> None:
    """Everything about one image, and what the viewer may do with it."""
    img = gallery.get_image(eng.db, viewer, image_id)
    if img is None:
        st.error("No such image, or it is not yours to see.", icon=":material/block:")
        return
    picture, info = st.columns([3, 2], gap="medium")
    media.picture(picture, eng, img.id, img.watermarked_key or img.original_key)
    with info:
        _facts_and_actions(eng, viewer, img)
        gallery_tags.editor(eng, viewer, img)
        board_picker.on_boards(eng, viewer, img.id)
        f, g = st.columns(2)
        generates = auth.can(viewer.role, "generate")  # an analyst has no Generate page
        if generates and f.button("Reuse settings", icon=":material/edit:", key="dlg-reuse"):
            reuse_ui.send_to_generate(reuse.for_image(eng, viewer, img))
        mine = img.user_id == viewer.username or viewer.role == "admin"
        if mine:
            g.button("Delete…", icon=":material/delete:", key="dlg-del",
                     on_click=_ask_in_dialog, args=(img.id,))
            if st.session_state.get(DLG_CONFIRM) == img.id:
                _confirm_in_dialog(eng, viewer, img.id, img.thumb_key)
        if generates:
            more_like_this(eng, viewer, img)
        if img.batch_id and st.button("Show its batch", icon=":material/burst_mode:",
                                      key="dlg-batch"):
            show_batch(img.batch_id)


def more_like_this(eng: Engine, viewer: Viewer, img: gallery.ImageDetail) -> None:
    """Queue a batch with this image's settings and new random seeds, then watch it run."""
    count, go = st.columns([2, 3], vertical_alignment="bottom")
    n = count.number_input("Variations", 1, batches.MAX_VARIATIONS, 4, key="dlg-more-n")
    if go.button("More like this", icon=":material/auto_awesome:", key="dlg-more",
                 help="Same settings, new random seeds; queued as one batch in your name."):
        try:
            ids = variations.more_like_this(eng, viewer, img.id, int(n))
        except jobs.SubmitError as exc:
            st.error(plain(exc), icon=":material/error:")
            return
        queue = st.session_state.setdefault("job_ids", [])
        queue[:0] = [i for i in ids if i not in queue]
        left_out = variations.private_inputs(img, viewer)
        said = f"Queued {len(ids)} variation{'s' if len(ids) != 1 else ''}."
        if left_out:
            said += (f" {plain(img.user_id)}'s {' and '.join(left_out)} "
                     f"{'is' if len(left_out) == 1 else 'are'} left out: only their owner "
                     "can reuse them.")
        toasts.later(said, ":material/auto_awesome:")
        st.session_state.pop("gal_open", None)
        st.switch_page("screens/generate.py")


def _facts_and_actions(eng: Engine, viewer: Viewer, img: gallery.ImageDetail) -> None:
    """Downloads, every parameter, favourite, rating and sharing."""
    mine = img.user_id == viewer.username or viewer.role == "admin"
    a, b = st.columns(2)
    a.download_button("Download original", data=media.download(eng, viewer.username, img.id),
                      file_name=download_name(img.created_at, img.prompt, img.id),
                      mime="image/png", on_click="ignore",
                      icon=":material/download:", key="dl-orig")
    if img.watermarked_key:
        b.download_button("Download watermarked",
                          data=media.download(eng, viewer.username, img.id,
                                              "watermarked"),
                          file_name=download_name(img.created_at, img.prompt, img.id,
                                                  "-watermarked"), mime="image/png",
                          on_click="ignore", icon=":material/download:", key="dl-wm")
    st.markdown(f"**Prompt:** {plain(img.prompt, one_line=False)}")
    job = img.job or {}
    facts = {
        "Provider / model": f"{img.provider} / {img.model}", "Size": f"{img.width}×{img.height}",
        "Quality": shown(img.quality), "Style": img.style or "none", "Seed": shown(img.seed),
        "Negative prompt": img.negative_prompt or "—", "Cost": money(img.cost_usd),
        "Estimated (whole job)": money(job.get("estimated_cost_usd")),
        "Duration": seconds(img.duration_ms), "Request id": img.request_id or "—",
        "By": img.user_id, "Created": f"{img.created_at:%Y-%m-%d %H:%M} UTC",
        "Job": f"{img.job_id} · {job.get('status', '?')} · {job.get('attempts', '?')} attempt(s)",
    }
    # st.table renders Markdown in every cell: each value is shown as the characters it holds
    st.table({"Parameter": list(facts), "Value": [plain(v) for v in facts.values()]},
             hide_index=True)
    if job.get("usage"):
        st.caption(f"Usage reported by the provider: {plain(usage(job['usage']))}")
    c, d, e = st.columns(3)
    fav = c.toggle("Favourite", value=img.favourite, key="dlg-fav")
    if fav != img.favourite:
        gallery.set_favourite(eng.db, viewer, img.id, fav, eng.clock.now())
    rating = d.feedback("stars", key="dlg-rating")
    # The caption below says so: a toast hid the dialog's ✕.
    if rating is not None and rating + 1 != img.my_rating:
        gallery.rate(eng.db, viewer, img.id, rating + 1, eng.clock.now())
    d.caption(f"Your rating: {img.my_rating or '—'} · average "
              f"{img.avg_rating:.1f} of {img.ratings}" if img.ratings else "Not rated yet")
    if mine:
        shared = e.toggle("Shared", value=img.shared, key="dlg-share",
                          help="Shared images are visible to the whole team.")
        if shared != img.shared:
            gallery.set_shared(eng.db, viewer, [img.id], shared)


@authed_callback
def _ask_in_dialog(image_id: str) -> None:
    st.session_state[DLG_CONFIRM] = image_id


@authed_callback
def _keep_in_dialog() -> None:
    st.session_state.pop(DLG_CONFIRM, None)


def _confirm_in_dialog(eng: Engine, viewer: Viewer, image_id: str,
                       thumb_key: str) -> None:
    """Ask inside the dialog, with the image in view (its thumbnail too, for a phone where
    the picture has scrolled away); deleting closes the dialog."""
    with st.container(border=True):
        st.image(image_src(eng, image_id, thumb_key), width=72)
        st.warning("Delete this image? Its files are removed from storage too; this cannot "
                   "be undone.", icon=":material/warning:")
        buttons = st.container(horizontal=True, gap="small")
        if buttons.button(":red[Delete image]", key="dlg-confirm-del",
                          icon=":material/delete_forever:"):
            try:
                gallery.delete_images(eng.db, eng.storage, viewer, [image_id])
            except gallery.GalleryError as exc:
                st.error(str(exc), icon=":material/error:")
                return
            selected().discard(image_id)
            st.session_state.pop(DLG_CONFIRM, None)
            st.session_state.pop("gal_open", None)
            toasts.later("Deleted 1 image.", ":material/delete:")
            st.rerun()  # the whole page: the dialog closes and the tile is gone
        buttons.button("Keep it", key="dlg-keep", on_click=_keep_in_dialog)


def bulk_bar(eng: Engine, viewer: Viewer, on_page: list[str]) -> None:
    """Actions on the ticked images: zip, share, unshare, tag, untag, delete (with a confirm).

    ``on_page`` are the ids drawn on this page, to say how many ticked ones are elsewhere.
    """
    ids = sorted(selected())
    if not ids:
        st.session_state.pop(CONFIRM, None)  # unticked down to nothing: the question is moot
        return
    with st.container(border=True):
        elsewhere = len(set(ids) - set(on_page))
        st.markdown(f"**{len(ids):,} selected**")
        if elsewhere:
            st.caption(f"{_images(elsewhere)} of them on other pages or outside the filters.")
        row = st.container(horizontal=True, gap="small")  # wraps on a phone, not one a line
        if len(ids) > ZIP_MAX:
            row.caption(f"Select at most {ZIP_MAX} images to download them as a zip.")
        else:  # built only when the button is pressed
            row.download_button(
                "Download zip",
                data=lambda: gallery_zip.zip_images(eng.db, eng.storage, viewer, ids),
                file_name="promptboard-images.zip", mime="application/zip", on_click="ignore",
                icon=":material/folder_zip:", key="bulk-zip")
        for label, on in (("Share", True), ("Unshare", False)):
            if row.button(label, key=f"bulk-{label}"):
                try:
                    n = gallery.set_shared(eng.db, viewer, ids, on)
                    st.toast(f"{label}d {_images(n)}.")
                except gallery.GalleryError as exc:
                    st.error(plain(exc))
        if row.button("Delete…", key="bulk-delete", icon=":material/delete:"):
            st.session_state[CONFIRM] = True
        row.button("Clear", key="bulk-clear", on_click=clear_selection)
        gallery_tags.bulk_row(eng, viewer, ids)
        board_picker.add_row(eng, viewer, ids, key="bulk-board")
        if st.session_state.get(CONFIRM):
            confirm_delete(eng, viewer, ids)


@authed_callback
def _close_confirm() -> None:
    st.session_state.pop(CONFIRM, None)


def confirm_delete(eng: Engine, viewer: Viewer, ids: list[str]) -> None:
    """Ask before deleting, showing each image that will go (the objects in storage too).

    ``ids`` is the selection as ticked in this run: untick one and it leaves the list.
    """
    shown = gallery_select.previews(eng.db, viewer, ids)
    theirs = [p for p in shown if not p.deletable]
    st.warning(f"Delete {_images(len(shown))}? The files are removed from storage too; this "
               "cannot be undone.", icon=":material/warning:")
    with st.container(key="delete-preview"):
        st.image([image_src(eng, p.id, p.thumb_key) for p in shown[:PREVIEW_MAX]], width=88)
        if len(shown) > PREVIEW_MAX:
            st.caption(f"…and {_images(len(shown) - PREVIEW_MAX)} more.")
    if theirs:
        st.error(f"{_images(len(theirs))} of these {'is' if len(theirs) == 1 else 'are'} "
                 "not yours: only their owner or an admin can delete them. Untick them to "
                 "delete the rest.", icon=":material/block:")
    buttons = st.container(horizontal=True, gap="small")
    if buttons.button(f":red[Delete {_images(len(shown))}]", key="confirm-del",
                      icon=":material/delete_forever:", disabled=bool(theirs) or not shown):
        try:
            n = gallery.delete_images(eng.db, eng.storage, viewer, [p.id for p in shown])
        except gallery.GalleryError as exc:
            st.error(plain(exc), icon=":material/error:")
            return
        toasts.later(f"Deleted {_images(n)}.", ":material/delete:")
        selected().difference_update(ids)
        st.session_state.pop(CONFIRM, None)
        st.rerun()
    buttons.button("Keep them", key="cancel-del", on_click=_close_confirm)
