"""Contiguous int32 indices for raw user and item ids.

Built from training interactions only (`transforms.splits.training_rows`): an id that occurs only
in valid or test rows gets no index, so the set of users and items the training side knows, and
every index, is the same whatever the held-out rows are. Per kind, `idx` runs 0..n-1 in ascending
`raw_id` order, so the same set of ids always gets the same indices. Built with the DataFrame API only (a global window), so it also runs under Spark
Connect; the window gathers the distinct ids of one kind in one partition, which is fine for
tens of millions of ids.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from schemas.tables import ID_MAPS
from transforms.tables import conform


def _index(ids: DataFrame, kind: str) -> DataFrame:
    return ids.distinct().select(
        F.lit(kind).alias("kind"),
        F.col("raw_id"),
        (F.row_number().over(Window.orderBy("raw_id")) - 1).alias("idx"),
    )


def build_id_maps(train: DataFrame) -> DataFrame:
    """id_maps of the users and items of `train` (raw-id interactions)."""
    users = _index(train.select(F.col("user_id").alias("raw_id")), "user")
    items = _index(train.select(F.col("item_id").alias("raw_id")), "item")
    return conform(users.unionByName(items), ID_MAPS)


def id_map(id_maps: DataFrame, kind: str) -> DataFrame:
    """One kind of `id_maps` as (<kind>_id, <kind>_idx)."""
    return id_maps.filter(F.col("kind") == kind).select(
        F.col("raw_id").alias(f"{kind}_id"), F.col("idx").alias(f"{kind}_idx")
    )


def with_indices(df: DataFrame, id_maps: DataFrame) -> DataFrame:
    """Replace user_id/item_id by user_idx/item_idx; rows whose ids are not mapped are dropped."""
    joined = df.join(id_map(id_maps, "user"), "user_id").join(id_map(id_maps, "item"), "item_id")
    return joined.drop("user_id", "item_id")
