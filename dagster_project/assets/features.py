"""Spark feature tables: thin wiring from warehouse Parquet through `transforms` and back."""

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import dagster as dg
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from dagster_project.assets.table_io import asset_key, parquet_rows, read_spark, write_spark
from dagster_project.partitions import daily_partitions
from dagster_project.resources import FeaturesResource, SparkResource, WarehouseResource
from schemas.registry import Features, Raw, TableSpec
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

Inputs = Mapping[TableSpec, DataFrame]


def _train(inputs: Inputs) -> DataFrame:
    return inputs[Features.SPLITS].where(F.col("split") == "train")


@dataclass(frozen=True)
class FeatureTable:
    table: TableSpec
    description: str
    inputs: tuple[TableSpec, ...]  # the warehouse tables it reads
    build: Callable[[Inputs, FeatureConfig], DataFrame]
    # Extra numbers for the UI, computed on the table as written (and its inputs).
    summarize: Callable[[DataFrame, Inputs, FeatureConfig], dict] = field(default=lambda df, t, cfg: {})


FEATURE_TABLES = [
    FeatureTable(
        Features.CLEAN_INTERACTIONS,
        "One interaction per (user, item), the latest.",
        (Raw.INTERACTIONS,),
        lambda t, cfg: deduplicate_interactions(t[Raw.INTERACTIONS]),
    ),
    FeatureTable(
        Features.ID_MAPS,
        "Contiguous int32 user_idx / item_idx for GPU embedding tables, of the users and items with a training interaction.",
        (Features.CLEAN_INTERACTIONS,),
        # The optional k-core runs on training rows, so held-out rows cannot decide who stays.
        lambda t, cfg: build_id_maps(
            filter_k_core(
                training_rows(assign_splits(t[Features.CLEAN_INTERACTIONS], cfg.split)), cfg.k_core, cfg.k_core_max_rounds
            )
        ),
        lambda df, t, cfg: {
            "users": df.where(F.col("kind") == "user").count(),
            "items": df.where(F.col("kind") == "item").count(),
        },
    ),
    FeatureTable(
        Features.SPLITS,
        "Train / valid / test assignment of the clean interactions whose user and item are in id_maps.",
        (Features.CLEAN_INTERACTIONS, Features.ID_MAPS),
        lambda t, cfg: indexed_splits(assign_splits(t[Features.CLEAN_INTERACTIONS], cfg.split), t[Features.ID_MAPS]),
        lambda df, t, cfg: {
            **{f"{row['split']}_rows": row["count"] for row in df.groupBy("split").count().collect()},
            # Held-out rows of a user or item with no training interaction, and train rows outside
            # the k-core (see indexed_splits).
            "rows_without_training_ids": t[Features.CLEAN_INTERACTIONS].count() - df.count(),
            "users_held_out_by_tie": users_held_out_by_tie(df),
        },
    ),
    FeatureTable(
        Features.USER_FEATURES,
        "Per user: history length, cold flag, rating stats, activity span (train rows only).",
        (Features.SPLITS, Features.ID_MAPS),
        lambda t, cfg: user_features(_train(t), t[Features.ID_MAPS], cfg.cold_max_history),
        lambda df, t, cfg: {"cold_users": df.where("is_cold").count()},
    ),
    FeatureTable(
        Features.ITEM_FEATURES,
        "Per item: popularity, long-tail flag, rating stats, review count, catalog fields.",
        (Features.SPLITS, Features.ID_MAPS, Raw.ITEMS, Raw.REVIEWS),
        lambda t, cfg: item_features(
            _train(t),
            t[Features.ID_MAPS],
            deduplicate_items(t[Raw.ITEMS]),
            t[Raw.REVIEWS],
            cfg.long_tail_quantile,
        ),
        lambda df, t, cfg: {
            "long_tail_items": df.where("is_long_tail").count(),
            "items_without_metadata": df.where(~F.col("has_metadata")).count(),
            "fallback_titles": df.where("title_is_fallback").count(),
        },
    ),
    FeatureTable(
        Features.USER_SEQUENCES,
        "Per user: the last N training items and timestamps, oldest first.",
        (Features.SPLITS,),
        lambda t, cfg: user_sequences(_train(t), cfg.sequence_length),
    ),
    FeatureTable(
        Features.I2I_PAIRS,
        "Top-K item neighbours by Swing and by co-occurrence on training interactions.",
        (Features.SPLITS,),
        lambda t, cfg: i2i_pairs(_train(t), cfg.i2i),
        lambda df, t, cfg: {f"{row['method']}_pairs": row["count"] for row in df.groupBy("method").count().collect()},
    ),
    FeatureTable(
        Features.REVIEW_BUNDLES,
        "Per user and per item: up to N reviews of training interactions, sampled deterministically.",
        (Raw.REVIEWS, Features.ID_MAPS, Features.SPLITS),
        lambda t, cfg: review_bundles(
            t[Raw.REVIEWS], t[Features.ID_MAPS], _train(t), cfg.max_reviews_per_entity, cfg.seed
        ),
        lambda df, t, cfg: {f"{row['entity_kind']}_bundles": row["count"] for row in df.groupBy("entity_kind").count().collect()},
    ),
]


def _feature_asset(table: FeatureTable) -> dg.AssetsDefinition:
    @dg.asset(
        key=asset_key(table.table),
        group_name="features",
        description=table.description,
        deps=[asset_key(spec) for spec in table.inputs],
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
        inputs = {spec: read_spark(session, wh, spec, partition) for spec in table.inputs}
        final = write_spark(table.build(inputs, features.config()), wh, table.table, partition)
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
