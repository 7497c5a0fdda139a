"""The offline sandbox provider: deterministic art, sizes, latency, cancel, failure injection."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from PIL import Image, ImageStat

from lib.providers.base import (
    BadResponse,
    Cancelled,
    GenerationRequest,
    NeedsKey,
    ProviderError,
    QuotaExhausted,
    RateLimited,
    Rejected,
    SafetyBlocked,
    Unavailable,
)
from lib.providers.sandbox import FAIL_KINDS, STYLES, SandboxProvider


class RecordingContext:
    """A JobContext that records progress and cancels after a number of reports."""

    def __init__(self, attempt: int = 1, cancel_after: int | None = None) -> None:
        self.attempt = attempt
        self.cancel_after = cancel_after
        self.progress: list[tuple[float, str | None]] = []

    def report_progress(self, fraction: float, note: str | None = None) -> None:
        self.progress.append((fraction, note))

    def cancel_requested(self) -> bool:
        return self.cancel_after is not None and len(self.progress) >= self.cancel_after


def sandbox(latency: float = 0.0) -> tuple[SandboxProvider, list[float]]:
    """A provider whose sleeps are recorded instead of slept."""
    sleeps: list[float] = []
    now = [0.0]

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        now[0] += seconds

    return SandboxProvider(latency=latency, sleep=sleep, clock=lambda: now[0]), sleeps


def request(prompt: str = "a red fox in the snow", **kw: Any) -> GenerationRequest:
    """A small request (fast to draw) with a fixed seed unless told otherwise."""
    kw.setdefault("seed", 7)
    if "aspect_ratio" not in kw:
        kw.setdefault("width", 192)
        kw.setdefault("height", 128)
    return GenerationRequest(prompt=prompt, model="sandbox-v1", **kw)


def decode(data: bytes) -> Image.Image:
    """The PNG, fully loaded."""
    im = Image.open(io.BytesIO(data))
    assert im.format == "PNG"
    im.load()
    return im


# --------------------------------------------------------------------------- images


def test_same_inputs_give_identical_png_bytes() -> None:
    provider, _ = sandbox()
    req = request(negative_prompt="blurry", extra={"style": "cartoon"}, quality="high")
    assert provider.generate(req).images[0].data == provider.generate(req).images[0].data
    assert SandboxProvider(latency=0).generate(req).images[0].data == (
        provider.generate(req).images[0].data
    )


@pytest.mark.parametrize(
    "change",
    [
        {"prompt": "a blue whale"},
        {"seed": 8},
        {"negative_prompt": "people"},
        {"extra": {"style": "abstract"}},
        {"quality": "draft"},
    ],
)
def test_changing_an_input_changes_the_image(change: dict[str, Any]) -> None:
    provider, _ = sandbox()
    base = provider.generate(request(extra={"style": "realistic"})).images[0].data
    kw: dict[str, Any] = {"extra": {"style": "realistic"}, **change}
    assert provider.generate(request(**kw)).images[0].data != base


def test_n_images_use_consecutive_seeds_and_each_can_be_redrawn_alone() -> None:
    provider, _ = sandbox()
    result = provider.generate(request(n=3, seed=100))
    assert [im.seed for im in result.images] == [100, 101, 102]
    assert result.seed == 100
    assert len({im.data for im in result.images}) == 3
    alone = provider.generate(request(n=1, seed=101)).images[0]
    assert alone.data == result.images[1].data


def test_missing_seed_is_picked_reported_and_reproducible() -> None:
    provider, _ = sandbox()
    result = provider.generate(request(seed=None, n=2))
    assert isinstance(result.seed, int)
    assert [im.seed for im in result.images] == [result.seed, result.seed + 1]
    again = provider.generate(request(seed=result.seed, n=2))
    assert [im.data for im in again.images] == [im.data for im in result.images]


def test_result_is_a_real_png_with_usage_and_a_stable_request_id() -> None:
    provider, _ = sandbox()
    result = provider.generate(request(n=2))
    for im in result.images:
        assert im.mime_type == "image/png"
        png = decode(im.data)
        assert (png.size, png.mode) == ((192, 128), "RGB")
    assert result.usage == {"images": 2.0}
    assert result.model == "sandbox-v1"
    assert re.fullmatch(r"sandbox-[0-9a-f]{16}", result.request_id or "")
    assert provider.generate(request(n=2)).request_id == result.request_id
    assert provider.generate(request(n=2, seed=8)).request_id != result.request_id


@pytest.mark.parametrize("style", [*STYLES, None, "watercolour"])
@pytest.mark.parametrize("size", [(64, 64), (1024, 64), (64, 1024), (320, 200)])
def test_every_style_draws_at_extreme_sizes(style: str | None, size: tuple[int, int]) -> None:
    provider, _ = sandbox()
    req = request(width=size[0], height=size[1], extra={"style": style}, quality="high")
    png = decode(provider.generate(req).images[0].data)
    assert png.size == size
    assert ImageStat.Stat(png).stddev[0] > 1  # something was drawn, not a flat fill


def test_style_is_visible_in_the_image() -> None:
    provider, _ = sandbox()
    images = {s: provider.generate(request(extra={"style": s})).images[0].data for s in STYLES}
    assert len(set(images.values())) == len(STYLES)
    dark = ImageStat.Stat(decode(images["photographic"]).convert("L")).mean[0]
    bright = ImageStat.Stat(decode(images["cartoon"]).convert("L")).mean[0]
    assert bright > dark


# --------------------------------------------------------------------------- sizes and refusals


def test_size_comes_from_width_and_height() -> None:
    provider, _ = sandbox()
    assert decode(provider.generate(request(width=96, height=160)).images[0].data).size == (96, 160)


@pytest.mark.parametrize(
    ("ratio", "size"),
    [("1:1", (1024, 1024)), ("16:9", (1344, 768)), ("9:16", (768, 1344)),
     ("3:2", (1280, 832)), ("2:3", (832, 1280))],
)
def test_size_comes_from_aspect_ratio(ratio: str, size: tuple[int, int]) -> None:
    provider, _ = sandbox()
    req = GenerationRequest(prompt="dunes", model="sandbox-v1", aspect_ratio=ratio, seed=1)
    assert decode(provider.generate(req).images[0].data).size == size


def test_size_defaults_to_1024_square() -> None:
    provider, _ = sandbox()
    req = GenerationRequest(prompt="dunes", model="sandbox-v1", seed=1)
    assert decode(provider.generate(req).images[0].data).size == (1024, 1024)


@pytest.mark.parametrize(
    "kw",
    [{"width": 63, "height": 512}, {"width": 512, "height": 4097}, {"width": 0, "height": 512},
     {"width": 512, "height": None}, {"aspect_ratio": "banana", "width": None, "height": None},
     {"aspect_ratio": "100:1", "width": None, "height": None}, {"n": 0}, {"n": 9}],
)
def test_impossible_requests_are_rejected(kw: dict[str, Any]) -> None:
    provider, sleeps = sandbox(latency=1.0)
    with pytest.raises(Rejected) as info:
        provider.generate(request(**kw))
    assert str(info.value)
    assert sleeps == []  # refused before any simulated work


@pytest.mark.parametrize("prompt", ["", "   \n\t"])
def test_empty_prompt_is_rejected(prompt: str) -> None:
    provider, _ = sandbox()
    with pytest.raises(Rejected, match="The prompt is empty"):
        provider.generate(request(prompt))


def test_overlong_prompt_is_rejected() -> None:
    provider, _ = sandbox()
    with pytest.raises(Rejected, match="4000"):
        provider.generate(request("x" * 4001))


# --------------------------------------------------------------------------- reference image


def png_bytes(color: tuple[int, int, int], size: tuple[int, int] = (300, 200)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, "PNG")
    return buf.getvalue()


def test_reference_image_pulls_the_output_towards_it() -> None:
    provider, _ = sandbox()
    plain = decode(provider.generate(request()).images[0].data)
    req = request(reference_images=(png_bytes((255, 0, 0)),))
    red = decode(provider.generate(req).images[0].data)
    assert red.size == plain.size
    before, after = ImageStat.Stat(plain).mean, ImageStat.Stat(red).mean
    assert after[0] > before[0] + 60  # much redder
    assert after[1] < before[1] and after[2] < before[2]


def test_unreadable_reference_image_is_rejected() -> None:
    provider, _ = sandbox()
    with pytest.raises(Rejected, match="reference image could not be read"):
        provider.generate(request(reference_images=(b"\x89PNG\r\n\x1a\nnot really",)))


# --------------------------------------------------------------------------- latency and cancel


def test_progress_rises_to_one_and_sleeps_add_up_to_the_latency() -> None:
    provider, sleeps = sandbox(latency=1.0)
    ctx = RecordingContext()
    provider.generate(request(), ctx)
    fractions = [f for f, _ in ctx.progress]
    assert fractions == sorted(set(fractions))  # strictly increasing
    assert fractions[-1] == 1.0
    assert {note for _, note in ctx.progress} == {"drawing"}
    assert sum(sleeps) == pytest.approx(1.0)
    assert max(sleeps) <= 0.1 + 1e-9


def test_latency_grows_mildly_with_the_number_of_images() -> None:
    provider, sleeps = sandbox(latency=1.0)
    provider.generate(request(n=3))
    assert sum(sleeps) == pytest.approx(1.5)


def test_zero_latency_never_sleeps_but_reports_completion() -> None:
    provider, sleeps = sandbox(latency=0.0)
    ctx = RecordingContext()
    provider.generate(request(n=2), ctx)
    assert sleeps == []
    assert ctx.progress == [(1.0, "drawing")]


def test_default_latency_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROMPTBOARD_SANDBOX_LATENCY", "0.3")
    assert SandboxProvider().latency == 0.3


def test_cancel_stops_drawing_early() -> None:
    provider, sleeps = sandbox(latency=1.0)
    ctx = RecordingContext(cancel_after=3)
    with pytest.raises(Cancelled):
        provider.generate(request(n=2), ctx)
    assert len(sleeps) == 3  # of 13 steps
    assert Cancelled.error_type == "cancelled"


# --------------------------------------------------------------------------- failure injection

RAISED: dict[str, tuple[type[ProviderError], bool]] = {
    "needs_key": (NeedsKey, False),
    "rejected": (Rejected, False),
    "safety": (SafetyBlocked, False),
    "quota": (QuotaExhausted, False),
    "rate_limited": (RateLimited, True),
    "unavailable": (Unavailable, True),
    "timeout": (Unavailable, True),
    "bad_response": (BadResponse, False),
}


def test_every_failure_kind_is_covered_here() -> None:
    assert set(FAIL_KINDS) == {*RAISED, "truncated_image", "no_image"}


@pytest.mark.parametrize("via", ["extra", "directive"])
@pytest.mark.parametrize("kind", sorted(RAISED))
def test_failure_kind_raises_the_right_error(kind: str, via: str) -> None:
    cls, retryable = RAISED[kind]
    provider, sleeps = sandbox(latency=0.5)
    req = (request(extra={"fail": kind}) if via == "extra"
           else request(f"a fox [[fail:{kind}]] in snow"))
    with pytest.raises(ProviderError) as info:
        provider.generate(req, RecordingContext())
    assert type(info.value) is cls
    assert info.value.retryable is retryable
    assert "simulated" in str(info.value) and "pretend" in str(info.value)
    immediate = kind in ("needs_key", "rejected")
    assert sum(sleeps) == (0 if immediate else pytest.approx(0.5))


def test_directive_is_case_and_space_tolerant() -> None:
    provider, _ = sandbox()
    with pytest.raises(QuotaExhausted):
        provider.generate(request("fox [[ FAIL: Quota ]]"))


@pytest.mark.parametrize("req", [request(extra={"fail": "explode"}), request("x [[fail:explode]]")])
def test_unknown_failure_kind_is_rejected_naming_the_valid_ones(req: GenerationRequest) -> None:
    provider, _ = sandbox()
    with pytest.raises(Rejected) as info:
        provider.generate(req)
    assert "explode" in str(info.value) and "rate_limited" in str(info.value)


def test_fail_attempts_lets_a_later_attempt_succeed() -> None:
    provider, _ = sandbox()
    req = request(extra={"fail": "unavailable", "fail_attempts": 2})
    for attempt in (1, 2):
        with pytest.raises(Unavailable):
            provider.generate(req, RecordingContext(attempt=attempt))
    result = provider.generate(req, RecordingContext(attempt=3))
    assert len(result.images) == 1
    decode(result.images[0].data)


def test_retry_after_is_carried_and_defaults_to_two_seconds() -> None:
    provider, _ = sandbox()
    with pytest.raises(RateLimited) as info:
        provider.generate(request(extra={"fail": "rate_limited", "retry_after": 7.5}))
    assert info.value.retry_after == 7.5
    with pytest.raises(RateLimited) as info:
        provider.generate(request(extra={"fail": "rate_limited"}))
    assert info.value.retry_after == 2.0


def test_truncated_image_returns_bytes_pillow_cannot_load() -> None:
    provider, sleeps = sandbox(latency=0.3)
    result = provider.generate(request(extra={"fail": "truncated_image"}))
    assert len(result.images) == 1
    data = result.images[0].data
    assert data.startswith(b"\x89PNG")
    with pytest.raises((OSError, SyntaxError)):
        Image.open(io.BytesIO(data)).load()
    assert sum(sleeps) == pytest.approx(0.3)


def test_no_image_returns_an_empty_result() -> None:
    provider, _ = sandbox()
    result = provider.generate(request("a fox [[fail:no_image]]"))
    assert result.images == []
    assert result.usage == {"images": 0.0}


# --------------------------------------------------------------------------- the rest


def test_declares_itself_as_a_free_offline_sandbox() -> None:
    provider, _ = sandbox()
    assert (SandboxProvider.id, SandboxProvider.key_env) == ("sandbox", None)
    assert SandboxProvider.label == "Sandbox (offline, free)"
    assert "offline" in SandboxProvider.description and "costs" in SandboxProvider.description
    caps = SandboxProvider.caps
    assert caps.default_size in caps.sizes and caps.default_model in caps.models
    assert caps.default_quality in caps.qualities and caps.max_n == 8
    assert provider.test_connection() == "The sandbox needs no connection; it draws images locally."
    assert provider.typical_usage(request(n=4)) == {"images": 4.0}


def test_drawing_time_counts_toward_the_latency() -> None:
    """The latency is the call's total time: slow drawing means less sleeping."""
    sleeps: list[float] = []
    now = [0.0]

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        now[0] += seconds

    def clock() -> float:
        now[0] += 0.15  # every look at the clock finds drawing took 0.15 s more
        return now[0]

    provider = SandboxProvider(latency=1.0, sleep=sleep, clock=clock)
    provider.generate(request())
    assert sum(sleeps) < 1.0 - 0.1
    assert all(s >= 0 for s in sleeps)
