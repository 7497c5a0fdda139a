"""Synthetic demo history: a team's jobs and images over recent weeks, clearly marked.

Demo jobs and images have ``demo = true``; their ids start ``dm``/``di`` (never hex, so never
a real id); demo users are ``demo-<name>`` at ``@demo.invalid``, disabled, with no password;
all demo rows share 24 pictures under ``demo/``. :func:`remove` takes it all out and leaves
real data alone; :func:`generate` replaces an earlier demo history. numpy draws the random
columns from one seeded generator (same seed and end, same history); DuckDB (the embedded
database only, for now) inserts them set-based in one transaction. Costs use the prices in
effect at ``end`` (else :data:`DEMO_FALLBACK_USD`).
"""

from __future__ import annotations

import time as _time
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, cast

import duckdb
import numpy as np
import pandas as pd

from lib.db.database import one_row
from lib.imaging import images as imaging
from lib.jobs import store
from lib.money import costs
from lib.providers import sandbox_art

if TYPE_CHECKING:
    from lib.core.context import Services

# DEMO ONLY, never used for real jobs: the price per unit of a demo model with no row in the
# price table (yet), so that the demo history still shows money.
DEMO_FALLBACK_USD = Decimal("0.04")
STYLES = ("none", "photographic", "realistic", "artistic", "cartoon", "abstract")
STYLE_WEIGHTS = (0.35, 0.18, 0.15, 0.12, 0.10, 0.10)
POOL_PER_STYLE = 4  # pooled pictures per style; a demo image shows one of its style's
NAMES = ("alice", "bob", "carol", "dan", "erin", "frank", "grace", "heidi", "ivan", "judy",
         "mallory", "niaj", "olivia", "peggy", "rupert", "sybil", "trent", "uma", "victor")
ANALYST = "demo-finance"  # a demo analyst beside the members; analysts generate nothing
SUBJECTS = ("a red fox", "a lighthouse", "an astronaut", "a vintage bicycle", "a bowl of ramen",
            "a dragon", "a robot barista", "a koi pond", "a mountain cabin", "a sailboat",
            "a cat wearing a scarf", "a city skyline", "a treehouse", "a hot air balloon",
            "an old library", "a jellyfish", "a steam locomotive", "a desert caravan", "an owl",
            "a greenhouse", "a chess board", "a paper crane", "a motorbike", "a pair of sneakers")
SETTINGS = ("at dusk", "in the rain", "on the moon", "in a misty forest", "under neon lights",
            "at night", "at golden hour", "in deep snow", "on a busy market street", "underwater",
            "by the sea", "in a sunlit studio", "in autumn leaves", "in the desert")
EXTRAS = ("watercolor", "isometric", "cinematic lighting", "studio photo", "35mm film", "moody",
          "pastel colours", "wide angle", "minimalist", "highly detailed", "bold colours")
NEGATIVES = ("blurry, low quality", "text, watermark", "extra fingers, deformed hands",
             "oversaturated, noisy")
ERRORS = (  # error_type, share of failures, attempts, message ({label}: the provider)
    ("rate_limited", 0.35, 4, "{label} is rate limiting requests. (gave up after 4 attempts)"),
    ("safety", 0.25, 1, "{label} refused this prompt for safety reasons. Rephrase it."),
    ("unavailable", 0.20, 4, "{label} is unavailable (HTTP 503). (gave up after 4 attempts)"),
    ("quota", 0.10, 1, "The {label} account is out of quota or credit. Ask an admin."),
    ("bad_response", 0.10, 1, "{label} answered without an image. Try again or rephrase."))
CANCEL_RATE = 0.01
N_VALUES, N_WEIGHTS = (1, 2, 3, 4), (0.72, 0.12, 0.04, 0.12)  # images asked per job
QUALITY_TIME = {"draft": 0.6, "high": 1.6, "low": 0.6, "2K": 1.3, "4K": 1.8}  # x duration
QUALITY_SCALE = {"2K": 2, "4K": 4}  # Gemini's pixel sizes grow with imageSize


@dataclass(frozen=True)
class DemoModel:
    """One model in the demo mix: share of jobs, median seconds, what it is asked for."""

    provider: str
    label: str
    model: str
    weight: float
    median_s: float
    sizes: tuple[str, ...]  # "WxH" when asked in pixels, "16:9=1344x768" when by ratio
    qualities: tuple[str | None, ...] = (None,)
    quality_weights: tuple[float, ...] = (1.0,)
    seed: bool = True
    negative: bool = False
    fail_rate: float = 0.06
    unit: str = "images"  # the usage unit it is billed in


_SQ = ("1024x1024", "1536x1024", "1024x1536")
_LMH = ("low", "medium", "high")
_STAB = ("1:1=1024x1024", "16:9=1344x768", "2:3=832x1216", "3:2=1216x832")
CATALOG: tuple[DemoModel, ...] = (
    DemoModel("sandbox", "Sandbox", "sandbox-v1", 0.10, 1.5, ("512x512", *_SQ),
              ("draft", "standard", "high"), (0.3, 0.6, 0.1), negative=True, fail_rate=0.01),
    DemoModel("gemini", "Gemini", "gemini-2.5-flash-image", 0.18, 8.0,
              ("1:1=1024x1024", "3:2=1248x832", "2:3=832x1248", "16:9=1344x768"), ("1K",),
              seed=False, fail_rate=0.07),
    DemoModel("gemini", "Gemini", "gemini-3-pro-image-preview", 0.07, 16.0,
              ("1:1=1024x1024", "16:9=1376x768", "3:2=1264x848"), ("1K", "2K", "4K"),
              (0.65, 0.28, 0.07), seed=False, fail_rate=0.07),
    DemoModel("openai", "OpenAI", "gpt-image-2", 0.14, 20.0, _SQ, _LMH, (0.25, 0.55, 0.2),
              seed=False, fail_rate=0.07),
    DemoModel("openai", "OpenAI", "gpt-image-1-mini", 0.09, 12.0, _SQ, _LMH, (0.35, 0.5, 0.15),
              seed=False),
    DemoModel("stability", "Stability AI", "core", 0.09, 4.0, _STAB, negative=True),
    DemoModel("stability", "Stability AI", "ultra", 0.05, 6.0, _STAB, negative=True),
    DemoModel("stability", "Stability AI", "sd3.5-large", 0.05, 5.0, _STAB, negative=True),
    DemoModel("replicate", "Replicate", "black-forest-labs/flux-schnell", 0.14, 2.0,
              ("1:1=1024x1024", "16:9=1344x768", "9:16=768x1344"), fail_rate=0.05),
    DemoModel("a1111", "AUTOMATIC1111", "default", 0.09, 6.0, ("512x512", "768x768", "832x1216"),
              negative=True, fail_rate=0.04, unit="gpu_seconds"),
)


@dataclass(frozen=True)
class DemoSummary:
    """What :func:`generate` wrote (``dataclasses.asdict`` + ``json.dumps(default=str)``)."""

    users: int
    jobs: int
    images: int
    failed: int
    cancelled: int
    ratings: int
    favourites: int
    events: int
    cost_usd: Decimal
    start: datetime
    end: datetime
    seconds: float


_DEMO_USERS = ("SELECT username FROM users WHERE username LIKE 'demo-%' "
               "AND email LIKE '%@demo.invalid' AND password_hash IS NULL")


def has_demo(engine: Services) -> bool:
    """Whether any demo job is stored."""
    return bool(engine.db.fetchone("SELECT 1 FROM jobs WHERE demo LIMIT 1"))


def remove(engine: Services) -> int:
    """Delete every demo row and ``demo/`` object (what real users gave demo images too:
    ratings, favourites, tags, board places); how many demo images there were. Slow-ish."""
    with engine.db.write() as cur:
        count = one_row(cur.execute("SELECT count(*) FROM images WHERE demo"))[0]
        gone = f"image_id IN (SELECT id FROM images WHERE demo) OR user_id IN ({_DEMO_USERS})"
        for sql in (f"DELETE FROM image_ratings WHERE {gone}", f"DELETE FROM favourites WHERE "
                    f"{gone}", *(f"DELETE FROM {t} WHERE {c} IN (SELECT id FROM images WHERE "
                                 "demo)" for t, c in (("image_tags", "image_id"), ("board_images",
                                                      "image_id"), ("images", "id"))),
                    f"DELETE FROM budgets WHERE scope = 'user' AND subject IN ({_DEMO_USERS})",
                    f"DELETE FROM users WHERE username IN ({_DEMO_USERS})"):
            cur.execute(sql)
        store.delete_demo(cur)  # the demo jobs and their events
    engine.storage.delete_prefix("demo/")
    return int(count)


def _variants(engine: Services, end: datetime) -> pd.DataFrame:
    """Every (model, size, quality) the demo uses, and its price per unit in 1e-8 USD."""
    rows = []
    for m, dm in enumerate(CATALOG):
        for size in dm.sizes:
            aspect, _, px = size.rpartition("=")
            w, h = (int(v) for v in px.split("x"))
            for quality in dm.qualities:
                scale = QUALITY_SCALE.get(quality or "", 1) if aspect else 1
                price = costs.cost_of(engine.db, dm.provider, dm.model, {dm.unit: 1}, end,
                                      None if aspect else px, quality).total
                rows.append({
                    "m": m, "provider": dm.provider, "label": dm.label, "model": dm.model,
                    "aspect": aspect or None, "job_w": None if aspect else w,
                    "job_h": None if aspect else h, "img_w": w * scale, "img_h": h * scale,
                    "quality": quality, "unit": dm.unit,
                    "time": QUALITY_TIME.get(quality or "", 1.0),
                    "price_e8": int((DEMO_FALLBACK_USD if price is None else price) * 10**8)})
    df = pd.DataFrame(rows).astype({"job_w": "Int64", "job_h": "Int64"})
    return df.assign(vid=np.arange(len(df)))


def _draw_jobs(rng: np.random.Generator, count: int, users: int, start: datetime,
               days: int) -> dict[str, np.ndarray]:
    """Random columns of ``count`` candidate jobs (not yet trimmed or sorted)."""
    def per_model(attr: str) -> np.ndarray:
        return np.array([getattr(dm, attr) for dm in CATALOG])

    weights = 1 / np.arange(1, users + 1) ** 0.8  # a few heavy users and a long tail
    u = rng.choice(users, count, p=weights / weights.sum())
    taste = per_model("weight") * np.exp(0.7 * rng.standard_normal((users, len(CATALOG))))
    m = np.empty(count, np.int64)
    for user in range(users):  # each user has their own favourite models
        sel = u == user
        m[sel] = rng.choice(len(CATALOG), sel.sum(), p=taste[user] / taste[user].sum())
    s, q = np.zeros(count, np.int64), np.zeros(count, np.int64)
    for i, dm in enumerate(CATALOG):
        sel = m == i
        s[sel] = rng.integers(0, len(dm.sizes), sel.sum())
        qw = np.array(dm.quality_weights)
        q[sel] = rng.choice(len(dm.qualities), sel.sum(), p=qw / qw.sum())
    # weekdays busier than weekends, the team growing a little; hours around 14:00 UTC
    day0 = datetime.combine(start.date(), datetime.min.time())
    dates = np.arange(days + 1)
    weekday = np.array([(day0 + timedelta(days=int(d))).weekday() < 5 for d in dates])
    dw = np.where(weekday, 1.0, 0.3) * (0.7 + 0.6 * dates / days)
    day = rng.choice(dates, count, p=dw / dw.sum())
    hour = np.where(rng.random(count) < 0.8, rng.normal(14.0, 2.6, count),
                    rng.uniform(0, 24, count)).clip(0, 23.99)
    r, fail_rate = rng.random(count), per_model("fail_rate")[m]
    status = np.where(r < fail_rate, 1, np.where(r < fail_rate + CANCEL_RATE, 2, 0))
    err_p = np.array([e[1] for e in ERRORS])
    return {
        "u": u, "m": m, "s": s, "q": q, "status": status,
        "created": np.datetime64(day0, "us") + (day * 86_400e6 + hour * 3_600e6).astype("m8[us]"),
        "err": np.where(status == 1, rng.choice(len(ERRORS), count, p=err_p / err_p.sum()), -1),
        "n": rng.choice(N_VALUES, count, p=N_WEIGHTS),
        "st": rng.choice(len(STYLES), count, p=STYLE_WEIGHTS),
        "p1": rng.integers(0, len(SUBJECTS), count), "p2": rng.integers(0, len(SETTINGS), count),
        "p3": rng.integers(0, len(EXTRAS), count),
        "neg": np.where(per_model("negative")[m] & (rng.random(count) < 0.3),
                        rng.integers(0, len(NEGATIVES), count), -1),
        "seed": np.where(per_model("seed")[m], rng.integers(0, 2**32 - 2, count), -1),
        "base_s": per_model("median_s")[m] * np.exp(0.45 * rng.standard_normal(count)),
        "wait_ms": rng.exponential(800, count).astype(np.int64) + 50,
        "pool": rng.integers(0, POOL_PER_STYLE, count),
    }


def _fill_jobs(j: dict[str, np.ndarray], v: pd.DataFrame, start: datetime,
               end: datetime) -> None:
    """Derived job columns: variant, times, duration, attempts, cost in 1e-8 USD."""
    sizes = np.array([len(dm.sizes) for dm in CATALOG])
    quals = np.array([len(dm.qualities) for dm in CATALOG])
    offset = np.concatenate(([0], np.cumsum(sizes * quals)[:-1]))
    vid = offset[j["m"]] + j["s"] * quals[j["m"]] + j["q"]
    ok, failed, cancelled = j["status"] == 0, j["status"] == 1, j["status"] == 2
    dur = (j["base_s"] * v["time"].to_numpy()[vid] * (1 + 0.25 * (j["n"] - 1)) * 1000)
    dur = np.where(failed, dur // 2, dur).astype(np.int64)
    wait, dur_td = j["wait_ms"].astype("m8[ms]"), dur.astype("m8[ms]")
    # keep every job inside [start, end]: late ones move back a day, early ones forward
    late = j["created"] + wait + dur_td > np.datetime64(end - timedelta(minutes=2), "us")
    early = j["created"] < np.datetime64(start, "us")
    shift = (early.astype(np.int64) - late.astype(np.int64)).astype("m8[D]")
    created = np.clip((j["created"] + shift).astype("M8[us]"), np.datetime64(start, "us"),
                      np.datetime64(end - timedelta(minutes=10), "us"))
    price = v["price_e8"].to_numpy()[vid]
    est = np.where((v["unit"].to_numpy() == "images")[vid], price * j["n"],
                   np.rint(price * dur / 1000).astype(np.int64))
    attempts = np.array([e[2] for e in ERRORS])[j["err"].clip(0)]
    j.update(vid=vid, created=created, dur_ms=np.where(cancelled, -1, dur),
        started=np.where(cancelled, np.datetime64("NaT"), created + wait).astype("M8[us]"),
        finished=(created + wait + np.where(cancelled, np.timedelta64(0), dur_td)),
        attempts=np.where(cancelled, 0, np.where(failed, attempts, 1)),
        est_e8=est, cost_e8=np.where(ok, est, 0))


def _images(rng: np.random.Generator, j: dict[str, np.ndarray], v: pd.DataFrame, users: int,
            end: datetime) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Image rows (a job's cost split exactly, like costs.split), ratings and favourites."""
    got = np.where(j["status"] == 0, j["n"], 0)
    rep = np.repeat(np.arange(len(got)), got)
    idx = np.arange(len(rep)) - np.repeat(np.cumsum(got) - got, got)
    n, total = j["n"][rep], j["cost_e8"][rep]
    part = np.rint(total / n).astype(np.int64)
    area = (v["img_w"].to_numpy() * v["img_h"].to_numpy())[j["vid"][rep]]
    img = pd.DataFrame({k: j[k][rep] for k in ("j", "u", "vid", "p1", "p2", "p3", "neg", "st",
                                               "seed", "dur_ms")}).assign(
        idx=idx, pool=j["st"][rep] * POOL_PER_STYLE + j["pool"][rep],
        bytes=(area * rng.uniform(0.9, 1.6, len(rep))).astype(np.int64),
        cost_e8=np.where(idx == n - 1, total - part * (n - 1), part),
        shared=rng.random(len(rep)) < 0.10, created=j["finished"][rep])

    def pick(own_rate: float, shared_rate: float) -> pd.DataFrame:
        """Some images marked by their owner, some shared ones by a teammate."""
        own = rng.random(len(img)) < own_rate
        other = img["shared"].to_numpy() & (rng.random(len(img)) < shared_rate) & (users > 1)
        mate = (img["u"].to_numpy() + 1 + rng.integers(0, max(users - 1, 1), len(img))) % users
        rows = pd.concat([img[own].assign(rater=img["u"][own]),
                          img[other].assign(rater=mate[other])])
        later = rng.exponential(6 * 3600e6, len(rows)).astype("m8[us]")
        return pd.DataFrame({
            "j": rows["j"], "idx": rows["idx"], "rater": rows["rater"],
            "rating": rng.choice(5, len(rows), p=(0.05, 0.1, 0.25, 0.35, 0.25)) + 1,
            "at": np.minimum(rows["created"].to_numpy() + later, np.datetime64(end, "us"))})

    return img, pick(0.03, 0.2), pick(0.02, 0.1)


_JOB_ID = "'dm' || lpad(lower(to_hex(d.j)), 14, '0')"
_IMAGE_ID = "'di' || lpad(lower(to_hex(d.j)), 12, '0') || lpad(d.idx::VARCHAR, 2, '0')"
_REQUEST_ID = "'demo-' || lpad(lower(to_hex(d.j)), 12, '0')"
_POOL = "lpad(CAST(d.pool AS TEXT), 2, '0')"  # as _pool() names the pictures: 00..23
_COMMON = (  # columns jobs and images share, from a registered frame d and the variants v
    "$users[d.u + 1], v.provider, v.model, $subjects[d.p1 + 1] || ' ' || $settings[d.p2 + 1] "
    "|| ', ' || $extras[d.p3 + 1], CASE WHEN d.neg >= 0 THEN $negatives[d.neg + 1] END, "
    "$styles[d.st + 1]")
_USD = "CAST(CAST({} AS DECIMAL(18, 0)) * 0.00000001::DECIMAL(18, 8) AS DECIMAL(18, 8))"  # 1e-8s

_JOBS_COLUMNS = """id, user_id, provider, model, prompt, negative_prompt, style, width, height,
    aspect_ratio, quality, seed, n, params, status, attempts, max_attempts, next_run_at,
    cancel_requested, progress, progress_note, error_type, error_message, request_id, usage,
    estimated_cost_usd, cost_usd, duration_ms, created_at, started_at, finished_at, demo,
    updated_at, images"""
_JOBS_SQL = f"""
SELECT {_JOB_ID}, {_COMMON}, v.job_w, v.job_h, v.aspect, v.quality,
    CASE WHEN d.seed >= 0 THEN d.seed END, d.n, '{{"demo": true}}',
    $statuses[d.status + 1], d.attempts, 4, d.created, false,
    CASE WHEN d.status = 0 THEN 1.0 END, CASE WHEN d.status = 0 THEN 'done' END,
    CASE WHEN d.err >= 0 THEN $err_types[d.err + 1] WHEN d.status = 2 THEN 'cancelled' END,
    CASE WHEN d.err >= 0 THEN replace($err_msgs[d.err + 1], '{{label}}', v.label)
         WHEN d.status = 2 THEN 'Cancelled before it ran.' END,
    CASE WHEN d.status < 2 THEN {_REQUEST_ID} END,
    CASE WHEN d.status = 0 THEN '{{"' || v.unit || '": ' || CASE v.unit WHEN 'images'
        THEN d.n::VARCHAR ELSE round(d.dur_ms / 1000.0, 1)::VARCHAR END || '}}' END,
    {_USD.format("d.est_e8")}, {_USD.format("d.cost_e8")},
    CASE WHEN d.dur_ms >= 0 THEN d.dur_ms END,
    d.created, d.started, d.finished, true, d.finished,
    CASE WHEN d.status = 0 THEN d.n ELSE 0 END  -- as many images as _images() gives it
FROM demo_jobs d JOIN demo_v v ON v.vid = d.vid"""
_IMAGES_SQL = f"""
INSERT INTO images (id, job_id, idx, user_id, provider, model, prompt, negative_prompt, style,
    quality, width, height, seed, original_key, thumb_key, bytes, cost_usd, duration_ms,
    request_id, shared, demo, created_at)
SELECT {_IMAGE_ID}, {_JOB_ID}, d.idx, {_COMMON}, v.quality, v.img_w, v.img_h,
    CASE WHEN d.seed >= 0 THEN d.seed + d.idx END, 'demo/orig-' || {_POOL} || '.png',
    'demo/thumb-' || {_POOL} || '.webp', d.bytes, {_USD.format("d.cost_e8")}, d.dur_ms,
    {_REQUEST_ID}, d.shared, true, d.created
FROM demo_images d JOIN demo_v v ON v.vid = d.vid"""
_EVENT_COLS = 'job_id, "at", from_status, to_status, detail'
_EVENTS_SQL = """
SELECT id, finished_at, CASE WHEN started_at IS NULL THEN 'queued' ELSE 'running' END, status,
    coalesce(error_type || ' (demo)', n || ' image(s) stored (demo)') FROM jobs WHERE demo"""


def _pool(engine: Services, seed: int) -> None:
    """Draw the pooled pictures (POOL_PER_STYLE per style) and store them under demo/."""
    for i in range(len(STYLES) * POOL_PER_STYLE):
        style = STYLES[i // POOL_PER_STYLE]
        prompt = f"{SUBJECTS[(seed + i) % len(SUBJECTS)]} {SETTINGS[i % len(SETTINGS)]}"
        img = sandbox_art.render(prompt, None, seed + i, 512, 512,
                                 None if style == "none" else style, "standard")
        engine.storage.put(f"demo/orig-{i:02d}.png", imaging.encode_png(img), "image/png")
        engine.storage.put(f"demo/thumb-{i:02d}.webp", imaging.make_thumbnail(img), "image/webp")


def generate(engine: Services, images: int = 100_000, days: int = 90, users: int = 12,
             seed: int = 7, end: datetime | None = None, events: bool = True) -> DemoSummary:
    """Replace any demo history with one of exactly ``images`` images over ``days`` days.

    ``users`` demo members generate; a demo analyst (``demo-finance``) is added. Each job
    gets one job_events row, its final transition (none with ``events=False``).
    """
    if images < 0 or days < 1 or users < 1:
        raise ValueError("images must be at least 0, days and users at least 1.")
    if engine.db.kind != "duckdb":  # loaded the DuckDB way: registered frames, $list params
        raise ValueError("Demo data goes into the embedded DuckDB database only, for now.")
    t0 = _time.monotonic()
    remove(engine)
    end = end or engine.clock.now()
    start, rng = end - timedelta(days=days), np.random.default_rng(seed)
    variants = _variants(engine, end)
    count = int(images / float(np.dot(N_VALUES, N_WEIGHTS)) / 0.9) + 16
    j = _draw_jobs(rng, count, users, start, days)
    while (cum := np.cumsum(np.where(j["status"] == 0, j["n"], 0)))[-1] < images:  # rare
        count *= 2
        j = _draw_jobs(rng, count, users, start, days)
    k = int(np.searchsorted(cum, images)) if images else -1  # keep jobs 0..k, trim job k's n
    j = {key: v[: k + 1].copy() for key, v in j.items()}
    if k >= 0:  # job k succeeded (the sum rose there), so it keeps at least one image
        j["n"][k] -= int(cum[k]) - images
    _fill_jobs(j, variants, start, end)
    order = np.argsort(j["created"], kind="stable")  # ids follow time
    j = {k: v[order] for k, v in j.items()} | {"j": np.arange(len(order))}
    img, ratings, favs = _images(rng, j, variants, users, end)
    _pool(engine, seed)  # objects before the rows that point at them
    names = [f"demo-{NAMES[i]}" if i < len(NAMES) else f"demo-user-{i + 1}" for i in range(users)]
    params = {"users": names, "subjects": list(SUBJECTS), "settings": list(SETTINGS),
              "extras": list(EXTRAS), "negatives": list(NEGATIVES), "styles": list(STYLES),
              "statuses": ["succeeded", "failed", "cancelled"],
              "err_types": [e[0] for e in ERRORS], "err_msgs": [e[3] for e in ERRORS]}
    frames = {"demo_jobs": pd.DataFrame(j), "demo_v": variants, "demo_images": img,
              "demo_ratings": ratings, "demo_favs": favs}
    with engine.db.write() as written:  # its cursor ends, and the frames registered on it
        cur = cast(duckdb.DuckDBPyConnection, written)  # DuckDB only (checked above)
        for name, df in frames.items():
            cur.register(name, df)
        cur.executemany(
            "INSERT INTO users (username, name, email, role, disabled, created_at) "
            "VALUES (?, ?, ?, ?, true, ?) ON CONFLICT DO NOTHING",
            [[u, f"{u.removeprefix('demo-').replace('-', ' ').title()} (demo)",
              f"{u}@demo.invalid", "analyst" if u == ANALYST else "member", start]
             for u in [*names, ANALYST]])
        store.bulk_insert(cur, "jobs", _JOBS_COLUMNS, _JOBS_SQL, params)
        cur.execute(_IMAGES_SQL, {k: v for k, v in params.items() if f"${k}" in _IMAGES_SQL})
        cur.execute(f"INSERT INTO image_ratings SELECT {_IMAGE_ID}, $users[d.rater + 1], "
                    "d.rating, d.at FROM demo_ratings d", {"users": names})
        cur.execute(f"INSERT INTO favourites SELECT {_IMAGE_ID}, $users[d.rater + 1], d.at "
                    "FROM demo_favs d", {"users": names})
        n_events = store.bulk_insert(cur, "job_events", _EVENT_COLS, _EVENTS_SQL) if events else 0
    status = j["status"]
    return DemoSummary(
        users=users + 1, jobs=len(status), images=len(img), failed=int((status == 1).sum()),
        cancelled=int((status == 2).sum()), ratings=len(ratings), favourites=len(favs),
        events=int(n_events), cost_usd=Decimal(int(j["cost_e8"].sum())) / 10**8,
        start=start, end=end, seconds=_time.monotonic() - t0)
