"""Train / valid / test assignment of clean interactions, on raw ids.

The split comes first, before any id is indexed, so that nothing on the training side (which ids
exist, their indices, every feature) depends on valid or test rows (DESIGN.md, the held-out rule).

- leave_last_out: per user, interactions ordered by (ts, tie-break); the last is "test", the one
  before "valid", the rest "train". The tie-break between interactions of one user at the same
  ts (day-resolution sources have many) is the MD5 of "seed:user_id:item_id", so no item wins a
  tie for having a high id, and any engine (DuckDB, Python) reproduces the order. Users with fewer than `min_history_for_holdout`
  interactions keep everything in train. Holdout rows are never older than the user's train rows.
- time: with T the latest ts overall, rows with ts > T - test_days are "test", rows with
  T - test_days - valid_days < ts <= T - test_days are "valid", the rest "train"; so every train ts
  is before every valid ts, which is before every test ts.
Every input row appears exactly once.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from schemas.tables import SPLITS
from transforms.config import SplitConfig
from transforms.id_maps import with_indices
from transforms.tables import conform

_DAY_SECONDS = 86_400


def tie_break(seed: int) -> Column:
    """The leave-last-out order among one user's interactions with equal ts."""
    return F.md5(F.concat_ws(":", F.lit(str(seed)), F.col("user_id"), F.col("item_id")))


def _leave_last_out(clean: DataFrame, min_history: int, seed: int) -> DataFrame:
    by_user = Window.partitionBy("user_id")
    from_last = F.row_number().over(by_user.orderBy(F.col("ts").desc(), tie_break(seed).desc()))
    return clean.withColumn(
        "split",
        F.when(F.count(F.lit(1)).over(by_user) < min_history, "train")
        .when(from_last == 1, "test")
        .when(from_last == 2, "valid")
        .otherwise("train"),
    )


def _time(clean: DataFrame, valid_days: int, test_days: int) -> DataFrame:
    latest = clean.agg(F.max(F.col("ts").cast("long")).alias("_latest"))
    seconds = F.col("ts").cast("long")
    test_cut = F.col("_latest") - test_days * _DAY_SECONDS
    valid_cut = test_cut - valid_days * _DAY_SECONDS
    split = F.when(seconds > test_cut, "test").when(seconds > valid_cut, "valid").otherwise("train")
    return clean.crossJoin(F.broadcast(latest)).withColumn("split", split).drop("_latest")


def assign_splits(clean: DataFrame, cfg: SplitConfig) -> DataFrame:
    """Clean interactions (raw ids) with a `split` column."""
    if cfg.strategy == "leave_last_out":
        return _leave_last_out(clean, cfg.min_history_for_holdout, cfg.seed)
    return _time(clean, cfg.valid_days, cfg.test_days)


def training_rows(assigned: DataFrame) -> DataFrame:
    """The train rows of `assign_splits`' output: all that id_maps may be built from."""
    return assigned.filter(F.col("split") == "train")


def indexed_splits(assigned: DataFrame, id_maps: DataFrame) -> DataFrame:
    """`assign_splits`' rows as SPLITS. A held-out row whose user or item has no training
    interaction is not in id_maps and is dropped: no model trained on the training side can
    score it."""
    return conform(with_indices(assigned, id_maps), SPLITS)


def users_held_out_by_tie(splits: DataFrame) -> int:
    """Users whose test or valid row shares its ts with the row before it in their order: the
    tie-break, not time, decided what they hold out."""
    at = lambda name: F.max(F.when(F.col("split") == name, F.col("ts")))  # noqa: E731
    per_user = splits.groupBy("user_idx").agg(at("test").alias("test"), at("valid").alias("valid"), at("train").alias("train"))
    return per_user.filter((F.col("test") == F.col("valid")) | (F.col("valid") == F.col("train"))).count()


def split_rows(splits: DataFrame, name: str) -> DataFrame:
    """The (user_idx, item_idx, ts, rating) rows of one split."""
    return splits.filter(F.col("split") == name).drop("split")
