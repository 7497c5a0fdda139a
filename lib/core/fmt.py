"""One way to write money and counts, everywhere: pages, the Compare PNG, exports, the CLI.

The money rule (``money``)::

    None                     "cost unknown"
    0                        "$0.00"
    $1 or more               two decimals, thousands grouped:  "$86.95", "$1,234.50"
    below $1                 two to four decimals, zeros past the second trimmed:
                             "$0.50", "$0.04", "$0.346", "$0.0408", "$0.0015"
    below $0.0001 (not 0)    "<$0.0001" (never a misleading "$0.00")
    negative                 a minus before the sign: "-$0.04"

So a price or a per-image figure keeps its sub-cent digits and a total reads like money;
``0E-8`` or ``2.5`` never reach a person. Files meant for tools (CSV, JSON) get
:func:`amount`: a plain decimal number, no exponent, no "$".
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Context, Decimal, InvalidOperation

_CENT = Decimal("0.01")
_TINY = Decimal("0.0001")


def _decimal(value: object) -> Decimal:
    if isinstance(value, Decimal):
        return value
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"not an amount: {value!r}") from None


def money(value: object) -> str:
    """USD for a person (see the module's rule); an unknown cost says so."""
    if value is None:
        return "cost unknown"
    amount = _decimal(value)
    if not amount.is_finite():
        return "cost unknown"
    sign, size = ("-" if amount < 0 else ""), abs(amount)
    if size >= 1:
        return f"{sign}${size.quantize(_CENT, ROUND_HALF_UP):,}"
    if size == 0:
        return "$0.00"
    if size < _TINY:
        return f"{sign}<${_TINY}"
    text = f"{size.quantize(_TINY, ROUND_HALF_UP):f}".rstrip("0")
    whole, _, frac = text.partition(".")
    return f"{sign}${whole}.{frac.ljust(2, '0')}"


def job_cost(value: object, status: str) -> str:
    """What a job cost: a failed or cancelled job without a charge, or charged nothing, cost
    nothing ("$0.00 (not charged)"), a queued or running one has no cost yet; only a
    succeeded job without a price is "cost unknown"."""
    if status in ("failed", "cancelled") and (value is None or _decimal(value) == 0):
        return "$0.00 (not charged)"
    if value is None and status in ("queued", "running"):
        return "cost pending"
    return money(value)


def amount(value: object) -> str:
    """A cost for a file read by tools: plain decimal digits ("0.04", "0"), "" when unknown."""
    if value is None:
        return ""
    number = _decimal(value)
    if not number.is_finite():
        return ""
    text = f"{number.normalize():f}"
    return "0" if text in ("0", "-0") else text


def rounded(value: float | None, digits: int) -> float | None:
    """``value`` to ``digits`` decimals, ties away from zero, from its exact binary value:
    what DuckDB's ``round(DOUBLE, n)`` gives. PostgreSQL has no ``round(float8, n)``, and
    its ``round(numeric)`` of a float8 rounds a 15-digit approximation (139645.9499999998
    to 139646.0), so figures both databases compute are rounded here. None and NaN (a
    DataFrame's NULL) and infinities pass through."""
    if value is None or not math.isfinite(value):
        return value
    step = Decimal(1).scaleb(-digits)
    return float(Decimal(value).quantize(step, ROUND_HALF_UP, Context(prec=400)))


def plural(count: int, word: str, many: str | None = None) -> str:
    """"1 image", "2 images", "1,000 images" (``many`` for irregular plurals)."""
    return f"{count:,} {word if count == 1 else many or word + 's'}"



def usage(units: dict[str, object] | None) -> str:
    """Provider usage for a person: ``{"images": 1.0}`` -> "1 image", ``{"output_image_tokens":
    1290}`` -> "1,290 output image tokens"; "—" when there is none."""
    parts = []
    for key, raw in (units or {}).items():
        try:
            number = _decimal(raw)
        except ValueError:
            parts.append(f"{key.replace('_', ' ')}: {raw}")
            continue
        text = f"{int(number):,}" if number == number.to_integral_value() else f"{number:,}"
        name = key.replace("_", " ")
        parts.append(f"{text} {name[:-1] if number == 1 and name.endswith('s') else name}")
    return ", ".join(parts) or "—"


def shown(value: object) -> str:
    """A setting for a person: "—" for nothing (never "None")."""
    return "—" if value is None or str(value) in ("", "None") else str(value)
