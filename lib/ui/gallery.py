"""Gallery widgets: a tile, the detail dialog and the bulk-action bar.

Every read and write goes through ``lib.gallery`` with the signed-in viewer, so a
member can only ever see or touch what the visibility rule allows, whatever ids
arrive from the URL or a stale session.
"""

from __future__ import annotations

import json

import streamlit as st

from lib import auth, batches, gallery, gallery_zip, jobs, reuse
from lib.clock import utcnow
from lib.engine import Engine
from lib.mdtext import plain, shorten
from lib.ui import full_image, grid, money, seconds, thumbnail
from lib.ui import generate_form as reuse_ui

SELECTED = "gal_selected"
ZIP_MAX = 200


def selected() -> set[str]:
    """Ids ticked for bulk actions in this session."""
    return st.session_state.setdefault(SELECTED, set())


@st.cache_data(max_entries=64, show_spinner=False)
def search(_eng: Engine, db_path: str, version: tuple[int, ...], viewer: gallery.Viewer,
           f: gallery.GalleryFilter) -> gallery.GalleryPage:
    """``gallery.search``, cached until a write changes images, ratings or favourites."""
    return gallery.search(_eng.db, viewer, f)


@st.cache_data(max_entries=16, show_spinner=False)
def facets(_eng: Engine, db_path: str, version: tuple[int, ...],
           viewer: gallery.Viewer) -> dict[str, list[str]]:
    """``gallery.facets``, cached the same way."""
    return gallery.facets(_eng.db, viewer)


# What a gallery page reads and can change. The jobs it joins add only their batch id, fixed
# before the job's images exist; so job progress and claims do not empty the cache.
GALLERY_TABLES = ("images", "image_ratings", "favourites")


def cached_search(eng: Engine, viewer: gallery.Viewer,
                  f: gallery.GalleryFilter) -> gallery.GalleryPage:
    """A page of results; reruns without a write in between cost nothing."""
    return search(eng, str(eng.db.path), eng.db.tables_version(*GALLERY_TABLES), viewer, f)


def cached_facets(eng: Engine, viewer: gallery.Viewer) -> dict[str, list[str]]:
    """Filter choices; reruns without a write in between cost nothing."""
    return facets(eng, str(eng.db.path), eng.db.tables_version(*GALLERY_TABLES), viewer)


def _facts(card: gallery.ImageCard) -> str:
    """A tile's caption, without its prompt: model, cost, duration, rating, demo."""
    stars = f" · {card.avg_rating:.1f}★ ({card.ratings})" if card.ratings else ""
    demo = " · demo" if card.demo else ""
    return (f"{card.model} · {money(card.cost_usd)} · {seconds(card.duration_ms)}"
            f"{stars}{demo}")


def grid_tile(eng: Engine, card: gallery.ImageCard) -> grid.Tile:
    """A card as a tile of the one-element grid (text stays text: the browser sets it so)."""
    return grid.Tile(id=card.id, src=thumbnail(eng, card.thumb_key), prompt=card.prompt,
                     caption=f"{_facts(card)} — {shorten(card.prompt, 68)}",
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
    with st.container(border=True):
        prompt = plain(shorten(card.prompt, 68))  # user text: shown as typed, never as markup
        st.image(thumbnail(eng, card.thumb_key), width="stretch",
                 caption=f"{plain(_facts(card))} — {prompt}")
        if card.group_count > 1:
            st.caption(f":material/burst_mode: Batch of {card.group_count} images")
            if st.button("Open batch", key=f"batch-{card.id}", icon=":material/photo_library:"):
                show_batch(card.batch_id)
        else:
            ticked = st.checkbox("Select", value=card.id in selected(), key=f"sel-{card.id}")
            (selected().add if ticked else selected().discard)(card.id)


@st.dialog("Image", width="large")
def detail(eng: Engine, viewer: gallery.Viewer, image_id: str) -> None:
    """Everything about one image, and what the viewer may do with it."""
    img = gallery.get_image(eng.db, viewer, image_id)
    if img is None:
        st.error("No such image, or it is not yours to see.", icon=":material/block:")
        return
    picture, info = st.columns([3, 2], gap="medium")
    picture.image(full_image(eng, img.watermarked_key or img.original_key), width="stretch")
    with info:
        _facts_and_actions(eng, viewer, img)
        f, g = st.columns(2)
        generates = auth.can(viewer.role, "generate")  # an analyst has no Generate page
        if generates and f.button("Reuse settings", icon=":material/edit:", key="dlg-reuse"):
            reuse_ui.send_to_generate(reuse.for_image(eng, viewer, img))
        mine = img.user_id == viewer.username or viewer.role == "admin"
        if mine and g.button("Delete…", icon=":material/delete:", key="dlg-del"):
            st.session_state["gal_confirm_delete"] = [img.id]
            st.session_state.pop("gal_open", None)
            st.rerun()
        if generates:
            more_like_this(eng, viewer, img)
        if img.batch_id and st.button("Show its batch", icon=":material/burst_mode:",
                                      key="dlg-batch"):
            show_batch(img.batch_id)


def more_like_this(eng: Engine, viewer: gallery.Viewer, img: gallery.ImageDetail) -> None:
    """Queue a batch with this image's settings and new random seeds, then watch it run."""
    count, go = st.columns([2, 3], vertical_alignment="bottom")
    n = count.number_input("Variations", 1, batches.MAX_VARIATIONS, 4, key="dlg-more-n")
    if go.button("More like this", icon=":material/auto_awesome:", key="dlg-more",
                 help="Same settings, new random seeds; queued as one batch in your name."):
        try:
            ids = batches.more_like_this(eng, viewer, img.id, int(n))
        except jobs.SubmitError as exc:
            st.error(str(exc), icon=":material/error:")
            return
        queue = st.session_state.setdefault("job_ids", [])
        queue[:0] = [i for i in ids if i not in queue]
        st.session_state.pop("gal_open", None)
        st.switch_page("pages/generate.py")


def _facts_and_actions(eng: Engine, viewer: gallery.Viewer, img: gallery.ImageDetail) -> None:
    """Downloads, every parameter, favourite, rating and sharing."""
    mine = img.user_id == viewer.username or viewer.role == "admin"
    a, b = st.columns(2)
    a.download_button("Download original", data=lambda: eng.storage.get(img.original_key),
                      file_name=f"{img.id}.png", mime="image/png", on_click="ignore",
                      icon=":material/download:", key="dl-orig")
    if img.watermarked_key:
        b.download_button("Download watermarked",
                          data=lambda: eng.storage.get(img.watermarked_key or ""),
                          file_name=f"{img.id}-watermarked.png", mime="image/png",
                          on_click="ignore", icon=":material/download:", key="dl-wm")
    st.markdown(f"**Prompt:** {plain(img.prompt, one_line=False)}")
    job = img.job or {}
    facts = {
        "Provider / model": f"{img.provider} / {img.model}", "Size": f"{img.width}×{img.height}",
        "Quality": img.quality or "—", "Style": img.style or "none", "Seed": img.seed,
        "Negative prompt": img.negative_prompt or "—", "Cost": money(img.cost_usd),
        "Estimated (whole job)": money(job.get("estimated_cost_usd")),
        "Duration": seconds(img.duration_ms), "Request id": img.request_id or "—",
        "By": img.user_id, "Created": f"{img.created_at:%Y-%m-%d %H:%M} UTC",
        "Job": f"{img.job_id} · {job.get('status', '?')} · {job.get('attempts', '?')} attempt(s)",
    }
    st.table({"Parameter": list(facts), "Value": [str(v) for v in facts.values()]},
             hide_index=True)
    if job.get("usage"):
        st.caption(f"Usage reported by the provider: {plain(json.dumps(job['usage']))}")
    c, d, e = st.columns(3)
    fav = c.toggle("Favourite", value=img.favourite, key="dlg-fav")
    if fav != img.favourite:
        gallery.set_favourite(eng.db, viewer, img.id, fav, utcnow())
    rating = d.feedback("stars", key="dlg-rating")
    if rating is not None and rating + 1 != img.my_rating:
        gallery.rate(eng.db, viewer, img.id, rating + 1, utcnow())
        st.toast("Rated.", icon=":material/star:")
    d.caption(f"Your rating: {img.my_rating or '—'} · average "
              f"{img.avg_rating:.1f} of {img.ratings}" if img.ratings else "Not rated yet")
    if mine:
        shared = e.toggle("Shared", value=img.shared, key="dlg-share",
                          help="Shared images are visible to the whole team.")
        if shared != img.shared:
            gallery.set_shared(eng.db, viewer, [img.id], shared)


def bulk_bar(eng: Engine, viewer: gallery.Viewer) -> None:
    """Actions on the ticked images: zip download, share, unshare, delete (with a confirm)."""
    ids = sorted(selected())
    if not ids:
        return
    with st.container(border=True):
        st.markdown(f"**{len(ids)} selected**")
        a, b, c, d, e = st.columns(5)
        if len(ids) > ZIP_MAX:
            a.caption(f"Select at most {ZIP_MAX} images to download them as a zip.")
        else:  # built only when the button is pressed
            a.download_button(
                "Download zip",
                data=lambda: gallery_zip.zip_images(eng.db, eng.storage, viewer, ids),
                file_name="promptboard-images.zip", mime="application/zip", on_click="ignore",
                icon=":material/folder_zip:", key="bulk-zip")
        for col, label, on in ((b, "Share", True), (c, "Unshare", False)):
            if col.button(label, key=f"bulk-{label}"):
                try:
                    n = gallery.set_shared(eng.db, viewer, ids, on)
                    st.toast(f"{label}d {n} image(s).")
                except gallery.GalleryError as exc:
                    st.error(str(exc))
        if d.button("Delete…", key="bulk-delete", icon=":material/delete:"):
            st.session_state["gal_confirm_delete"] = ids
        if e.button("Clear", key="bulk-clear"):
            selected().clear()
            st.rerun()


def confirm_delete(eng: Engine, viewer: gallery.Viewer) -> None:
    """Ask before deleting; the objects in storage go too."""
    ids = st.session_state.get("gal_confirm_delete")
    if not ids:
        return
    st.warning(f"Delete {len(ids)} image(s)? The files are removed from storage too; this "
               "cannot be undone.", icon=":material/warning:")
    yes, no = st.columns([1, 5])
    if yes.button("Delete", type="primary", key="confirm-del"):
        try:
            n = gallery.delete_images(eng.db, eng.storage, viewer, ids)
            st.toast(f"Deleted {n} image(s).", icon=":material/delete:")
            selected().difference_update(ids)
        except gallery.GalleryError as exc:
            st.error(str(exc))
        st.session_state.pop("gal_confirm_delete", None)
        st.rerun()
    if no.button("Keep them", key="cancel-del"):
        st.session_state.pop("gal_confirm_delete", None)
        st.rerun()
