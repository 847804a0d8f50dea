"""The synthetic marketplace written straight to the raw Parquet tables, skipping JSON.

`write_raw_marketplace(spec, raw_dir)` writes the rows that `write_marketplace` followed by
`readers.ingest` would write -- same draws from the same random streams, same ids, times,
ratings, texts, source_file and source_line -- but assembles them as Arrow columns per chunk
of users instead of rendering, compressing, re-reading and parsing JSON text. That is what makes
100M-interaction inputs for the scale benchmark take minutes rather than the better part of an
hour. Catalog rows go through the Amazon 2018 reader's own `meta_record`, so titles, categories
and prices are cleaned exactly as ingest cleans them.

One difference: ingest quarantines a review whose text is empty (spec.review_text_rate < 1), with
the offending JSON line; here such reviews are left out of `reviews` and no quarantine row is
written, as there is no line. The default rate of 1 has none.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.fs as pafs

from schemas.registry import RAW_TABLES
from schemas.tables import RAW_INTERACTIONS, RAW_REVIEWS
from synthetic.marketplace import (
    Catalog,
    Days,
    MarketplaceSpec,
    ReviewChunk,
    catalog_rows,
    marketplace_streams,
    review_chunks,
)
from transforms.readers.amazon2018 import meta_record
from transforms.readers.sink import RawSinks

_BATCH_ROWS = 50_000  # ingest's row-group size


def write_raw_marketplace(spec: MarketplaceSpec, raw_dir: str | Path) -> dict:
    """Writes `<raw_dir>/<table>/part-00000.parquet` for every raw table; returns counts."""
    out_dirs = {table: os.path.join(raw_dir, table) for table in RAW_TABLES}
    for directory in out_dirs.values():
        os.makedirs(directory, exist_ok=True)
    catalog, meta_rng, review_rng = marketplace_streams(spec)
    reviews_file, meta_file = f"{spec.category_name}_5.json.gz", f"meta_{spec.category_name}.json.gz"
    reviewed = np.zeros(spec.n_items, dtype=bool)
    with RawSinks(pafs.LocalFileSystem(), out_dirs, _BATCH_ROWS) as sinks:
        for line, obj in enumerate(catalog_rows(catalog, meta_rng), start=1):
            for table, row in meta_record(obj, meta_file, line, lambda: "").rows:
                sinks[table].append(row)
        columns = _ChunkColumns(catalog, Days.between(spec.start_date, spec.end_date), reviews_file)
        for chunk in review_chunks(spec, catalog, review_rng, reviewed):
            interactions, reviews = columns.tables(chunk, first_line=sinks["interactions"].rows + 1)
            sinks["interactions"].append_table(interactions)
            sinks["reviews"].append_table(reviews)
    return {
        "users": spec.n_users,
        "items": sinks["items"].rows,
        "items_reviewed": int(reviewed.sum()),
        "interactions": sinks["interactions"].rows,
        "reviews": sinks["reviews"].rows,
    }


class _ChunkColumns:
    """ReviewChunk -> the raw interactions and reviews rows of its JSON lines, as Arrow tables."""

    def __init__(self, catalog: Catalog, days: Days, source_file: str):
        self.catalog = catalog
        self.asin = pa.array(catalog.asin, pa.string())
        self.day_micros = np.asarray(days.unix, dtype=np.int64) * 1_000_000
        self.source_file = pa.array([source_file], pa.string())

    def tables(self, chunk: ReviewChunk, first_line: int) -> tuple[pa.Table, pa.Table]:
        n = len(chunk.item)
        interactions = {
            "user_id": pa.array(chunk.reviewer_ids, pa.string()).take(pa.array(chunk.owner)),
            "item_id": self.asin.take(pa.array(chunk.item)),
            "ts": pa.array(self.day_micros[chunk.day], RAW_INTERACTIONS.field("ts").type),
            "rating": pa.array(chunk.rating, pa.float32()),
            "source_file": self.source_file.take(pa.array(np.zeros(n, dtype=np.int64))),
            "source_line": pa.array(first_line + np.arange(n, dtype=np.int64)),
        }
        text, summary = self.catalog.texts.render(self.catalog.bank[chunk.item], chunk.rating, chunk.text_ints)
        review_columns = {
            **interactions,
            "summary": summary,
            "review_text": text,
            "verified": pa.array(chunk.verified),
            "helpful_votes": pa.array(chunk.votes, pa.int32(), mask=chunk.votes == 0),
        }
        reviews = pa.table({f.name: review_columns[f.name] for f in RAW_REVIEWS}, schema=RAW_REVIEWS)
        return (
            pa.table(interactions, schema=RAW_INTERACTIONS),
            reviews.filter(pa.array(chunk.has_text)),
        )
