"""ReFORM assets (arXiv 2603.16236): factor-specific user and item profiles from reviews, each
factor embedded by the text encoder, and user_features joined with them for publication."""

from collections.abc import Callable, Sequence

import dagster as dg
import pyarrow as pa
from pyspark.sql import functions as F

from dagster_project.assets.llm_tasks import daily_asset, job_metadata, run_llm_step, spark_prompt_inputs
from dagster_project.assets.table_io import read_arrow, read_spark, write_arrow
from dagster_project.llm_resource import LLMEngineResource
from dagster_project.resources import (
    ReformResource,
    SparkResource,
    TextEncoderResource,
    WarehouseResource,
)
from llm_jobs.factor_sets import EntityKind
from llm_jobs.reform_profiles import augmented_metadata, embedded_profiles, profile_metadata
from llm_jobs.tasks.reform import ReviewBudget, profile_schema, profile_step, profile_task, review_packing
from schemas.registry import Features, Llm, TableSpec
from transforms.augmented_features import augment_user_features
from transforms.knowledge_inputs import ReviewPacking, profile_prompt_rows

GROUP = "llm_reform"
#: The feature tables joined with the LLM outputs: the sources of the published feature sets.
AUGMENTED_GROUP = "llm_features"

PROFILE_TABLES = {"user": Llm.REFORM_USER_PROFILES, "item": Llm.REFORM_ITEM_PROFILES}


def _profile_asset(kind: EntityKind) -> dg.AssetsDefinition:
    table = PROFILE_TABLES[kind]

    @daily_asset(
        table,
        GROUP,
        [Features.REVIEW_BUNDLES],
        f"ReFORM: per {kind} (the ones with the most reviews, up to the `reform` resource's cap), 0-5 short "
        "phrases per factor of the domain's factor set, and each factor's text embedded: an (F x D) array "
        "with a mask bit per factor (a zero vector where the factor is empty).",
    )
    def _asset(
        context: dg.AssetExecutionContext,
        spark: SparkResource,
        warehouse: WarehouseResource,
        llm: LLMEngineResource,
        reform: ReformResource,
        text_encoder: TextEncoderResource,
    ) -> dg.MaterializeResult:
        wh, partition, cfg = warehouse.warehouse, context.partition_key, reform.config()
        factor_set = reform.factor_set()
        step = profile_step(profile_task(factor_set, kind))
        bundles = read_spark(spark.session, wh, Features.REVIEW_BUNDLES, partition)
        budget = ReviewBudget(cfg.context_tokens, cfg.chars_per_token, max_review_tokens=cfg.max_review_tokens)
        packing = ReviewPacking(**review_packing(step.task, budget))
        rows = profile_prompt_rows(bundles, kind, cfg.users if kind == "user" else cfg.items, packing)
        inputs = spark_prompt_inputs(rows, wh, step.task, partition)
        prompted = inputs.num_rows(wh)
        metadata: dict = {
            "domain": factor_set.domain,
            "factor_set_fingerprint": factor_set.fingerprint,
            "factors": len(factor_set.names),
            f"{kind}s_with_reviews": bundles.where(F.col("entity_kind") == kind).count(),
            "entities_prompted": prompted,
        }
        # Nothing prompted: no job runs (an earlier run's outputs are not read back).
        profiles = profile_schema(factor_set.names).empty_table()
        if prompted:
            run = run_llm_step(llm, wh, step, inputs, partition)
            profiles, metadata = run.rows, metadata | job_metadata(run.job)
        profiled, encoding = embedded_profiles(profiles, f"{kind}_idx", factor_set, text_encoder.encoder())
        path = write_arrow(profiled, wh, table, partition)
        return dg.MaterializeResult(
            metadata={
                **metadata,
                **encoding,
                **profile_metadata(profiles, factor_set),
                "path": dg.MetadataValue.path(path),
            }
        )

    return _asset


reform_user_profiles = _profile_asset("user")
reform_item_profiles = _profile_asset("item")


def augmented_features_asset(
    table: TableSpec,
    inputs: Sequence[TableSpec],
    description: str,
    augment: Callable[..., pa.Table],
    summarize: Callable[[pa.Table], dict] = augmented_metadata,
) -> dg.AssetsDefinition:
    """The asset of `table`: `augment(*inputs, factor names, encoder dimension)` and `summarize` of it."""

    @daily_asset(table, AUGMENTED_GROUP, inputs, description)
    def _asset(
        context: dg.AssetExecutionContext,
        warehouse: WarehouseResource,
        reform: ReformResource,
        text_encoder: TextEncoderResource,
    ) -> dg.MaterializeResult:
        wh, partition = warehouse.warehouse, context.partition_key
        tables = [read_arrow(wh, spec, partition) for spec in inputs]
        augmented = augment(*tables, reform.factor_set().names, text_encoder.dimension)
        path = write_arrow(augmented, wh, table, partition)
        return dg.MaterializeResult(metadata={**summarize(augmented), "path": dg.MetadataValue.path(path)})

    return _asset


user_features_augmented = augmented_features_asset(
    Llm.USER_FEATURES_AUGMENTED,
    (Features.USER_FEATURES, Llm.REFORM_USER_PROFILES),
    "features/user_features with each user's ReFORM profile: phrases per factor, (F x D) factor embeddings "
    "and mask; users not profiled get empty lists, zero vectors and all-False masks. Published as user_features.",
    augment_user_features,
)


reform_assets = [reform_user_profiles, reform_item_profiles, user_features_augmented]
