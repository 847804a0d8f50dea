"""Prices from the strings catalogs really contain."""

from __future__ import annotations

import math
import re
from typing import Any

_NUMBER = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+"
# "$25.00", "1,299.99", "$10.00 - $20.00" (a range: the low end is taken as the price).
_PRICE = re.compile(rf"\s*\$?\s*({_NUMBER})\s*(?:-\s*\$?\s*(?:{_NUMBER})\s*)?")


def parse_price(value: Any) -> tuple[float | None, str | None]:
    """(price, price_raw): price is null when unparseable; price_raw keeps the source text."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None, None
    if isinstance(value, str):
        match = _PRICE.fullmatch(value)
        return (float(match.group(1).replace(",", "")) if match else None), value
    if isinstance(value, int | float) and not isinstance(value, bool):
        price = float(value)
        return (price if math.isfinite(price) and price >= 0 else None), str(value)
    return None, str(value)
