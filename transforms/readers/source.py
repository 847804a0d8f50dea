"""What to ingest: a path, its format, and for generic tables which columns mean what."""

from __future__ import annotations

from typing import Literal

import pydantic


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


class SourceSpec(pydantic.BaseModel):
    """A raw source: a file or a directory of files, recognized by their names under "auto".

    - amazon2018: `<Category>_5.json[.gz]` (or `<Category>.json[.gz]`) + `meta_<Category>.json[.gz]`
    - amazon2023: `<Category>.jsonl[.gz]` + `meta_<Category>.jsonl[.gz]`
    - movielens: `u.data` + `u.item` (100K) or `ratings.dat` + `movies.dat` (1M)
    - table: `.csv`, `.tsv`, `.csv.gz` or `.parquet` files read with `mapping`; `items_path` is an
      optional catalog file with columns item_id, title and optionally description, category,
      brand, price.

    `category` picks one category when a directory holds several Amazon categories.
    """

    model_config = pydantic.ConfigDict(extra="forbid")

    path: str
    format: Literal["auto", "amazon2018", "amazon2023", "movielens", "table"] = "auto"
    category: str | None = None
    mapping: ColumnMapping | None = None
    items_path: str | None = None
