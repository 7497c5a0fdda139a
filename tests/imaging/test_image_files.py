"""File names and tool-readable parameters for images that leave Promptboard."""

from __future__ import annotations

from datetime import datetime

from lib.imaging.files import a1111_parameters, download_name, slug

WHEN = datetime(2026, 12, 6, 14, 30)


def test_a_download_is_named_by_date_prompt_and_id() -> None:
    name = download_name(WHEN, "A red fox in snow, golden hour!", "24a27c32b1094a82")
    assert name == "2026-12-06_a-red-fox-in-snow-golden-hour_24a27c32.png"


def test_a_watermarked_copy_keeps_the_name_with_a_suffix() -> None:
    assert download_name(WHEN, "fox", "24a27c32b1094a82", "-watermarked") == (
        "2026-12-06_fox_24a27c32-watermarked.png")


def test_hostile_or_foreign_prompts_make_safe_names() -> None:
    assert slug("../../etc/passwd") == "etc-passwd"
    assert slug("Ünïcödé café") == "unicode-cafe"
    assert slug("日本語だけ") == "image"
    assert slug('=HYPERLINK("x")') == "hyperlink-x"
    long = slug("word " * 40)
    assert len(long) <= 48 and not long.endswith("-")


def test_parameters_read_like_automatic1111s() -> None:
    text = a1111_parameters("a red fox", "blurry, low quality", {
        "Steps": 20, "Seed": 42, "Size": "1024x1024", "Model": "gpt-image-2",
        "Style": None, "Quality": "",
    })
    assert text == ("a red fox\nNegative prompt: blurry, low quality\n"
                    "Steps: 20, Seed: 42, Size: 1024x1024, Model: gpt-image-2")


def test_values_with_commas_colons_or_newlines_stay_on_the_settings_line() -> None:
    text = a1111_parameters("p", None, {"Model": "owner/name:abc", "Style": "a, b\nc"})
    assert text == 'p\nModel: "owner/name:abc", Style: "a, b c"'
