"""Spark feature tables: thin wiring from warehouse Parquet through `transforms` and back."""

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import dagster as dg
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from dagster_project.assets.table_io import parquet_rows, read_spark, write_spark
from dagster_project.partitions import daily_partitions
from dagster_project.resources import FeaturesResource, SparkResource, WarehouseResource
from transforms.cleaning import (
    deduplicate_interactions,
    deduplicate_items,
    filter_k_core,
)
from transforms.config import FeatureConfig
from transforms.i2i import i2i_pairs
from transforms.id_maps import build_id_maps
from transforms.item_features import item_features
from transforms.review_bundles import review_bundles
from transforms.sequences import user_sequences
from transforms.splits import (
    assign_splits,
    indexed_splits,
    training_rows,
    users_held_out_by_tie,
)
from transforms.user_features import user_features

Inputs = Mapping[str, DataFrame]


def _train(inputs: Inputs) -> DataFrame:
    return inputs["features/splits"].where(F.col("split") == "train")


@dataclass(frozen=True)
class FeatureTable:
    name: str
    description: str
    inputs: tuple[str, ...]  # "<layer>/<table>" of the warehouse tables it reads
    build: Callable[[Inputs, FeatureConfig], DataFrame]
    # Extra numbers for the UI, computed on the table as written (and its inputs).
    summarize: Callable[[DataFrame, Inputs, FeatureConfig], dict] = field(default=lambda df, t, cfg: {})


FEATURE_TABLES = [
    FeatureTable(
        "clean_interactions",
        "One interaction per (user, item), the latest.",
        ("raw/interactions",),
        lambda t, cfg: deduplicate_interactions(t["raw/interactions"]),
    ),
    FeatureTable(
        "id_maps",
        "Contiguous int32 user_idx / item_idx for GPU embedding tables, of the users and items with a training interaction.",
        ("features/clean_interactions",),
        # The optional k-core runs on training rows, so held-out rows cannot decide who stays.
        lambda t, cfg: build_id_maps(
            filter_k_core(
                training_rows(assign_splits(t["features/clean_interactions"], cfg.split)), cfg.k_core, cfg.k_core_max_rounds
            )
        ),
        lambda df, t, cfg: {
            "users": df.where(F.col("kind") == "user").count(),
            "items": df.where(F.col("kind") == "item").count(),
        },
    ),
    FeatureTable(
        "splits",
        "Train / valid / test assignment of the clean interactions whose user and item are in id_maps.",
        ("features/clean_interactions", "features/id_maps"),
        lambda t, cfg: indexed_splits(assign_splits(t["features/clean_interactions"], cfg.split), t["features/id_maps"]),
        lambda df, t, cfg: {
            **{f"{row['split']}_rows": row["count"] for row in df.groupBy("split").count().collect()},
            # Held-out rows of a user or item with no training interaction, and train rows outside
            # the k-core (see indexed_splits).
            "rows_without_training_ids": t["features/clean_interactions"].count() - df.count(),
            "users_held_out_by_tie": users_held_out_by_tie(df),
        },
    ),
    FeatureTable(
        "user_features",
        "Per user: history length, cold flag, rating stats, activity span (train rows only).",
        ("features/splits", "features/id_maps"),
        lambda t, cfg: user_features(_train(t), t["features/id_maps"], cfg.cold_max_history),
        lambda df, t, cfg: {"cold_users": df.where("is_cold").count()},
    ),
    FeatureTable(
        "item_features",
        "Per item: popularity, long-tail flag, rating stats, review count, catalog fields.",
        ("features/splits", "features/id_maps", "raw/items", "raw/reviews"),
        lambda t, cfg: item_features(
            _train(t),
            t["features/id_maps"],
            deduplicate_items(t["raw/items"]),
            t["raw/reviews"],
            cfg.long_tail_quantile,
        ),
        lambda df, t, cfg: {
            "long_tail_items": df.where("is_long_tail").count(),
            "items_without_metadata": df.where(~F.col("has_metadata")).count(),
            "fallback_titles": df.where("title_is_fallback").count(),
        },
    ),
    FeatureTable(
        "user_sequences",
        "Per user: the last N training items and timestamps, oldest first.",
        ("features/splits",),
        lambda t, cfg: user_sequences(_train(t), cfg.sequence_length),
    ),
    FeatureTable(
        "i2i_pairs",
        "Top-K item neighbours by Swing and by co-occurrence on training interactions.",
        ("features/splits",),
        lambda t, cfg: i2i_pairs(_train(t), cfg.i2i),
        lambda df, t, cfg: {f"{row['method']}_pairs": row["count"] for row in df.groupBy("method").count().collect()},
    ),
    FeatureTable(
        "review_bundles",
        "Per user and per item: up to N reviews of training interactions, sampled deterministically.",
        ("raw/reviews", "features/id_maps", "features/splits"),
        lambda t, cfg: review_bundles(
            t["raw/reviews"], t["features/id_maps"], _train(t), cfg.max_reviews_per_entity, cfg.seed
        ),
        lambda df, t, cfg: {f"{row['entity_kind']}_bundles": row["count"] for row in df.groupBy("entity_kind").count().collect()},
    ),
]


def _feature_asset(table: FeatureTable) -> dg.AssetsDefinition:
    @dg.asset(
        name=table.name,
        key_prefix="features",
        group_name="features",
        description=table.description,
        deps=[dg.AssetKey(name.split("/")) for name in table.inputs],
        partitions_def=daily_partitions,
    )
    def _asset(
        context: dg.AssetExecutionContext,
        spark: SparkResource,
        warehouse: WarehouseResource,
        features: FeaturesResource,
    ) -> dg.MaterializeResult:
        started = time.monotonic()
        wh = warehouse.warehouse
        partition = context.partition_key
        session = spark.session
        inputs = {name: read_spark(session, wh, name, partition) for name in table.inputs}
        final = write_spark(table.build(inputs, features.config()), wh, f"features/{table.name}", partition)
        written = session.read.parquet(wh.to_uri(final))
        return dg.MaterializeResult(
            metadata={
                "rows": parquet_rows(wh, final),
                "path": dg.MetadataValue.path(final),
                "seconds": round(time.monotonic() - started, 2),
                **table.summarize(written, inputs, features.config()),
            }
        )

    return _asset


feature_assets = [_feature_asset(table) for table in FEATURE_TABLES]
