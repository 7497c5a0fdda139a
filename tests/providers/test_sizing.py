"""lib/providers/sizing.py: one nearest-ratio metric (log distance) and one size-for-ratio rule,
shared by every provider and by Compare's fit_size."""

from __future__ import annotations

import pytest

from lib.compare.grid import fit_size
from lib.providers import sizing
from lib.providers.base import Capabilities, GenerationRequest, Rejected
from lib.providers.replicate import build_input
from lib.providers.stability import _form


@pytest.mark.parametrize(("text", "ratio"), [("16:9", 16 / 9), (" 3 : 2 ", 1.5), ("1.5:1", 1.5)])
def test_ratio_of_reads_w_colon_h(text: str, ratio: float) -> None:
    assert sizing.ratio_of(text) == pytest.approx(ratio)


@pytest.mark.parametrize("text", ["", "16-9", "3x2", "0:1", "1:0", "a:b", "3:2:1"])
def test_ratio_of_refuses_anything_else(text: str) -> None:
    with pytest.raises(Rejected, match="not an aspect ratio like 3:2"):
        sizing.ratio_of(text)


def test_nearest_measures_log_distance_so_a_ratio_and_its_mirror_land_alike() -> None:
    # 27:20 = 1.35 is nearer 16:9 than 1:1 on a log scale, nearer 1:1 by plain difference.
    allowed = ("1:1", "16:9", "9:16")
    assert sizing.nearest(27, 20, allowed) == "16:9"
    assert sizing.nearest(20, 27, allowed) == "9:16"


def test_nearest_takes_pixel_sizes_too_and_the_first_wins_a_tie() -> None:
    assert sizing.nearest(1600, 900, ("1024x1024", "1536x1024", "1024x1536")) == "1536x1024"
    assert sizing.nearest(4, 3, ("1:1", "16:9")) == "1:1"  # 4:3 is exactly between them


@pytest.mark.parametrize(("ratio", "side", "multiple", "size"), [
    ("1:1", 1024, 64, (1024, 1024)), ("3:2", 1024, 64, (1280, 832)),
    ("16:9", 1024, 16, (1360, 768)), ("2:3", 512, 64, (448, 640)),
    ("1:1000", 512, 64, (64, 16192)),  # never below one multiple
])
def test_size_for_ratio(ratio: str, side: int, multiple: int, size: tuple[int, int]) -> None:
    assert sizing.size_for_ratio(ratio, side, multiple) == size


def test_compare_fit_size_uses_the_same_log_distance_as_the_providers() -> None:
    caps = Capabilities(models=("m",), default_model="m", aspect_ratios=("1:1", "16:9", "9:16"))
    assert fit_size(caps, "27:20") == (None, None, "16:9", "27:20 → 16:9")
    assert fit_size(caps, "20:27") == (None, None, "9:16", "20:27 → 9:16")
    sizes = Capabilities(models=("m",), default_model="m", sizes=("1024x1024", "1344x768"))
    assert fit_size(sizes, "27:20") == (1344, 768, None, "27:20 → 1344x768")


def test_providers_pick_the_same_neighbour_for_a_pixel_size() -> None:
    req = GenerationRequest(prompt="p", model="black-forest-labs/flux-schnell", width=1350,
                            height=1000)
    assert build_input(req.model, req)["aspect_ratio"] == "4:3"
    stability = GenerationRequest(prompt="p", model="core", width=1350, height=1000)
    assert _form(stability)[1]["aspect_ratio"] == "5:4"
