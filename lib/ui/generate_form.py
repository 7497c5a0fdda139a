"""Generate form widgets: those that carry state in from elsewhere (reused settings, the
reference image and the watermark, whose uploads a reuse can fill in, which an upload box
cannot), the provider notes, the estimate and budget notes, and the Generate button that
queues the batch."""

from __future__ import annotations

import logging
import math
from typing import Any

import streamlit as st

from lib import jobs
from lib.core import fmt
from lib.core.context import Services
from lib.core.text import plain
from lib.imaging import images as imaging
from lib.jobs import batches, forms, reuse
from lib.money import budgets
from lib.providers import registry
from lib.ui.display import money
from lib.ui.guard import authed_callback
from lib.ui.runtime import signed_in

REUSE = "reuse"  # a reuse.Restored (or, from a style's "Use", a dict of fields) to apply once
REUSED_REFERENCE = "gen_reused_reference"  # bytes: the reused job's reference image
REUSED_LOGO = "gen_reused_logo"  # bytes: the reused job's watermark logo
REUSE_NOTES = "gen_reuse_notes"  # what the last reuse could not restore
UPLOADS = "gen_upload_round"  # bumped by a reuse, so the upload boxes start empty

# A plain dict of fields (a style's "Use", older callers): field → widget key.
REUSE_KEYS = {"prompt": "gen_prompt", "style": "gen_style", "n": "gen_n", "seed": "gen_seed",
              "negative_prompt": "gen_negative", "provider": "gen_provider"}


def send_to_generate(restored: reuse.Restored) -> None:
    """Open Generate with these settings (closing the Gallery's dialog)."""
    st.session_state[REUSE] = restored
    st.session_state.pop("gal_open", None)
    st.switch_page("screens/generate.py")


def apply_reuse() -> None:
    """Copy settings queued by "reuse settings" into the Generate widgets (once).

    Called before any widget is drawn, so every key may still be set.
    """
    queued: reuse.Restored | dict[str, Any] | None = st.session_state.pop(REUSE, None)
    if not queued:
        return
    if isinstance(queued, dict):
        for name, key in REUSE_KEYS.items():
            if queued.get(name) is not None:
                st.session_state[key] = queued[name]
        provider, model = queued.get("provider"), queued.get("model")
        if provider and model:
            st.session_state[f"gen_model_{provider}"] = model
        return
    st.session_state.update(queued.state)
    for key, data in ((REUSED_REFERENCE, queued.reference), (REUSED_LOGO, queued.logo)):
        st.session_state[key] = data
        st.session_state.pop(f"{key}_preview", None)
    st.session_state[REUSE_NOTES] = queued.notes
    st.session_state[UPLOADS] = st.session_state.get(UPLOADS, 0) + 1


@authed_callback
def _dismiss_notes() -> None:
    st.session_state.pop(REUSE_NOTES, None)


def reuse_notes() -> None:
    """What the last reuse could not restore, until dismissed."""
    notes = st.session_state.get(REUSE_NOTES)
    if not notes:
        return
    with st.container(border=True):
        st.warning("Reused the settings, except:\n\n" + "\n".join(
            f"- {plain(n)}" for n in notes), icon=":material/info:")
        st.button("Got it", key="gen_reuse_ok", on_click=_dismiss_notes)


@authed_callback
def _forget(key: str) -> None:
    st.session_state[key] = None


def _reused(key: str, what: str) -> bytes | None:
    """A reused upload, shown small with a button to drop it; None when there is none."""
    data: bytes | None = st.session_state.get(key)
    if not data:
        return None
    preview = st.session_state.get(f"{key}_preview")
    if preview is None:  # once: the stored original can be megabytes, sent on every rerun
        try:
            decoded = imaging.decode_image(data, max_bytes=len(data), max_pixels=1 << 30)
            preview = imaging.make_thumbnail(decoded.image, 128)
        except imaging.ImageError:
            preview = b""
        st.session_state[f"{key}_preview"] = preview
    pic, text = st.columns([1, 4], vertical_alignment="center")
    if preview:
        pic.image(preview, width=64)
    text.caption(f"Using the {what} of the job you reused. Upload another to replace it.")
    text.button(f"Don't use this {what}", key=f"{key}_drop", on_click=_forget, args=(key,),
                icon=":material/close:")
    return data


def upload_limit_mb(max_bytes: int) -> int:
    """The browser's per-file limit, in whole MB, for an upload the server caps at max_bytes:
    the widget then says the real limit instead of the server-wide 50 MB."""
    return max(1, math.ceil(max_bytes / (1024 * 1024)))


def reference_input(max_images: int, max_bytes: int) -> bytes | None:
    """The reference image: an upload, else the one a reuse brought (None: no reference)."""
    if not max_images:
        st.caption("This model does not take a reference image.")
        return None
    upload = st.file_uploader("Reference image", type=["png", "jpg", "jpeg", "webp"],
                              key=f"gen_reference_{st.session_state.get(UPLOADS, 0)}",
                              max_upload_size=upload_limit_mb(max_bytes))
    if upload:
        return upload.getvalue()
    return _reused(REUSED_REFERENCE, "reference image")


def watermark_inputs(max_bytes: int) -> imaging.WatermarkSpec | None:
    """Watermark: off, text or logo, with position and opacity; None when off or invalid."""
    kind = st.segmented_control("Watermark", ["Off", "Text", "Logo"], default="Off",
                                key="gen_wm_kind")
    if kind in (None, "Off"):
        return None
    a, b = st.columns(2)
    position = a.selectbox("Position", imaging.POSITIONS, index=3, key="gen_wm_pos")
    opacity = b.slider("Opacity", 0.1, 1.0, 0.5, 0.05, key="gen_wm_opacity")
    text = logo = None
    if kind == "Text":
        text = st.text_input("Watermark text", "© Promptboard", max_chars=200, key="gen_wm_text")
    else:
        upload = st.file_uploader("Logo (PNG with transparency works best)",
                                  type=["png", "jpg", "jpeg", "webp"],
                                  key=f"gen_wm_logo_{st.session_state.get(UPLOADS, 0)}",
                                  max_upload_size=upload_limit_mb(max_bytes))
        logo = upload.getvalue() if upload else _reused(REUSED_LOGO, "logo")
    try:
        return imaging.WatermarkSpec(text=text or None, logo=logo, position=position,
                                     opacity=opacity)
    except imaging.ImageError as exc:
        st.caption(f":orange[Watermark off: {plain(exc)}]")
        return None


def provider_notes(provider_id: str, statuses: list[registry.ProviderStatus], role: str) -> None:
    """Under the provider picker: what the sandbox is, and how to set up the other providers
    (the instructions for an admin, a request to one for anyone else)."""
    if provider_id == "sandbox":
        st.info("The sandbox draws placeholder art offline, for free. Add an API key to use a "
                "real model.", icon=":material/science:")
    missing = [s for s in statuses if not s.configured]
    if missing:
        with st.expander(f"{fmt.plural(len(missing), 'more provider')} can be set up"):
            for s in missing:
                st.markdown(setup_hint(s.label, s.hint, role))


def setup_hint(label: str, hint: str, role: str) -> str:
    """How to set up a provider: the instructions for an admin, a request for anyone else."""
    if role == "admin":
        return f"**{plain(label)}**: {hint}"
    return f"**{plain(label)}**: not set up yet. Ask an admin to set up {plain(label)}."


def submit_button(eng: Services, user: str, spec: jobs.JobSpec, variations: int, seed_mode: str,
                  *, disabled: bool) -> None:
    """The Generate button: queue the batch, put its jobs first in the session's job list
    (``job_ids``) and say so; a refusal (budget, limits, input) is shown as is."""
    if not st.button("Generate", type="primary", icon=":material/brush:", key="gen_submit",
                     disabled=disabled):
        return
    try:
        queued = batches.submit_batch(eng, user, spec, variations, seed_mode)
    except jobs.SubmitError as exc:
        st.error(plain(str(exc)), icon=":material/error:")
        return
    for job_id in reversed(queued):
        if job_id not in st.session_state.job_ids:
            st.session_state.job_ids.insert(0, job_id)
    st.toast(("Queued." if len(queued) == 1 else f"Queued a batch of {len(queued)}.")
             + " It is first in Your jobs.", icon=":material/schedule:")


def estimate_line(eng: Services, spec: jobs.JobSpec) -> forms.Estimate | None:
    """Show the estimated cost and duration of this request, before it runs; returns it."""
    try:
        est = forms.estimate(eng, spec)
    except Exception:  # noqa: BLE001 - an estimate must never break the form
        logging.getLogger(__name__).exception("estimate failed")
        st.caption("No estimate for these settings.")
        return None
    basis = "usually, from the team's history" if est.from_history else "a rough guess"
    st.caption(f"Estimate: **{money(est.cost_usd)}** for {fmt.plural(spec.n, 'image')} · about "
               f"{est.seconds:.0f} s ({basis})")
    return est


def budget_notes(eng: Services, user: str, est: forms.Estimate | None, count: int = 1
                 ) -> tuple[bool, bool]:
    """Budget warnings for this request (``count`` jobs like ``est``), before it is sent.

    Returns (override chosen, would be refused): an admin gets an override box; anyone else
    sees the team's budget only as a band (lib/money/budgets.py). The page disables its button
    while the request would be refused without an override.
    """
    if est is None:  # the estimate line already said there is none
        return False, False
    admin = signed_in().role == "admin"
    total = None if est.cost_usd is None else est.cost_usd * count
    notes = budgets.notes(eng.db, user, total, eng.clock.now(), count=count, sees_team=admin)
    for note in notes:  # plain(): two "$" would otherwise render as LaTeX
        if note.over:
            st.error(plain(note.text), icon=":material/savings:")
        else:
            st.warning(plain(note.text), icon=":material/savings:")
    refused = any(n.over for n in notes)
    if notes and admin:
        return st.checkbox("Override the budget for this request (admins only; recorded)",
                           key="gen_override"), refused
    return False, refused
