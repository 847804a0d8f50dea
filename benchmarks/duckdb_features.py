"""DuckDB SQL versions of recaug's Spark feature jobs, for the benchmark in feature_jobs.py.

Each table mirrors the definition in the module docstring of its `transforms` module (tie-breaks
included), on the default `FeatureConfig` (k-core off, leave-last-out split), and is written as
Parquet with the contract's column names and types (`schemas.tables`). Like the Dagster assets,
every job reads its inputs from the Parquet written by the jobs before it.

Covered: clean_interactions, id_maps, splits, user_features, item_features, user_sequences and
i2i_pairs restricted to co-occurrence. Not covered: k-core filtering (off by default), Swing,
review_bundles.
"""

from __future__ import annotations

import time
from pathlib import Path

import duckdb

from schemas.registry import Features, Raw, TableSpec
from transforms.config import FeatureConfig

# The tables in dependency order.
TABLES = [
    spec.name
    for spec in (
        Features.CLEAN_INTERACTIONS,
        Features.ID_MAPS,
        Features.SPLITS,
        Features.USER_FEATURES,
        Features.ITEM_FEATURES,
        Features.USER_SEQUENCES,
        Features.I2I_PAIRS,
    )
]


def _sql(cfg: FeatureConfig, raw: str, out: str) -> dict[str, str]:
    def t(spec: TableSpec) -> str:
        return f"read_parquet('{out}/{spec.name}/*.parquet')"

    def r(spec: TableSpec) -> str:
        return f"read_parquet('{raw}/{spec.name}/*.parquet')"

    train = f"(SELECT user_idx, item_idx, ts, rating FROM {t(Features.SPLITS)} WHERE split = 'train')"
    users = f"(SELECT raw_id AS user_id, idx AS user_idx FROM {t(Features.ID_MAPS)} WHERE kind = 'user')"
    items = f"(SELECT raw_id AS item_id, idx AS item_idx FROM {t(Features.ID_MAPS)} WHERE kind = 'item')"
    split = cfg.split
    # transforms/splits.py, leave_last_out on raw ids: per user by (ts, md5 tie-break), last test,
    # one before valid; users with fewer than min_history rows keep everything in train.
    tie = f"md5('{split.seed}:' || user_id || ':' || item_id)"
    assigned = f"""(
        SELECT user_id, item_id, ts, rating,
            CASE
                WHEN count(*) OVER (PARTITION BY user_id) < {split.min_history_for_holdout} THEN 'train'
                WHEN row_number() OVER (PARTITION BY user_id ORDER BY ts DESC, {tie} DESC) = 1 THEN 'test'
                WHEN row_number() OVER (PARTITION BY user_id ORDER BY ts DESC, {tie} DESC) = 2 THEN 'valid'
                ELSE 'train'
            END AS split
        FROM {t(Features.CLEAN_INTERACTIONS)}
    )"""
    i2i = cfg.i2i
    return {
        # transforms/cleaning.py: latest ts per (user, item); ties: higher rating (null loses),
        # then lower (source_file, source_line).
        Features.CLEAN_INTERACTIONS.name: f"""
            SELECT user_id, item_id, ts, rating FROM {r(Raw.INTERACTIONS)}
            QUALIFY row_number() OVER (
                PARTITION BY user_id, item_id
                ORDER BY ts DESC, rating DESC NULLS LAST, source_file ASC NULLS FIRST, source_line ASC NULLS FIRST) = 1
        """,
        # transforms/id_maps.py: per kind, idx 0..n-1 in ascending raw_id order, of training rows.
        Features.ID_MAPS.name: f"""
            WITH train AS (SELECT * FROM {assigned} WHERE split = 'train')
            SELECT 'user' AS kind, raw_id, CAST(row_number() OVER (ORDER BY raw_id) - 1 AS INTEGER) AS idx
            FROM (SELECT DISTINCT user_id AS raw_id FROM train)
            UNION ALL
            SELECT 'item' AS kind, raw_id, CAST(row_number() OVER (ORDER BY raw_id) - 1 AS INTEGER) AS idx
            FROM (SELECT DISTINCT item_id AS raw_id FROM train)
        """,
        # transforms/splits.py: the assignment indexed; rows of ids outside id_maps are dropped.
        Features.SPLITS.name: f"""
            SELECT u.user_idx, i.item_idx, a.ts, a.rating, a.split
            FROM {assigned} a JOIN {users} u USING (user_id) JOIN {items} i USING (item_id)
        """,
        # transforms/user_features.py
        Features.USER_FEATURES.name: f"""
            WITH stats AS (
                SELECT user_idx, count(*) AS n, avg(rating) AS rating_mean, stddev_samp(rating) AS rating_std,
                       min(ts) AS first_ts, max(ts) AS last_ts
                FROM {train} GROUP BY user_idx
            )
            SELECT u.user_idx, u.user_id,
                CAST(coalesce(s.n, 0) AS INTEGER) AS history_len,
                coalesce(s.n, 0) <= {cfg.cold_max_history} AS is_cold,
                CAST(s.rating_mean AS DOUBLE) AS rating_mean,
                CAST(s.rating_std AS DOUBLE) AS rating_std,
                s.first_ts, s.last_ts,
                (floor(epoch(s.last_ts))::BIGINT - floor(epoch(s.first_ts))::BIGINT) / 86400.0 AS activity_span_days
            FROM {users} u LEFT JOIN stats s USING (user_idx)
        """,
        # transforms/item_features.py (+ review_bundles.usable_review_keys, cleaning.deduplicate_items)
        Features.ITEM_FEATURES.name: f"""
            WITH stats AS (
                SELECT item_idx, count(*) AS popularity, avg(rating) AS rating_mean, count(rating) AS rating_count
                FROM {train} GROUP BY item_idx
            ),
            latest_reviews AS (
                SELECT user_id, item_id FROM {r(Raw.REVIEWS)}
                WHERE regexp_matches(review_text, '\\S')
                QUALIFY row_number() OVER (
                    PARTITION BY user_id, item_id ORDER BY ts DESC, source_file, source_line) = 1
            ),
            train_pairs AS (SELECT DISTINCT user_idx, item_idx FROM {train}),
            review_counts AS (
                SELECT x.item_idx, count(*) AS review_count
                FROM (
                    SELECT u.user_idx, i.item_idx
                    FROM latest_reviews lr JOIN {users} u USING (user_id) JOIN {items} i USING (item_id)
                ) x SEMI JOIN train_pairs tp ON x.user_idx = tp.user_idx AND x.item_idx = tp.item_idx
                GROUP BY x.item_idx
            ),
            catalog AS (
                SELECT item_id, title, title_is_fallback, category, price FROM {r(Raw.ITEMS)}
                QUALIFY row_number() OVER (PARTITION BY item_id ORDER BY source_file, source_line) = 1
            ),
            features AS (
                SELECT i.item_idx, i.item_id,
                    coalesce(s.popularity, 0) AS popularity,
                    s.rating_mean,
                    coalesce(s.rating_count, 0) AS rating_count,
                    coalesce(rc.review_count, 0) AS review_count,
                    c.item_id IS NOT NULL AS has_metadata,
                    coalesce(c.title, i.item_id) AS title,
                    coalesce(c.title_is_fallback, true) AS title_is_fallback,
                    coalesce(c.category, 'unknown') AS category,
                    c.price
                FROM {items} i
                LEFT JOIN stats s USING (item_idx)
                LEFT JOIN review_counts rc USING (item_idx)
                LEFT JOIN catalog c USING (item_id)
            )
            SELECT item_idx, item_id, CAST(popularity AS INTEGER) AS popularity,
                row_number() OVER (ORDER BY popularity, item_id)
                    <= floor(count(*) OVER () * {cfg.long_tail_quantile!r}) AS is_long_tail,
                CAST(rating_mean AS DOUBLE) AS rating_mean,
                CAST(rating_count AS INTEGER) AS rating_count,
                CAST(review_count AS INTEGER) AS review_count,
                has_metadata, title, title_is_fallback, category, CAST(price AS DOUBLE) AS price
            FROM features
        """,
        # transforms/sequences.py: the last max_len by (ts, item_idx), oldest first.
        Features.USER_SEQUENCES.name: f"""
            SELECT user_idx, list(item_idx ORDER BY ts, item_idx) AS item_idx, list(ts ORDER BY ts, item_idx) AS ts
            FROM (
                SELECT user_idx, item_idx, ts FROM {train}
                QUALIFY row_number() OVER (PARTITION BY user_idx ORDER BY ts DESC, item_idx DESC) <= {cfg.sequence_length}
            )
            GROUP BY user_idx
        """,
        # transforms/i2i.py, co-occurrence only: capped pairs E, |U_i ∩ U_j|, top_k by
        # (score desc, neighbor_idx asc).
        Features.I2I_PAIRS.name: f"""
            WITH pairs AS (SELECT user_idx, item_idx, max(ts) AS ts FROM {train} GROUP BY user_idx, item_idx),
            per_user AS (
                SELECT * FROM pairs
                QUALIFY row_number() OVER (PARTITION BY user_idx ORDER BY ts DESC, item_idx DESC) <= {i2i.max_items_per_user}
            ),
            edges AS (
                SELECT user_idx, item_idx FROM per_user
                QUALIFY row_number() OVER (PARTITION BY item_idx ORDER BY ts DESC, user_idx DESC) <= {i2i.max_users_per_item}
            ),
            scores AS (
                SELECT a.item_idx, b.item_idx AS neighbor_idx, CAST(count(*) AS DOUBLE) AS score
                FROM edges a JOIN edges b ON a.user_idx = b.user_idx AND a.item_idx != b.item_idx
                GROUP BY a.item_idx, b.item_idx
            )
            SELECT 'cooccurrence' AS method, item_idx, neighbor_idx, score,
                CAST(row_number() OVER (PARTITION BY item_idx ORDER BY score DESC, neighbor_idx) AS INTEGER) AS rank
            FROM scores
            QUALIFY rank <= {i2i.top_k}
        """,
    }


def connect(threads: int, temp_dir: str | None = None, memory_limit: str | None = None) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute(f"SET threads = {int(threads)}")
    con.execute("SET preserve_insertion_order = false")
    con.execute("SET TimeZone = 'UTC'")
    if temp_dir:
        con.execute(f"SET temp_directory = '{temp_dir}'")
    if memory_limit:
        con.execute(f"SET memory_limit = '{memory_limit}'")
    return con


def run_features(
    con: duckdb.DuckDBPyConnection, raw_dir: str | Path, out_dir: str | Path, cfg: FeatureConfig | None = None
) -> dict[str, float]:
    """Writes <out_dir>/<table>/data.parquet for every table in TABLES; returns seconds per table."""
    cfg = cfg or FeatureConfig()
    if cfg.k_core > 1 or cfg.split.strategy != "leave_last_out":
        raise NotImplementedError("the DuckDB versions cover k_core <= 1 and the leave_last_out split only")
    queries = _sql(cfg, str(raw_dir), str(out_dir))
    seconds = {}
    for name in TABLES:
        started = time.perf_counter()
        target = Path(out_dir) / name
        target.mkdir(parents=True, exist_ok=True)
        con.execute(f"COPY ({queries[name]}) TO '{target / 'data.parquet'}' (FORMAT parquet)")
        seconds[name] = time.perf_counter() - started
    return seconds
