"""What a Gemini reply used: the raw usage a job is priced by (``lib/money/costs.py``).

``usageMetadata`` counts tokens by modality (Google's pricing: input, image output, and text
plus thinking output at the text rate); a reply without it is priced per image by size
(``lib/money/prices/gemini.csv``).
"""

from __future__ import annotations

import math
from typing import Any


def count(value: Any) -> float:
    """A token count from the reply, or 0 for anything that is not a finite number >= 0
    (a hostile or broken reply must not fail the job as an internal error)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return 0.0
    return float(value) if math.isfinite(value) and value >= 0 else 0.0


def read_usage(data: dict[str, Any], images: int) -> dict[str, float]:
    """Raw usage: input, image-output and text+thinking output tokens (images if not reported)."""
    meta = data.get("usageMetadata")
    if not isinstance(meta, dict) or not count(meta.get("candidatesTokenCount")):
        return {"images": float(images)}  # priced per image by size in lib/money/prices/gemini.csv
    out = count(meta.get("candidatesTokenCount"))
    details = meta.get("candidatesTokensDetails")
    if isinstance(details, list):
        image = float(sum(count(d.get("tokenCount")) for d in details
                          if isinstance(d, dict) and d.get("modality") == "IMAGE"))
    else:
        image = out  # no breakdown: all output was the image (never under-charge)
    return {
        "input_tokens": count(meta.get("promptTokenCount")),
        "output_image_tokens": image,
        "output_text_tokens": max(0.0, out - image) + count(meta.get("thoughtsTokenCount")),
    }


def unimaged_usage(data: dict[str, Any]) -> dict[str, float]:
    """What a 200 reply without an image used: its prompt, text and thinking tokens. Google
    bills a 200 (only 400 and 500 replies are free, ai.google.dev/gemini-api/docs/billing)
    but not a blocked image ("You will not be charged for blocked images", its finishMessage),
    so image tokens of such a reply are left out."""
    meta = data.get("usageMetadata")
    if not isinstance(meta, dict):
        return {}
    out = count(meta.get("candidatesTokenCount"))
    details = meta.get("candidatesTokensDetails")
    if isinstance(details, list):
        out -= float(sum(count(d.get("tokenCount")) for d in details
                         if isinstance(d, dict) and d.get("modality") == "IMAGE"))
    usage = {"input_tokens": count(meta.get("promptTokenCount")),
             "output_text_tokens": max(0.0, out) + count(meta.get("thoughtsTokenCount"))}
    return {unit: amount for unit, amount in usage.items() if amount}
