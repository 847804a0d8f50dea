"""Amazon Review Data (2018): `<Category>_5.json[.gz]` reviews and `meta_<Category>.json[.gz]`.

Each review line is one interaction and one review; the item id is `asin`. Both metadata
variants (`image` or `imageURL`/`imageURLHighRes`) read the same: images are not kept.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from transforms.readers import fields
from transforms.readers.catalog import item_row
from transforms.readers.jsonl import read_json_events, read_json_records
from transforms.readers.records import EventLayout, Record

REVIEWS = EventLayout(
    user="reviewerID",
    item="asin",
    ts="unixReviewTime",  # seconds, the layout default
    rating="overall",
    rating_scale=fields.RatingScale(1, 5, "amazon2018"),
    text="reviewText",
    summary="summary",
    verified="verified",
    votes="vote",
)


def meta_record(obj: dict, source: str, line: int, raw: Callable[[], str]) -> Record:
    """One catalog row from a parsed metadata object."""
    row = item_row(
        fields.ident(obj, "asin"),
        fields.optional_str(obj, "title"),
        source,
        line,
        brand=fields.optional_str(obj, "brand"),
        categories=fields.str_list(obj, "category"),
        description=fields.str_list(obj, "description"),
        price=obj.get("price"),
    )
    return Record(line, [("items", row)])


read_reviews = partial(read_json_events, layout=REVIEWS)
read_meta = partial(read_json_records, table="items", build=meta_record)
