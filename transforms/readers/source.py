"""What to ingest: a path, its format, and for generic tables which columns mean what."""

from __future__ import annotations

from typing import Literal

import pydantic

from transforms.readers.fields import RATING_LIMITS


class ColumnMapping(pydantic.BaseModel):
    """Columns of a CSV or Parquet interaction log (format "table")."""

    model_config = pydantic.ConfigDict(extra="forbid")

    user_id: str
    item_id: str
    ts: str
    rating: str | None = None
    # When set, rows with non-blank text also become reviews.
    review_text: str | None = None
    summary: str | None = None
    # "s" / "ms": epoch seconds or milliseconds; "iso": ISO 8601 (naive times are UTC).
    ts_unit: Literal["s", "ms", "iso"] = "s"
    # Valid ratings, bounds included, within [0, 10]; None means [0, 10]. Also "LOW-HIGH" ("1-5").
    rating_range: tuple[float, float] | None = None

    @pydantic.field_validator("rating_range", mode="before")
    @classmethod
    def _split_range_text(cls, value: object) -> object:
        if isinstance(value, str):
            low, sep, high = value.partition("-")
            if not sep:
                raise ValueError(f"expected LOW-HIGH such as 1-5, got {value!r}")
            return low.strip(), high.strip()
        return value

    @pydantic.field_validator("rating_range")
    @classmethod
    def _within_limits(cls, value: tuple[float, float] | None) -> tuple[float, float] | None:
        if value is not None and not RATING_LIMITS[0] <= value[0] <= value[1] <= RATING_LIMITS[1]:
            raise ValueError(f"expected LOW <= HIGH within 0-10, got {value[0]:g}-{value[1]:g}")
        return value


class SourceSpec(pydantic.BaseModel):
    """A raw source: a file or a directory of files, recognized by their names under "auto".

    - amazon2018: `<Category>_5.json[.gz]` (or `<Category>.json[.gz]`) + `meta_<Category>.json[.gz]`
    - amazon2023: `<Category>.jsonl[.gz]` + `meta_<Category>.jsonl[.gz]`
    - movielens: `u.data` + `u.item` (100K) or `ratings.dat` + `movies.dat` (1M)
    - table: `.csv`, `.tsv`, `.csv.gz` or `.parquet` files read with `mapping` (or the ColumnMapping
      in `mapping_file`, YAML or JSON); `items_path` is an optional catalog file with columns
      item_id, title and optionally description, category, brand, price. Without a mapping, the
      files' columns must be named user_id, item_id, ts and optionally rating, review_text,
      summary, as "auto" expects of tables; catalog files there are recognized by item_id + title.

    `category` picks one category when a directory holds several Amazon categories.
    `allow_partial_input`: a file whose reading breaks off (truncated, corrupt) contributes what
    was read before the break, and the break becomes a quarantine row, instead of failing.
    """

    model_config = pydantic.ConfigDict(extra="forbid")

    path: str
    format: Literal["auto", "amazon2018", "amazon2023", "movielens", "table"] = "auto"
    category: str | None = None
    mapping: ColumnMapping | None = None
    mapping_file: str | None = None
    items_path: str | None = None
    allow_partial_input: bool = False
