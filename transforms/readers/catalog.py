"""Raw item rows: clean titles, categories, descriptions and prices from source values."""

from __future__ import annotations

from typing import Literal

from transforms.readers.prices import parse_price
from transforms.readers.titles import clean_text, item_title


def item_row(
    item_id: str,
    title: str | None,
    source_file: str,
    line: int,
    *,
    brand: str | None = None,
    categories: list[str] = (),
    description: list[str] = (),
    price: object = None,
    category_is: Literal["leaf", "first"] = "leaf",
) -> dict:
    """One raw.items row.

    `category_is` says which of `categories` is the item's category: "leaf", the last of a
    path from broad to narrow (Amazon's "Books > Arts & Crafts"), or "first", the first of a list
    of tags in a fixed order (MovieLens genres).
    """
    cats = [c for c in map(clean_text, categories) if c]
    desc = "\n".join(d for d in map(clean_text, description) if d) or None
    brand = clean_text(brand) or None
    category = (cats[-1] if category_is == "leaf" else cats[0]) if cats else None
    clean_title, is_fallback = item_title(title, item_id, brand, category, desc)
    price_value, price_raw = parse_price(price)
    return {
        "item_id": item_id,
        "title": clean_title,
        "title_is_fallback": is_fallback,
        "description": desc,
        "categories": cats,
        "category": category,
        "brand": brand,
        "price": price_value,
        "price_raw": price_raw,
        "source_file": source_file,
        "source_line": line,
    }
