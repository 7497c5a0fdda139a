"""How an image leaves Promptboard: its file name, and the parameters other tools can read.

* :func:`download_name` gives a download a name a person can sort and recognise
  (``2026-12-06_a-red-fox-in-snow_24a27c32.png``) instead of a bare id; the id's first eight
  characters keep names of images with the same prompt apart.
* :func:`a1111_parameters` writes the generation parameters the way AUTOMATIC1111 does in its
  ``parameters`` PNG text chunk (prompt; ``Negative prompt: ...``; one line of ``Key: value``
  pairs), which Infinite Image Browsing, InvokeAI's importer and civitai read. Promptboard's own
  ``promptboard:*`` keys stay beside it.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from datetime import datetime

_SLUG_MAX = 48


def slug(text: str, limit: int = _SLUG_MAX) -> str:
    """Lower-case ASCII words joined by hyphens, at most ``limit`` characters, never empty."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    words = re.findall(r"[a-z0-9]+", ascii_text.lower())
    out = ""
    for word in words:
        candidate = f"{out}-{word}" if out else word
        if len(candidate) > limit:
            break
        out = candidate
    return out or (words[0][:limit] if words else "image")


def download_name(created: datetime, prompt: str, image_id: str, suffix: str = "",
                  ext: str = "png", id_chars: int = 8) -> str:
    """``<date>_<prompt words>_<id8><suffix>.<ext>``: sortable, readable, unique per image
    (a zip, where two names must never meet, passes the whole id)."""
    return f"{created:%Y-%m-%d}_{slug(prompt)}_{image_id[:id_chars]}{suffix}.{ext}"


def _one_line(value: object) -> str:
    """A value fit for the comma-separated parameters line (no newlines, no bare commas)."""
    text = " ".join(str(value).split())
    return f'"{text}"' if ("," in text or ":" in text) else text


def a1111_parameters(prompt: str, negative: str | None, fields: Mapping[str, object]) -> str:
    """AUTOMATIC1111's ``parameters`` text: the prompt, the negative prompt, then the settings.

    ``fields`` keeps its order; empty values (None, "") are left out.
    """
    lines = [prompt]
    if negative:
        lines.append(f"Negative prompt: {negative}")
    pairs = [f"{k}: {_one_line(v)}" for k, v in fields.items() if v is not None and v != ""]
    if pairs:
        lines.append(", ".join(pairs))
    return "\n".join(lines)


def embedded_text(*, job_id: str, prompt: str, negative: str | None, provider: str, model: str,
                  seed: int | None, style: str | None, quality: str | None,
                  size: str | None) -> dict[str, str]:
    """The PNG text an original carries: Promptboard's own ``promptboard:*`` keys, and
    AUTOMATIC1111's ``parameters`` for the tools that read that."""
    return {
        "promptboard:prompt": prompt, "promptboard:provider": provider,
        "promptboard:model": model, "promptboard:seed": str(seed),
        "promptboard:style": style or "none", "promptboard:job": job_id,
        "parameters": a1111_parameters(prompt, negative, {
            "Seed": seed, "Size": size, "Model": model, "Provider": provider,
            "Quality": quality, "Style": style,
        }),
    }
