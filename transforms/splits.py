"""Train / valid / test splits of indexed interactions.

- leave_last_out: per user, interactions ordered by (ts, item_idx); the last is "test", the one
  before "valid", the rest "train". Users with fewer than `min_history_for_holdout`
  interactions keep everything in train. Holdout rows are never older than the user's train rows.
- time: with T the latest ts overall, rows with ts > T - test_days are "test", rows with
  T - test_days - valid_days < ts <= T - test_days are "valid", the rest "train"; so every train ts
  is before every valid ts, which is before every test ts.
Every input row appears exactly once.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from schemas.tables import SPLITS
from transforms.config import SplitConfig
from transforms.tables import conform

_DAY_SECONDS = 86_400


def _leave_last_out(indexed: DataFrame, min_history: int) -> DataFrame:
    by_user = Window.partitionBy("user_idx")
    from_last = F.row_number().over(by_user.orderBy(F.col("ts").desc(), F.col("item_idx").desc()))
    return indexed.withColumn(
        "split",
        F.when(F.count(F.lit(1)).over(by_user) < min_history, "train")
        .when(from_last == 1, "test")
        .when(from_last == 2, "valid")
        .otherwise("train"),
    )


def _time(indexed: DataFrame, valid_days: int, test_days: int) -> DataFrame:
    latest = indexed.agg(F.max(F.col("ts").cast("long")).alias("_latest"))
    seconds = F.col("ts").cast("long")
    test_cut = F.col("_latest") - test_days * _DAY_SECONDS
    valid_cut = test_cut - valid_days * _DAY_SECONDS
    split = F.when(seconds > test_cut, "test").when(seconds > valid_cut, "valid").otherwise("train")
    return indexed.crossJoin(F.broadcast(latest)).withColumn("split", split)


def split_interactions(indexed: DataFrame, cfg: SplitConfig) -> DataFrame:
    if cfg.strategy == "leave_last_out":
        split = _leave_last_out(indexed, cfg.min_history_for_holdout)
    else:
        split = _time(indexed, cfg.valid_days, cfg.test_days)
    return conform(split, SPLITS)


def split_rows(splits: DataFrame, name: str) -> DataFrame:
    """The (user_idx, item_idx, ts, rating) rows of one split."""
    return splits.filter(F.col("split") == name).drop("split")
