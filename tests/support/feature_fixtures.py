"""Seeded synthetic raw tables for the feature-job tests, and helpers to move them in and out of
Spark. Rows deliberately contain duplicates, timestamp ties, missing ratings, empty review texts,
items without metadata and duplicate catalog rows."""

from __future__ import annotations

import functools
import random
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import pyarrow as pa
from pyspark.sql import DataFrame

from schemas.tables import RAW_INTERACTIONS, RAW_ITEMS, RAW_REVIEWS

T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)


def to_spark(spark, rows: list[dict], schema: pa.Schema):
    return spark.createDataFrame(pa.Table.from_pylist(rows, schema=schema))


def rows_of(df) -> list[dict]:
    """Collect through Arrow so timestamps come back as UTC-aware datetimes."""
    return df.toArrow().to_pylist()


def synthetic_raw(seed: int = 7, n_users: int = 40, n_items: int = 30, n_rows: int = 320):
    rng = random.Random(seed)
    users = [f"u{n:03d}" for n in range(n_users)]
    # Popularity skew so that k-core, long tail and Swing have something to do.
    items = [f"i{n:03d}" for n in range(n_items)]
    weights = [1.0 / (1 + n) ** 0.7 for n in range(n_items)]

    interactions = []
    for line in range(n_rows):
        interactions.append(
            {
                "user_id": rng.choice(users),
                "item_id": rng.choices(items, weights)[0],
                # Day resolution over ~60 days: plenty of timestamp ties.
                "ts": T0 + timedelta(days=rng.randrange(60)),
                "rating": rng.choice([1.0, 2.0, 3.0, 4.0, 5.0, 5.0, None]),
                "source_file": rng.choice(["a.json", "b.json"]),
                "source_line": line,
            }
        )
    # Exact-timestamp duplicates with other ratings / provenance, to exercise every tie-break.
    for row in rng.sample(interactions, 40):
        interactions.append({**row, "rating": rng.choice([row["rating"], 1.0, None]), "source_line": row["source_line"] + 10_000})

    reviews = []
    for line, row in enumerate(rng.sample(interactions, 220)):
        reviews.append(
            {
                "user_id": row["user_id"],
                "item_id": row["item_id"],
                "ts": row["ts"] + timedelta(days=rng.choice([0, 0, 1])),
                "rating": row["rating"],
                "summary": rng.choice([f"summary {line}", None]),
                "review_text": rng.choice([f"text {line}", f"text {line}", " \n ", ""]),
                "verified": rng.choice([True, False, None]),
                "helpful_votes": rng.choice([None, 0, 3]),
                "source_file": "reviews.json",
                "source_line": line,
            }
        )
    # Reviews of pairs that are not interactions, and of unknown users.
    for line in range(30):
        reviews.append(
            {**reviews[line], "user_id": rng.choice(users + ["ghost"]), "item_id": rng.choice(items), "source_line": 1_000 + line}
        )

    catalog = []
    for line, item in enumerate(items[: n_items - 4] + ["not_interacted"]):
        for copy in range(rng.choice([1, 1, 2])):
            category = rng.choice(["Books", "News", None])
            catalog.append(
                {
                    "item_id": item,
                    "title": f"{item} title v{copy}",
                    "title_is_fallback": rng.random() < 0.2,
                    "description": None,
                    "categories": None if category is None else ["Root", category],
                    "category": category,
                    "brand": None,
                    "price": rng.choice([None, 9.99, 25.0]),
                    "price_raw": None,
                    "source_file": rng.choice(["meta1.json", "meta2.json"]),
                    "source_line": line * 10 + copy,
                }
            )
    return interactions, reviews, catalog


@dataclass
class Synthetic:
    """The seeded raw tables as Python rows and as Spark frames, and the shared upstream steps
    (dedup, leave-last-out split, k-core 3 on the training rows), each computed once per test session."""

    interactions: list[dict]
    reviews: list[dict]
    catalog: list[dict]
    raw_interactions: DataFrame
    raw_reviews: DataFrame
    raw_items: DataFrame
    clean: DataFrame
    train_raw: DataFrame  # the k-cored training rows on raw ids, which id_maps is built from
    id_maps: DataFrame
    splits: DataFrame
    train: DataFrame


K_CORE = 3


@functools.cache
def synthetic(spark) -> Synthetic:
    from transforms.cleaning import deduplicate_interactions, filter_k_core
    from transforms.config import SplitConfig
    from transforms.id_maps import build_id_maps
    from transforms.splits import assign_splits, indexed_splits, split_rows, training_rows

    interactions, reviews, catalog = synthetic_raw()
    raw_interactions = to_spark(spark, interactions, RAW_INTERACTIONS)
    clean = deduplicate_interactions(raw_interactions).localCheckpoint()
    assigned = assign_splits(clean, SplitConfig()).localCheckpoint()
    train_raw = filter_k_core(training_rows(assigned), K_CORE).drop("split").localCheckpoint()
    id_maps = build_id_maps(train_raw).localCheckpoint()
    splits = indexed_splits(assigned, id_maps).localCheckpoint()
    return Synthetic(
        interactions=interactions,
        reviews=reviews,
        catalog=catalog,
        raw_interactions=raw_interactions,
        raw_reviews=to_spark(spark, reviews, RAW_REVIEWS),
        raw_items=to_spark(spark, catalog, RAW_ITEMS),
        clean=clean,
        train_raw=train_raw,
        id_maps=id_maps,
        splits=splits,
        train=split_rows(splits, "train"),
    )


# --- comparison helpers ------------------------------------------------------------------------


def assert_contract(df, schema: pa.Schema) -> None:
    from pyspark.sql.pandas.types import from_arrow_schema

    expected = [(f.name, f.dataType.simpleString()) for f in from_arrow_schema(schema).fields]
    assert [(f.name, f.dataType.simpleString()) for f in df.schema.fields] == expected


def assert_same_rows(actual: list[dict], expected: list[dict], key: tuple[str, ...], rel: float = 1e-9) -> None:
    """Equal as sets of rows keyed by `key`; floats compared with a relative tolerance."""
    import pytest

    by_key = lambda rows: {tuple(r[k] for k in key): r for r in rows}  # noqa: E731
    got, want = by_key(actual), by_key(expected)
    assert len(got) == len(actual) and len(want) == len(expected), "duplicate keys"
    assert got.keys() == want.keys()
    for k, row in want.items():
        for column, value in row.items():
            if isinstance(value, float):
                assert got[k][column] == pytest.approx(value, rel=rel, abs=1e-12), (k, column)
            else:
                assert got[k][column] == value, (k, column)


# --- independent reference computations (DuckDB SQL) -----------------------------------------


def duckdb_user_features(id_maps: pa.Table, train: pa.Table, cold_max_history: int) -> list[dict]:
    import duckdb

    con = duckdb.connect()
    con.register("id_maps", id_maps)
    con.register("train", train)
    return (
        con.sql(
            """
            SELECT m.idx AS user_idx, m.raw_id AS user_id,
                   COUNT(t.user_idx)::INT AS history_len,
                   COUNT(t.user_idx) <= $cold AS is_cold,
                   AVG(t.rating)::DOUBLE AS rating_mean,
                   STDDEV_SAMP(t.rating)::DOUBLE AS rating_std,
                   MIN(t.ts) AS first_ts, MAX(t.ts) AS last_ts,
                   (epoch(MAX(t.ts)) - epoch(MIN(t.ts))) / 86400.0 AS activity_span_days
            FROM id_maps m LEFT JOIN train t ON t.user_idx = m.idx
            WHERE m.kind = 'user'
            GROUP BY m.idx, m.raw_id
            """,
            params={"cold": cold_max_history},
        )
        .to_arrow_table()
        .to_pylist()
    )


def duckdb_item_features(
    id_maps: pa.Table, train: pa.Table, raw_items: pa.Table, raw_reviews: pa.Table, quantile: float
) -> list[dict]:
    import duckdb

    con = duckdb.connect()
    for name, table in [("id_maps", id_maps), ("train", train), ("raw_items", raw_items), ("raw_reviews", raw_reviews)]:
        con.register(name, table)
    return (
        con.sql(
            """
            WITH items AS (
                SELECT * FROM raw_items
                QUALIFY row_number() OVER (PARTITION BY item_id ORDER BY source_file, source_line) = 1
            ),
            train_ids AS (
                SELECT DISTINCT u.raw_id AS user_id, i.raw_id AS item_id
                FROM train t
                JOIN id_maps u ON u.kind = 'user' AND u.idx = t.user_idx
                JOIN id_maps i ON i.kind = 'item' AND i.idx = t.item_idx
            ),
            review_counts AS (
                SELECT r.item_id, COUNT(DISTINCT r.user_id) AS n
                FROM raw_reviews r JOIN train_ids USING (user_id, item_id)
                WHERE regexp_matches(r.review_text, '\\S')
                GROUP BY r.item_id
            ),
            stats AS (
                SELECT item_idx, COUNT(*) AS popularity, AVG(rating) AS rating_mean, COUNT(rating) AS rating_count
                FROM train GROUP BY item_idx
            ),
            base AS (
                SELECT m.idx AS item_idx, m.raw_id AS item_id,
                       COALESCE(s.popularity, 0)::INT AS popularity,
                       s.rating_mean::DOUBLE AS rating_mean,
                       COALESCE(s.rating_count, 0)::INT AS rating_count,
                       COALESCE(rc.n, 0)::INT AS review_count,
                       it.item_id IS NOT NULL AS has_metadata,
                       COALESCE(it.title, m.raw_id) AS title,
                       COALESCE(it.title_is_fallback, TRUE) AS title_is_fallback,
                       COALESCE(it.category, 'unknown') AS category,
                       it.price
                FROM id_maps m
                LEFT JOIN stats s ON s.item_idx = m.idx
                LEFT JOIN review_counts rc ON rc.item_id = m.raw_id
                LEFT JOIN items it ON it.item_id = m.raw_id
                WHERE m.kind = 'item'
            )
            SELECT *,
                   row_number() OVER (ORDER BY popularity, item_id) <= floor($q * COUNT(*) OVER ()) AS is_long_tail
            FROM base
            """,
            params={"q": quantile},
        )
        .to_arrow_table()
        .to_pylist()
    )
