"""Cleaning of raw tables: duplicate removal and iterative k-core filtering.

- Interactions: one row per (user_id, item_id), the latest `ts`; ties go to the higher rating
  (a null rating loses), then to the lower (source_file, source_line), so the choice is
  deterministic.
- k-core (k >= 2), applied to training rows (the held-out rule): repeatedly drop the interactions of users and of items with fewer than k
  interactions until every remaining user and item has at least k. The result is the unique
  maximal such subset. Each round is checkpointed so the query plan does not grow with the
  number of rounds.
- Items: one row per item_id, the first by (source_file, source_line).
"""

from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from schemas.tables import CLEAN_INTERACTIONS, RAW_ITEMS
from transforms.config import FeatureConfig
from transforms.tables import conform

DEFAULT_K_CORE_MAX_ROUNDS = FeatureConfig.model_fields["k_core_max_rounds"].default


def first_per_key(df: DataFrame, keys: list[str], order: list) -> DataFrame:
    """The first row of each key group under `order` (a list of column expressions)."""
    window = Window.partitionBy(*keys).orderBy(*order)
    return df.withColumn("_rn", F.row_number().over(window)).filter(F.col("_rn") == 1).drop("_rn")


def deduplicate_interactions(raw_interactions: DataFrame) -> DataFrame:
    latest = first_per_key(
        raw_interactions,
        ["user_id", "item_id"],
        [F.col("ts").desc(), F.col("rating").desc_nulls_last(), F.col("source_file"), F.col("source_line")],
    )
    return conform(latest, CLEAN_INTERACTIONS)


def filter_k_core(interactions: DataFrame, k: int, max_rounds: int = DEFAULT_K_CORE_MAX_ROUNDS) -> DataFrame:
    """Iterative k-core over (user_id, item_id); raises if not stable after `max_rounds`."""
    if k <= 1:
        return interactions
    current = interactions.localCheckpoint()
    n_current = current.count()
    for _ in range(max_rounds):
        users = current.groupBy("user_id").count().filter(F.col("count") >= k).select("user_id")
        items = current.groupBy("item_id").count().filter(F.col("count") >= k).select("item_id")
        kept = current.join(users, "user_id", "left_semi").join(items, "item_id", "left_semi").localCheckpoint()
        n_kept = kept.count()
        if n_kept == n_current:
            return kept.select(interactions.columns)
        current, n_current = kept, n_kept
    raise RuntimeError(f"{k}-core filtering did not converge within {max_rounds} rounds; raise the bound")


def deduplicate_items(raw_items: DataFrame) -> DataFrame:
    first = first_per_key(raw_items, ["item_id"], [F.col("source_file"), F.col("source_line")])
    return first.select([f.name for f in RAW_ITEMS if f.name not in ("source_file", "source_line")])
