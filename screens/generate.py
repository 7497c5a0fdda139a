"""Generate: provider, model and options in; an estimate before, live job cards after."""

from dataclasses import replace

import streamlit as st

from lib import jobs, ui
from lib.auth.access import Viewer
from lib.core.text import plain
from lib.jobs import activity, batches, forms
from lib.jobs.model import MAX_SEED
from lib.providers import registry
from lib.styles import library as styles
from lib.ui import access, board_picker, joblist, toasts
from lib.ui import generate_form as form_ui

eng = ui.engine()
me = ui.require_page("generate")
user, role = me.username, me.role
st.session_state.setdefault("job_ids", [])
form_ui.apply_reuse()  # "reuse settings" from History or the Gallery fills the widgets below
toasts.show_pending()  # e.g. "Queued 4 variations." from the Gallery's "More like this"

st.title("Generate")
form, live = st.columns([3, 2], gap="large")

with form:
    form_ui.reuse_notes()
    statuses = registry.statuses()
    ready, allowed = access.providers(eng, me, statuses), access.book(eng, me)
    if not ready:
        st.stop()
    left, right = st.columns(2)
    provider_id = left.selectbox("Provider", ready, key="gen_provider",
                                 format_func=lambda p: registry.get(p).label)
    opts = forms.options(provider_id, None, eng.clock.now().date(), allowed)
    model = right.selectbox("Model", opts.models, key=f"gen_model_{provider_id}")
    if opts.open_models and access.grant(eng, me).any_model(provider_id):
        model = right.text_input("…or any model id", key=f"gen_model_free_{provider_id}",
                                 placeholder="owner/name") or model
    opts = forms.options(provider_id, model, eng.clock.now().date(), allowed)
    for notice in opts.notices:
        st.warning(plain(notice), icon=":material/schedule:")  # names the model typed
    form_ui.provider_notes(provider_id, statuses, role)

    prompt = st.text_area("Prompt", key="gen_prompt", max_chars=opts.max_prompt_chars,
                          placeholder="A lighthouse on a cliff at dusk, warm light")
    a, b, c = st.columns(3)
    library = {s.id: s.label for s in styles.list_styles(eng.db)}
    style = a.selectbox("Style", list(library), key="gen_style",
                        format_func=lambda s: library.get(s, s))
    size = aspect = None
    if opts.sizes:
        size = b.selectbox("Size", opts.sizes, key=f"gen_size_{provider_id}_{model}",
                           index=forms.default_index(opts.sizes, opts.default_size))
    elif opts.aspect_ratios:
        aspect = b.selectbox("Aspect ratio", opts.aspect_ratios, key=f"gen_aspect_{provider_id}")
    quality = c.selectbox(
        "Quality", opts.qualities, key=f"gen_quality_{provider_id}_{model}",
        index=forms.default_index(opts.qualities, opts.default_quality),
    ) if opts.qualities else None
    n = a.number_input("Images", 1, opts.max_n, 1, key="gen_n")
    seed = (b.number_input("Seed (0 = random)", 0, MAX_SEED, 0, key="gen_seed")
            if opts.seed else 0)  # the job model's limit: a reused 32-bit seed is kept
    negative = (c.text_input("Negative prompt", key="gen_negative")
                if opts.negative_prompt else None)
    v, m = st.columns([1, 2])
    # No max_value: Streamlit would keep the old value behind a typed 20 and queue that.
    # Out of range is said out loud below and refused by batches.submit_batch.
    variations = int(v.number_input(
        "Variations", min_value=1, value=1, step=1, key="gen_variations",
        help=f"Queue this many jobs as one batch (1 to {batches.MAX_VARIATIONS}), each with "
             "its own seed."))
    seed_mode = m.segmented_control(
        "Seeds", batches.SEED_MODES, default=batches.RANDOM, key="gen_seed_mode", required=True,
        format_func=str.title, disabled=variations == 1 or not opts.seed,
        help="Consecutive: counting up from the seed above (a random start at 0). "
             "Random: a fresh seed per variation. Each job records its seed.",
    ) or batches.RANDOM
    preset = (st.selectbox("Style preset", ["", *opts.style_presets], key="gen_preset")
              if opts.style_presets else "")
    reused = bool(st.session_state.get(form_ui.REUSED_REFERENCE)
                  or st.session_state.get(form_ui.REUSED_LOGO))
    with st.expander("Reference image and watermark", expanded=reused):
        reference = form_ui.reference_input(opts.max_reference_images,
                                             eng.settings.max_upload_bytes)
        watermark = form_ui.watermark_inputs(eng.settings.max_upload_bytes)

    w, h = (int(x) for x in size.split("x")) if size else (None, None)
    spec = jobs.JobSpec(
        prompt=prompt, provider=provider_id, model=model, width=w, height=h,
        aspect_ratio=aspect, quality=quality, n=int(n), seed=int(seed) or None,
        negative_prompt=negative or None, style=style,
        reference=reference, watermark=watermark,
        params={"style_preset": preset} if preset else {},
    )
    est = ui.estimate_line(eng, spec)
    too_many = variations > batches.MAX_VARIATIONS
    if too_many:
        st.error(f"{variations} variations is more than a batch holds: choose 1 to "
                 f"{batches.MAX_VARIATIONS}.", icon=":material/error:")
    elif variations > 1:
        st.caption(forms.batch_note(est, spec, variations, opts.seed))
    override, refused = ui.budget_notes(eng, user, est, 1 if too_many else variations)
    if override:
        spec = replace(spec, override_budget=True)
    form_ui.submit_button(eng, user, spec, variations, seed_mode,
                          disabled=too_many or (refused and not override))

# Jobs come from the database, so a refresh, a second tab or a new sign-in shows them too.
known = set(st.session_state.job_ids)
st.session_state.job_ids[:0] = [i for i in activity.recent_for_user(eng, user) if i not in known]

with live, st.container(key=joblist.IN_VIEW):  # beside the form as it scrolls (desktop)
    st.subheader("Your jobs")
    board_picker.send_new_images(eng, Viewer(user, role))
    ui.live_jobs(eng, user, st.session_state.job_ids)
joblist.keep_in_view()
