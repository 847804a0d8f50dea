"""Amazon Reviews 2023: `<Category>.jsonl[.gz]` reviews and `meta_<Category>.jsonl[.gz]`.

The item id is `parent_asin` (the benchmark convention); the review `title` is the summary and
`timestamp` is in milliseconds. In metadata, `store` is the brand; `categories` is often empty,
and then `main_category` stands in; `features` stand in for an empty `description`.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from transforms.readers import fields
from transforms.readers.catalog import item_row
from transforms.readers.jsonl import read_json_events, read_json_records
from transforms.readers.records import EventLayout, Record

REVIEWS = EventLayout(
    user="user_id",
    item="parent_asin",
    ts="timestamp",
    ts_unit="ms",
    rating="rating",
    rating_scale=fields.RatingScale(1, 5, "amazon2023"),
    text="text",
    summary="title",
    verified="verified_purchase",
    votes="helpful_vote",
)


def _item(obj: dict, source: str, line: int, raw: Callable[[], str]) -> Record:
    main_category = fields.optional_str(obj, "main_category")
    row = item_row(
        fields.ident(obj, "parent_asin"),
        fields.optional_str(obj, "title"),
        source,
        line,
        brand=fields.optional_str(obj, "store"),
        categories=fields.str_list(obj, "categories") or ([main_category] if main_category else []),
        description=fields.str_list(obj, "description") or fields.str_list(obj, "features"),
        price=obj.get("price"),
    )
    return Record(line, [("items", row)])


read_reviews = partial(read_json_events, layout=REVIEWS)
read_meta = partial(read_json_records, table="items", build=_item)
