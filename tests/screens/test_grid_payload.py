"""The gallery grid's payload: each text once, the links' shared part once, nothing lost."""

from __future__ import annotations

import json

from lib.ui import grid

Q = "u=ann&s=1796600000000000&e=1796616000"


def _tile(image_id: str, src: str | None = None, **kw: object) -> grid.Tile:
    return grid.Tile(id=image_id, src=src or f"/api/v1/images/{image_id}/thumbnail?{Q}&sig="
                     + "ab" * 16, prompt=f"a fox {image_id}", facts="m · $0.04 · 2.0 s", **kw)


def test_signed_links_share_their_parameters_and_describe_restores_every_tile() -> None:
    tiles = [_tile("i1"), _tile("i2", batch_id="b1", batch_size=3),
             _tile("i3", src="https://bucket.s3.example/presigned?X-Amz=1"),
             _tile("i4", src="data:image/webp;base64,UklGRgA=")]
    page = grid.pack([t.payload() for t in tiles])
    assert page["q"] == Q
    assert [set(t) & {"src", "sig"} for t in page["tiles"]] == [
        {"sig"}, {"sig"}, {"src"}, {"src"}]
    shown = [grid.describe(t, page["q"]) for t in page["tiles"]]
    assert [s["src"] for s in shown] == [t.src for t in tiles]
    assert shown[0]["label"] == "Open image: a fox i1" and shown[0]["event"] == "open"
    assert (shown[1]["label"], shown[1]["event"], shown[1]["target"], shown[1]["badge"]) == (
        "Open batch of 3: a fox i2", "batch", "b1", "Batch of 3 images")
    assert shown[0]["caption"] == "m · $0.04 · 2.0 s — a fox i1"


def test_a_link_for_another_image_or_session_keeps_its_whole_url() -> None:
    other = _tile("i2", src=f"/api/v1/images/zz/thumbnail?{Q}&sig=" + "cd" * 16)
    stranger = _tile("i3", src="/api/v1/images/i3/thumbnail?u=bob&s=1&e=2&sig=" + "ef" * 16)
    page = grid.pack([_tile("i1").payload(), other.payload(), stranger.payload()])
    assert ["sig" in t for t in page["tiles"]] == [True, False, False]
    assert [grid.describe(t, page["q"])["src"] for t in page["tiles"]] == [
        _tile("i1").src, other.src, stranger.src]


def test_the_page_is_smaller_than_one_object_per_tile_with_every_text() -> None:
    tiles = [_tile(f"img{k:013d}") for k in range(24)]
    packed = len(json.dumps(grid.pack([t.payload() for t in tiles]), separators=(",", ":")))
    full = len(json.dumps([grid.describe(t.payload()) for t in tiles], separators=(",", ":")))
    assert packed < full / 2
