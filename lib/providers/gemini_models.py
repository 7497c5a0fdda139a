"""Gemini image models: what each accepts, and when Google shuts it down.

Models (checked 2026-12-06 against Google's pages as stored in the reference library)::

    model                           state                        sizes        refs  ratios
    gemini-3-pro-image (default)    GA since 2026-05-28          1K 2K 4K     14    10
    gemini-3.1-flash-image          GA since 2026-05-28;         1K 2K 4K     14    14
                                    deprecated 2026-10-06, no
                                    shutdown date announced
    gemini-3-pro-image-preview      shut down 2026-06-25   -> gemini-3-pro-image
    gemini-3.1-flash-image-preview  shut down 2026-06-25   -> gemini-3.1-flash-image
    gemini-2.5-flash-image          shut down 2026-10-02   -> gemini-3.1-flash-image

Sources: ai.google.dev/gemini-api/docs/changelog (2026-05-28: both GA ids released, the two
previews deprecated and shut down on 2026-06-25; 2026-10-06: gemini-3.1-flash-image
deprecated for gemini-nano-banana-2.1, "no shutdown date announced") and
ai.google.dev/gemini-api/docs/deprecations (GA ids "No shutdown date announced"; previews
June 25, 2026 with those replacements; gemini-2.5-flash-image "October 2, 2026"). The
changelog of 2026-09-18 says 2.5 models stay served "until further notice" for earlier users;
we follow the deprecations page and issue 12 and treat 2.5 Flash Image as shut down on
2026-10-02. gemini-3.1-flash-lite-image (GA 2026-06-30, 1K only) and gemini-nano-banana-2.1
(GA 2026-10-06) are not offered yet: no Google-published price was found for them.
Shut-down ids stay in MODEL_SPECS so their old jobs keep their sizes and prices, and so a
FakeClock before the date still runs them; ``Provider.refuse_if_shut_down`` refuses them
from the date on, by the engine clock, naming the replacement.

Sizes and references (rows of lib/providers/capabilities.csv): 1K/2K/4K with an uppercase
K, up to 14 reference images, 1:4 4:1 1:8 8:1 only on 3.1 Flash
(ai.google.dev/gemini-api/docs/image-generation, as quoted by blog.laozhang.ai 2026-04-04;
Vertex model pages for 3 Pro / 3.1 Flash Image). 3.1 Flash also makes 512 px images, but
the wire string for it is unverified, so it is not offered.
"""

from __future__ import annotations

from dataclasses import dataclass

from lib.providers import catalog_seed as seed
from lib.providers.types import Shutdown

PRO, FLASH = "gemini-3-pro-image", "gemini-3.1-flash-image"
# Offered models, the default and the shutdowns are data: lib/providers/models.csv (the pages
# and dates above), changed by admins in the database (lib/catalog/store.py).
MODELS = seed.offered("gemini")
SHUTDOWNS: dict[str, Shutdown] = seed.shutdowns("gemini")
ASPECT_RATIOS = ("1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9")
IMAGE_SIZES = ("1K", "2K", "4K")  # uppercase K on the wire; 3.1 Flash's 512 px string is unverified


@dataclass(frozen=True)
class ModelSpec:
    """The usage a typical call of one model reports (for estimates). What it takes (sizes,
    ratios, references) is data: lib/providers/capabilities.csv."""

    image_tokens: tuple[tuple[str, int], ...] = ()  # imageSize -> output image tokens
    ref_tokens: int = 258  # input tokens per reference image
    thinking_tokens: int = 0  # billed at the text-output rate


# Output tokens per image: 3 Pro 1120 at 1K/2K and 2000 at 4K; 3.1 Flash 1120/1680/2520 at
# 1K/2K/4K (Vertex AI model pages, docs.cloud.google.com/vertex-ai/generative-ai/docs/models/
# gemini/3-1-flash-image; providers.md §1). 3 Pro also thinks (~800 tokens, providers.md §1).
_PRO_SPEC = ModelSpec(image_tokens=(("1K", 1120), ("2K", 1120), ("4K", 2000)),
                      ref_tokens=560, thinking_tokens=800)
_FLASH_SPEC = ModelSpec(image_tokens=(("1K", 1120), ("2K", 1680), ("4K", 2520)), ref_tokens=560)
MODEL_SPECS: dict[str, ModelSpec] = {
    PRO: _PRO_SPEC,
    FLASH: _FLASH_SPEC,
    # shut down: kept so a FakeClock before the date runs them, and for their old jobs
    "gemini-3-pro-image-preview": _PRO_SPEC,
    "gemini-3.1-flash-image-preview": _FLASH_SPEC,
    "gemini-2.5-flash-image": ModelSpec(image_tokens=(("1K", 1290),)),
}
# An id an admin enabled from a model check: the usage of a 1K image of 2.5 Flash.
GENERIC_SPEC = ModelSpec(image_tokens=(("1K", 1290),))
