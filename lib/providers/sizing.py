"""Sizes and aspect ratios: one metric for "nearest", one rule for "a size in this ratio".

Every provider and Compare's ``fit_size`` use these, so a 3:2 request lands on the same
neighbour everywhere::

    ratio_of("16:9")                            width / height as a float (Rejected if malformed)
    nearest(width, height, ("1:1", "16:9"))     the allowed ratio or size closest in log distance
    size_for_ratio("3:2", side=1024, multiple=64)
                                                about side² pixels in that ratio, sides rounded
                                                to the multiple (never below it)

Distance is ``|log(a) - log(b)|``: a ratio and its mirror (3:2 and 2:3) are equally far
from 1:1, which a plain difference of quotients is not (it favours portrait neighbours).
On a tie the first allowed value wins.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

from lib.providers import errors

_RATIO = re.compile(r"\s*(\d+(?:\.\d+)?)\s*:\s*(\d+(?:\.\d+)?)\s*")


def ratio_of(text: str) -> float:
    """``W:H`` as ``W / H``; Rejected when it is not two positive numbers."""
    found = _RATIO.fullmatch(text or "")
    if not found or not float(found.group(1)) or not float(found.group(2)):
        raise errors.Rejected(f"{text!r} is not an aspect ratio like 3:2.")
    return float(found.group(1)) / float(found.group(2))


def distance(ratio: float, other: float) -> float:
    """How far apart two ratios are: the difference of their logarithms."""
    return abs(math.log(ratio) - math.log(other))


def nearest(width: float, height: float, allowed: Sequence[str]) -> str:
    """The value of ``allowed`` (``W:H`` or ``WxH`` strings) nearest to ``width:height``."""
    if not allowed:
        raise ValueError("nearest() needs at least one allowed ratio or size")
    want = width / height
    return min(allowed, key=lambda option: distance(ratio_of(option.replace("x", ":")), want))


def size_for_ratio(ratio: str, side: int = 1024, multiple: int = 64) -> tuple[int, int]:
    """About ``side``² pixels in ``ratio``, each side a multiple of ``multiple`` (at least one)."""
    root = math.sqrt(ratio_of(ratio))
    return (max(multiple, round(side * root / multiple) * multiple),
            max(multiple, round(side / root / multiple) * multiple))
